"""Registration, shared by the page and the API: only a phone number is needed (policy 一(一)), plus the nickname
shown on the profile, the date of birth that decides the children's rule, and an optional password.

Order matters: every input is validated before the code is checked, so a typo in the nickname does not burn the
code; the code is consumed before the account is written (``do_register_user``), so a code serves one account.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils import timezone

from lingjing.accounts.codes import RateLimited, SmsUnavailable, check_code
from lingjing.accounts.models import CodePurpose, User
from lingjing.accounts.phone import InvalidPhone, normalise_phone
from lingjing.accounts.policy import is_child_birth_date, parse_birth_date
from lingjing.accounts.validators import clean_nickname, nickname_key
from lingjing.core.ratelimit import client_ip
from lingjing.security.crypto import blind_index

log = logging.getLogger("lingjing.accounts")


class RegistrationError(Exception):
    def __init__(self, field: str, code: str, message: str, *, status: int = 422) -> None:
        super().__init__(message)
        self.field = field
        self.code = code
        self.message = message
        self.status = status


def clean_birth_date(raw: str | dt.date | None) -> dt.date:
    birth = parse_birth_date(raw)
    if birth is None:
        raise RegistrationError("birth_date", "invalid_birth_date", "请填写有效的出生日期（YYYY-MM-DD）")
    today = timezone.localdate()
    if birth > today or birth.year < today.year - 120:
        raise RegistrationError("birth_date", "invalid_birth_date", "请填写真实的出生日期")
    return birth


def check_password_rules(password: str) -> None:
    """Django's validators from settings: at least 8, at most 128 characters, not a common password."""
    try:
        validate_password(password)
    except ValidationError as exc:
        raise RegistrationError("password", "weak_password", "；".join(exc.messages)) from None


def register(
    request: HttpRequest | None, *, phone: str, code: str, nickname: str, birth_date: str | dt.date | None,
    password: str | None = None, guardian_phone: str | None = None,
) -> User:
    from lingjing.accounts.actions import NicknameTaken, PhoneTaken, do_register_user
    from lingjing.accounts.guardian import send_guardian_code

    try:
        e164 = normalise_phone(phone)
    except InvalidPhone as exc:
        raise RegistrationError("phone", "invalid_phone", str(exc)) from None
    try:
        nickname = clean_nickname(nickname)
    except ValidationError as exc:
        raise RegistrationError("nickname", exc.code or "invalid_nickname", exc.messages[0]) from None
    birth = clean_birth_date(birth_date)
    if password:
        check_password_rules(password)
    child = is_child_birth_date(birth)
    guardian_e164 = None
    if child:
        if not guardian_phone:
            raise RegistrationError("guardian_phone", "guardian_required", "未满 14 周岁需要填写监护人的手机号")
        try:
            guardian_e164 = normalise_phone(guardian_phone)
        except InvalidPhone as exc:
            raise RegistrationError("guardian_phone", "invalid_phone", f"监护人手机号：{exc}") from None
        if guardian_e164 == e164:
            raise RegistrationError("guardian_phone", "guardian_same_phone", "监护人手机号不能与注册手机号相同")
    if User.objects.filter(nickname_key=nickname_key(nickname)).exists():
        raise RegistrationError("nickname", "nickname_taken", "这个昵称已被使用，请换一个", status=409)
    if not check_code(e164, CodePurpose.REGISTER, code).ok:
        raise RegistrationError("code", "invalid_code", "验证码错误或已失效，请重新获取", status=400)
    if User.objects.filter(phone_index=blind_index(e164)).exists():
        raise RegistrationError("phone", "phone_taken", "该手机号已注册，请直接登录", status=409)
    try:
        user = do_register_user(
            phone=e164, nickname=nickname, birth_date=birth, password=password or None,
            guardian_phone=guardian_e164, request=request,
        )
    except NicknameTaken:
        raise RegistrationError("nickname", "nickname_taken", "这个昵称已被使用，请换一个", status=409) from None
    except PhoneTaken:
        raise RegistrationError("phone", "phone_taken", "该手机号已注册，请直接登录", status=409) from None
    if guardian_e164:
        try:
            send_guardian_code(guardian_e164, ip=client_ip(request) if request else "", child_nickname=nickname)
        except (RateLimited, SmsUnavailable):
            # The request stands; the guardian can ask for a code on the guardian page.
            log.warning("guardian SMS not sent at registration (rate limit or provider)")
    return user
