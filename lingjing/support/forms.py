from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from lingjing.support.convert import REQUEST_TYPES
from lingjing.support.models import CATEGORY_EN, RESOLUTION_EN, ContactKind, Resolution, TicketCategory
from lingjing.support.uploads import MAX_PER_MESSAGE


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class ScreenshotsField(forms.FileField):
    """Up to ``MAX_PER_MESSAGE`` image files; their content is checked by ``support.uploads``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/png,image/jpeg,image/webp,image/gif"}))
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        items = data if isinstance(data, list | tuple) else ([data] if data else [])
        if len(items) > MAX_PER_MESSAGE:
            raise ValidationError(f"每条消息最多附 {MAX_PER_MESSAGE} 张截图")
        return [super(ScreenshotsField, self).clean(item, initial) for item in items]


def _category_choices(lang: str) -> list[tuple[str, str]]:
    return [(c.value, CATEGORY_EN[c] if lang == "en" else str(c.label)) for c in TicketCategory]


class NewTicketForm(forms.Form):
    category = forms.ChoiceField(label=_("问题类别"))
    title = forms.CharField(label=_("标题"), max_length=120)
    body = forms.CharField(label=_("问题描述"), max_length=5000, widget=forms.Textarea(attrs={"rows": 6}))
    screenshots = ScreenshotsField(label=_("截图（可选，最多 4 张）"))
    contact_kind = forms.ChoiceField(
        label=_("联系方式"), required=False,
        choices=[(ContactKind.PHONE, _("手机号码")), (ContactKind.EMAIL, _("电子邮箱"))],
        widget=forms.RadioSelect,
    )
    contact = forms.CharField(label=_("手机号码或电子邮箱"), max_length=254, required=False)

    def __init__(self, *args: Any, visitor: bool, lang: str = "zh", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.visitor = visitor
        self.fields["category"].choices = _category_choices(lang)  # type: ignore[attr-defined]
        if visitor:
            self.fields["contact_kind"].required = True
            self.fields["contact"].required = True
            self.fields["contact"].help_text = _("提交后我们会向它发送验证码，确认后工单才会受理")
        else:
            del self.fields["contact_kind"]
            del self.fields["contact"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.visitor or not data.get("contact"):
            return data
        kind = data.get("contact_kind")
        try:
            if kind == ContactKind.PHONE:
                from lingjing.accounts.phone import InvalidPhone, normalise_phone

                try:
                    data["contact"] = normalise_phone(data["contact"])
                except InvalidPhone as exc:
                    raise ValidationError(str(exc)) from None
            elif kind == ContactKind.EMAIL:
                from lingjing.notify.actions import normalise_email

                data["contact"] = normalise_email(data["contact"])
        except ValidationError as exc:
            self.add_error("contact", exc)
        return data


class CodeForm(forms.Form):
    code = forms.CharField(label=_("验证码"), min_length=6, max_length=6,
                           widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}))


class ReplyForm(forms.Form):
    body = forms.CharField(label=_("回复"), max_length=5000, widget=forms.Textarea(attrs={"rows": 4}))
    screenshots = ScreenshotsField(label=_("截图（可选）"))


class AgentReplyForm(forms.Form):
    body = forms.CharField(label=_("内容"), max_length=5000, widget=forms.Textarea(attrs={"rows": 5}))
    internal = forms.BooleanField(label=_("内部备注（用户看不到）"), required=False)
    screenshots = ScreenshotsField(label=_("截图（可选）"))


class ResolveForm(forms.Form):
    resolution = forms.ChoiceField(label=_("处理结果"))
    note = forms.CharField(label=_("处理说明（用户可见）"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, lang: str = "zh", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["resolution"].choices = [  # type: ignore[attr-defined]
            (r.value, RESOLUTION_EN[r] if lang == "en" else str(r.label)) for r in Resolution
        ]


class ConvertForm(forms.Form):
    request_type = forms.ChoiceField(label=_("权利请求类型"), choices=[(t, t) for t in REQUEST_TYPES])


class AssignForm(forms.Form):
    assignee = forms.ChoiceField(label=_("分配给"))

    def __init__(self, *args: Any, agents: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [(str(a.pk), str(a)) for a in agents]  # type: ignore[attr-defined]
