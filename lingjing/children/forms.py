from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _


class AccessRequestForm(forms.Form):
    child = forms.CharField(label=_("儿童账号"), help_text=_("用户 ID 或手机号码"))
    purpose = forms.CharField(label=_("查看用途"), widget=forms.Textarea(attrs={"rows": 3}),
                              help_text=_("具体写明为什么需要查看，例如处理哪一张工单"))
    hours = forms.IntegerField(label=_("有效小时数"), min_value=1, initial=4)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["hours"].max_value = settings.LINGJING_CHILD_ACCESS_MAX_HOURS  # type: ignore[attr-defined]

    def clean_child(self) -> Any:
        from lingjing.accounts.phone import InvalidPhone

        value = self.cleaned_data["child"].strip()
        user_model = get_user_model()
        user = None
        try:
            user = user_model.objects.filter(pk=uuid.UUID(value)).first()
        except ValueError:
            try:
                user = user_model.objects.get_by_phone(value)
            except InvalidPhone:
                user = None
        if user is None:
            raise forms.ValidationError(_("找不到该账号"))
        return user


class DecideForm(forms.Form):
    decision = forms.ChoiceField(label=_("审批"), choices=[("approve", _("批准")), ("reject", _("拒绝"))])
    note = forms.CharField(label=_("审批意见"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class VerifyForm(forms.Form):
    code = forms.CharField(label=_("短信验证码"), min_length=6, max_length=6)


class GuardianCorrectionForm(forms.Form):
    nickname = forms.CharField(label=_("昵称"), max_length=20, required=False)
    birth_date = forms.DateField(label=_("出生日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean_birth_date(self) -> dt.date | None:
        value: dt.date | None = self.cleaned_data.get("birth_date")
        return value
