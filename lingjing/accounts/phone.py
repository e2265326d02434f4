"""Phone numbers: parsed with phonenumbers, mainland China by default, stored as E.164."""

from __future__ import annotations

import phonenumbers


class InvalidPhone(ValueError):
    """Raised with a Chinese message fit to show the user."""


def normalise_phone(raw: str, region: str = "CN") -> str:
    """E.164 form of a phone number the user typed (``138 0013 8000`` → ``+8613800138000``)."""
    text = (raw or "").strip()
    if not text or len(text) > 32:
        raise InvalidPhone("请输入有效的手机号码")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidPhone("请输入有效的手机号码") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("请输入有效的手机号码")
    kind = phonenumbers.number_type(number)
    if kind not in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        raise InvalidPhone("请使用手机号码")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def mask_phone(e164: str | None) -> str:
    """``+8613800138000`` → ``138****8000`` (mainland), other countries keep their code."""
    if not e164:
        return ""
    if e164.startswith("+86") and len(e164) == 14:
        national = e164[3:]
        return f"{national[:3]}****{national[-4:]}"
    return f"{e164[:4]}****{e164[-4:]}"
