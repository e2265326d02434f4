from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from lingjing.decisions.actions import REASON_MAX_CHARS
from lingjing.decisions.models import DecisionKind


class ReviewForm(forms.Form):
    reason = forms.CharField(
        label=_("申请复核的理由"), max_length=REASON_MAX_CHARS, widget=forms.Textarea(attrs={"rows": 4})
    )


class ChoiceForm(forms.Form):
    kind = forms.ChoiceField(choices=DecisionKind.choices)
    refuse = forms.TypedChoiceField(choices=[("1", _("拒绝")), ("0", _("接受"))], coerce=lambda v: v == "1")


class ResolveForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("复核结论"), choices=[("uphold", _("维持原决定")), ("overturn", _("撤销原决定"))]
    )
    reason = forms.CharField(label=_("复核理由（当事人可见）"), widget=forms.Textarea(attrs={"rows": 4}))
