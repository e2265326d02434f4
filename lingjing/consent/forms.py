from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from lingjing.consent.cookies import OPTIONAL_CATEGORIES


class CookieChoiceForm(forms.Form):
    """The banner and the cookie page post the same form; without JavaScript it is a plain POST."""

    choice = forms.ChoiceField(choices=[("accept_all", "accept_all"), ("reject_all", "reject_all"),
                                        ("save", "save")], required=False)
    categories = forms.MultipleChoiceField(choices=[(c, c) for c in OPTIONAL_CATEGORIES], required=False)
    next = forms.CharField(required=False, max_length=2000)
    source = forms.ChoiceField(choices=[("banner", "banner"), ("settings", "settings")], required=False)

    def granted(self) -> set[str]:
        choice = self.cleaned_data.get("choice") or "save"
        if choice == "accept_all":
            return set(OPTIONAL_CATEGORIES)
        if choice == "reject_all":
            return set()
        return set(self.cleaned_data.get("categories") or [])


class ConsentToggleForm(forms.Form):
    purpose = forms.SlugField(max_length=80)
    granted = forms.TypedChoiceField(choices=[("1", "1"), ("0", "0")], coerce=lambda v: v == "1")


class PublishPolicyForm(forms.Form):
    summary_zh = forms.CharField(label=_("变更摘要（中文）"), widget=forms.Textarea, max_length=4000)
    summary_en = forms.CharField(label=_("变更摘要（英文）"), widget=forms.Textarea, max_length=4000,
                                 required=False)
    material = forms.BooleanField(label=_("实质性变更（减损用户权利，需提前通知并请用户确认）"), required=False)


class AcceptPolicyForm(forms.Form):
    version = forms.IntegerField(min_value=1)
    next = forms.CharField(required=False, max_length=2000)
