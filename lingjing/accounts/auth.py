"""Sign-in by password or SMS code, with TOTP as the second factor once the user has added it.

1. Refuse early while the account (keyed by the phone's blind index) or the client's address group is locked by
   :class:`~lingjing.core.ratelimit.Backoff`: ``LINGJING_LOGIN_FAILURES_BEFORE_LOCK`` (5) failures lock for
   ``LINGJING_LOGIN_LOCK_SECONDS`` (60 s), doubling with every further failure (cap one hour). A failing limiter
   store refuses sign-in (fail closed).
2. Check the first factor. An unknown number still costs one password hash (Django's dummy hashing), so the answer
   and its timing do not tell whether the number has an account. Answers never say which part was wrong.
3. With TOTP enabled, a valid, unused code is needed as well; a missing code answers ``totp_required``
   (not counted as a failure: the first factor was right), a wrong one counts as a failure.
4. Every attempt is audited, success and failure (:func:`~lingjing.accounts.actions.do_record_login_failure`).
   Success clears the account's failure counter; the caller then opens a session or issues a token, both of which
   claim the TOTP step.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.http import HttpRequest

from lingjing.accounts.codes import check_code
from lingjing.accounts.models import CodePurpose, User, UserStatus
from lingjing.accounts.phone import InvalidPhone, normalise_phone
from lingjing.core import ratelimit
from lingjing.core.ratelimit import Backoff, client_ip
from lingjing.security.crypto import blind_index


class LoginError(Exception):
    def __init__(self, code: str, message: str, *, status: int = 401, retry_after: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.retry_after = retry_after


BAD_PASSWORD = "手机号或密码错误"  # noqa: S105 - a message, not a password
BAD_CODE = "手机号或验证码错误，或验证码已失效"


def account_backoff() -> Backoff:
    return Backoff("login:account", threshold=settings.LINGJING_LOGIN_FAILURES_BEFORE_LOCK,
                   base=settings.LINGJING_LOGIN_LOCK_SECONDS, cap=3600)


def ip_backoff() -> Backoff:
    return Backoff("login:ip", threshold=settings.LINGJING_LOGIN_IP_FAILURES_BEFORE_LOCK,
                   base=settings.LINGJING_LOGIN_LOCK_SECONDS, cap=3600)


def _locked_message(seconds: int) -> str:
    if seconds < 120:
        return f"登录失败次数过多，请 {seconds} 秒后再试"
    return f"登录失败次数过多，请 {(seconds + 59) // 60} 分钟后再试"


@dataclass(frozen=True)
class LoginOk:
    user: User
    method: str
    totp_step: int | None


def _dummy_hash() -> str:
    global _DUMMY
    if _DUMMY is None:
        _DUMMY = make_password("lingjing-timing-equaliser")
    return _DUMMY


_DUMMY: str | None = None


def authenticate(
    request: HttpRequest | None, *, phone: str, password: str | None = None, code: str | None = None,
    totp: str | None = None,
) -> LoginOk:
    """Check one sign-in attempt; raise :class:`LoginError` (audited) or answer the user (not yet signed in)."""
    from lingjing.accounts.actions import do_record_login_failure

    method = "password" if password is not None else "code"
    try:
        e164 = normalise_phone(phone)
    except InvalidPhone as exc:
        raise LoginError("invalid_phone", str(exc), status=422) from None
    account_key = blind_index(e164)
    ip_key = ratelimit.ip_group(client_ip(request)) if request is not None else "local"
    try:
        wait = max(account_backoff().retry_after(account_key), ip_backoff().retry_after(ip_key))
    except ratelimit.LimiterUnavailable:
        raise LoginError("unavailable", "登录服务暂时不可用，请稍后再试", status=503) from None
    user = User.objects.filter(phone_index=account_key).first()
    if wait:
        do_record_login_failure(e164=e164, method=method, reason="locked", user=user, request=request)
        raise LoginError("too_many_attempts", _locked_message(wait), status=429, retry_after=wait)
    # The risk engine scores the attempt (lingjing.secops.risk): allow, step-up verification, or block.
    from lingjing.secops.risk import assess_sign_in

    risk = assess_sign_in(request, phone_index=account_key, user=user, method=method)
    if risk.blocked:
        do_record_login_failure(e164=e164, method=method, reason="risk_blocked", user=user, request=request)
        raise LoginError("risk_blocked", risk.message, status=429, retry_after=risk.retry_after)

    if password is not None:
        if user is None or not user.has_usable_password():
            check_password(password, _dummy_hash())  # same cost as a real check
            ok = False
        else:
            ok = user.check_password(password)
        reason, message = "bad_password", BAD_PASSWORD
    else:
        ok = check_code(e164, CodePurpose.LOGIN, code or "").ok and user is not None
        reason, message = "bad_code", BAD_CODE
    if ok and user is not None and (user.status == UserStatus.ERASED or not user.is_active):
        ok, reason = False, "inactive"

    if not ok:
        _fail(e164, account_key, ip_key, method, reason, user, request)
        raise LoginError("invalid_credentials", message)

    assert user is not None
    step: int | None = None
    if user.totp_enabled and user.totp_secret:
        if not totp:
            do_record_login_failure(e164=e164, method=method, reason="totp_required", user=user, request=request)
            raise LoginError("totp_required", "请输入身份验证器中的 6 位动态码", status=401)
        from lingjing.accounts.totp import matching_step

        step = matching_step(user.totp_secret, totp)
        if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
            _fail(e164, account_key, ip_key, method, "bad_totp", user, request)
            raise LoginError("invalid_totp", "动态码错误或已使用")
    if risk.step_up and method == "password" and step is None:
        # The password alone no longer signs in: an SMS code (or the authenticator) proves the phone's owner.
        do_record_login_failure(e164=e164, method=method, reason="step_up_required", user=user, request=request)
        raise LoginError("step_up_required", risk.message, status=401)
    try:
        account_backoff().clear(account_key)
    except ratelimit.LimiterUnavailable:
        raise LoginError("unavailable", "登录服务暂时不可用，请稍后再试", status=503) from None
    return LoginOk(user, method, step)


def _fail(
    e164: str, account_key: str, ip_key: str, method: str, reason: str, user: User | None,
    request: HttpRequest | None,
) -> None:
    from lingjing.accounts.actions import do_record_login_failure

    try:
        account_backoff().failure(account_key)
        ip_backoff().failure(ip_key)
    except ratelimit.LimiterUnavailable:
        pass  # the attempt is refused anyway; the next one fails closed in retry_after
    do_record_login_failure(e164=e164, method=method, reason=reason, user=user, request=request)


def second_factor(request: HttpRequest | None, user: User, *, method: str, totp: str) -> LoginOk:
    """The TOTP step of a browser sign-in whose first factor already passed (kept in the session meanwhile)."""
    from lingjing.accounts.totp import matching_step

    e164 = user.phone or ""
    account_key = user.phone_index or ""
    ip_key = ratelimit.ip_group(client_ip(request)) if request is not None else "local"
    try:
        wait = max(account_backoff().retry_after(account_key), ip_backoff().retry_after(ip_key))
    except ratelimit.LimiterUnavailable:
        raise LoginError("unavailable", "登录服务暂时不可用，请稍后再试", status=503) from None
    if wait:
        raise LoginError("too_many_attempts", _locked_message(wait), status=429, retry_after=wait)
    step = matching_step(user.totp_secret or "", totp) if user.totp_enabled else None
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        _fail(e164, account_key, ip_key, method, "bad_totp", user, request)
        raise LoginError("invalid_totp", "动态码错误或已使用")
    try:
        account_backoff().clear(account_key)
    except ratelimit.LimiterUnavailable:
        raise LoginError("unavailable", "登录服务暂时不可用，请稍后再试", status=503) from None
    return LoginOk(user, method, step)
