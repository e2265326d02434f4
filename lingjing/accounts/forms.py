"""Page forms: input parsing and Chinese field errors. Writes happen in actions, not here."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from lingjing.accounts.phone import InvalidPhone, normalise_phone
from lingjing.accounts.validators import clean_nickname


class PhoneField(forms.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", _("手机号"))
        kwargs.setdefault("max_length", 32)
        super().__init__(**kwargs)
        self.widget.attrs.update({"inputmode": "tel", "autocomplete": "tel", "placeholder": "138 0013 8000"})

    def clean(self, value: Any) -> str:
        raw = super().clean(value)
        if not raw:
            return ""
        try:
            return normalise_phone(raw)
        except InvalidPhone as exc:
            raise forms.ValidationError(str(exc)) from None


class CodeField(forms.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", _("短信验证码"))
        kwargs.setdefault("max_length", 6)
        kwargs.setdefault("min_length", 6)
        super().__init__(**kwargs)
        self.widget.attrs.update({"inputmode": "numeric", "autocomplete": "one-time-code", "pattern": "[0-9]{6}"})


class PhoneForm(forms.Form):
    phone = PhoneField()


class RegisterForm(forms.Form):
    code = CodeField()
    nickname = forms.CharField(label=_("昵称"), max_length=40, help_text=_("2–20 个字符，将显示在您的主页和作品上"))
    birth_date = forms.DateField(label=_("出生日期"), widget=forms.DateInput(attrs={"type": "date"}),
                                 help_text=_("未满 14 周岁的用户需要监护人同意"))
    password = forms.CharField(label=_("密码（可选）"), required=False, strip=False, max_length=200,
                               widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                               help_text=_("至少 8 位，建议使用较长的短语；不设置也可以用短信验证码登录"))
    guardian_phone = PhoneField(label=_("监护人手机号（未满 14 周岁必填）"), required=False)
    accept_policy = forms.BooleanField(label=_("我已阅读并同意《隐私政策》"), required=True,
                                       error_messages={"required": _("请阅读并同意隐私政策")})

    def clean_nickname(self) -> str:
        try:
            return clean_nickname(self.cleaned_data["nickname"])
        except forms.ValidationError:
            raise
        except Exception as exc:  # pragma: no cover - clean_nickname raises ValidationError only
            raise forms.ValidationError(str(exc)) from None


class PasswordLoginForm(forms.Form):
    phone = PhoneField()
    password = forms.CharField(label=_("密码"), strip=False, max_length=200,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


class CodeLoginForm(forms.Form):
    phone = PhoneField()
    code = CodeField(required=False)


class TotpForm(forms.Form):
    totp = forms.CharField(label=_("动态码"), max_length=8,
                           widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}))


class NicknameForm(forms.Form):
    nickname = forms.CharField(label=_("昵称"), max_length=40)

    def clean_nickname(self) -> str:
        return clean_nickname(self.cleaned_data["nickname"])


class AvatarForm(forms.Form):
    file = forms.FileField(label=_("头像图片"), help_text=_("PNG、JPEG、WebP 或 GIF，不超过 5 MB"))


class ChangePasswordForm(forms.Form):
    old_password = forms.CharField(label=_("当前密码"), strip=False, required=False, max_length=200,
                                   widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
    new_password = forms.CharField(label=_("新密码"), strip=False, max_length=200,
                                   widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                                   help_text=_("至少 8 位，最多 128 位；建议使用容易记住的长句子，不要使用常见密码"))


class VerifyForm(forms.Form):
    code = forms.CharField(label=_("验证码"), max_length=8,
                           widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}))


class NewPhoneForm(forms.Form):
    phone = PhoneField(label=_("新手机号"))


class GuardianCodeForm(forms.Form):
    code = CodeField()
