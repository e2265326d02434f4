from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from lingjing.privacy.registry import CATEGORIES
from lingjing.secops.models import AccessPurpose, IncidentKind, IncidentLevel, IncidentScope


class TotpForm(forms.Form):
    totp = forms.CharField(label=_("身份验证器动态码"), max_length=8, widget=forms.TextInput(
        attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}))


class TrainingForm(forms.Form):
    confirm = forms.BooleanField(label=_("我已阅读并理解上述隐私与安全要求，并将遵守"), required=True)


class PurposeForm(forms.Form):
    purpose = forms.ChoiceField(label=_("查看用途"), choices=AccessPurpose.choices)
    reference = forms.CharField(label=_("关联编号（工单、请求或事件编号）"), max_length=64, required=False)
    reason = forms.CharField(label=_("具体说明"), max_length=1000, widget=forms.Textarea(attrs={"rows": 3}))


class LookupForm(forms.Form):
    q = forms.CharField(label=_("手机号或用户编号"), max_length=64)


def _local(value: Any) -> Any:
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M") if value else value


class IncidentForm(forms.Form):
    title = forms.CharField(label=_("标题"), max_length=120)
    kind = forms.ChoiceField(label=_("事件类型"), choices=IncidentKind.choices)
    level = forms.ChoiceField(label=_("事件级别"), choices=IncidentLevel.choices)
    scope = forms.ChoiceField(label=_("影响范围"), choices=IncidentScope.choices)
    systems = forms.MultipleChoiceField(label=_("涉及系统"), choices=(), widget=forms.CheckboxSelectMultiple,
                                        required=False)
    categories = forms.MultipleChoiceField(
        label=_("涉及的个人信息类别"), required=False, widget=forms.CheckboxSelectMultiple,
        choices=[(cid, c.label.zh) for cid, c in CATEGORIES.items()],
    )
    discovered_at = forms.DateTimeField(label=_("发现时间"),
                                        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    occurred_from = forms.DateTimeField(label=_("发生时间（起）"),
                                        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    occurred_to = forms.DateTimeField(label=_("发生时间（止）"),
                                      widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    summary = forms.CharField(label=_("事件经过"), widget=forms.Textarea(attrs={"rows": 3}))
    impact = forms.CharField(label=_("可能造成的危害"), widget=forms.Textarea(attrs={"rows": 2}))
    measures = forms.CharField(label=_("已采取的处置措施"), widget=forms.Textarea(attrs={"rows": 2}))
    advice = forms.CharField(label=_("个人可采取的防范措施"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    remedies = forms.CharField(label=_("补救措施"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    cause = forms.CharField(label=_("初步原因分析"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from lingjing.secops.incidents import system_choices

        super().__init__(*args, **kwargs)
        self.fields["systems"].choices = system_choices()  # type: ignore[attr-defined]
        if not self.is_bound:
            now = timezone.now()
            for name in ("discovered_at", "occurred_from", "occurred_to"):
                self.initial.setdefault(name, _local(now))
