from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from lingjing.notify.models import CATEGORY_EN, CHANNEL_EN, MANDATORY, Category, Channel


class ChannelsForm(forms.Form):
    """One multiple choice per category; the inbox of mandatory categories cannot be unticked."""

    language = forms.ChoiceField(label=_("通知语言"), choices=[("zh-hans", "简体中文"), ("en", "English")])

    def __init__(self, *args: Any, available: list[str], lang: str = "zh", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        en = lang == "en"
        choices = [(c, CHANNEL_EN[c] if en else str(Channel(c).label)) for c in Channel.values if c in available]
        for category in Category.values:
            label = CATEGORY_EN[category] if en else str(Category(category).label)
            self.fields[f"ch_{category}"] = forms.MultipleChoiceField(
                label=label, choices=choices, required=False, widget=forms.CheckboxSelectMultiple
            )

    def channels(self, category: str) -> list[str]:
        chosen = list(self.cleaned_data.get(f"ch_{category}") or [])
        if category in MANDATORY and Channel.INBOX not in chosen:
            chosen.insert(0, Channel.INBOX)  # a disabled checkbox is not submitted: it stays on
        return chosen


class EmailForm(forms.Form):
    email = forms.CharField(label=_("通知邮箱"), max_length=254, required=False,
                            widget=forms.EmailInput(attrs={"autocomplete": "email"}))


class CodeForm(forms.Form):
    code = forms.CharField(label=_("邮箱验证码"), min_length=6, max_length=6,
                           widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}))
