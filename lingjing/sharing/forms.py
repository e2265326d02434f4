from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from lingjing.privacy.registry import CATEGORIES, PURPOSES
from lingjing.sharing.models import Recipient, RecipientKind


class ConsentForm(forms.Form):
    granted = forms.TypedChoiceField(choices=[("1", _("同意")), ("0", _("撤回"))], coerce=lambda v: v == "1")


class LegalRequestForm(forms.Form):
    authority = forms.ModelChoiceField(
        label=_("国家机关"), queryset=Recipient.objects.filter(kind=RecipientKind.AUTHORITY, active=True),
        help_text=_("先在控制台的“信息接收方”中登记该机关"),
    )
    reference_no = forms.CharField(label=_("文书编号"), max_length=120)
    document_kind = forms.CharField(label=_("文书类型"), max_length=120, help_text=_("例如：调取证据通知书"))
    legal_basis_text = forms.CharField(label=_("法律依据"), widget=forms.Textarea(attrs={"rows": 3}))
    purpose = forms.ChoiceField(
        label=_("处理目的"), choices=[(k, v.zh) for k, v in PURPOSES.items()], initial="compliance"
    )
    categories = forms.MultipleChoiceField(
        label=_("调取的个人信息种类"), choices=[(k, c.label.zh) for k, c in CATEGORIES.items()],
        widget=forms.CheckboxSelectMultiple,
    )
    people = forms.CharField(
        label=_("当事人"), widget=forms.Textarea(attrs={"rows": 3}), help_text=_("每行一个手机号码或用户 ID")
    )
    confidential_days = forms.IntegerField(label=_("保密天数"), min_value=0, max_value=3650, initial=0)

    def clean_people(self) -> list[Any]:
        from lingjing.accounts.phone import InvalidPhone

        user_model = get_user_model()
        found: list[Any] = []
        missing: list[str] = []
        for line in self.cleaned_data["people"].splitlines():
            value = line.strip()
            if not value:
                continue
            user = None
            try:
                user = user_model.objects.filter(pk=uuid.UUID(value)).first()
            except ValueError:  # not a user id: try it as a phone number
                user = None
            if user is None:
                try:
                    user = user_model.objects.get_by_phone(value)
                except InvalidPhone:
                    user = None
            if user is None:
                missing.append(value)
            else:
                found.append(user)
        if missing:
            raise forms.ValidationError(_("找不到这些当事人：%(who)s") % {"who": "、".join(missing)})
        if not found:
            raise forms.ValidationError(_("请至少填写一名当事人"))
        return found


class DecideForm(forms.Form):
    decision = forms.ChoiceField(label=_("审批"), choices=[("approve", _("批准并提供")), ("reject", _("拒绝"))])
    note = forms.CharField(label=_("审批意见"), widget=forms.Textarea(attrs={"rows": 3}))
