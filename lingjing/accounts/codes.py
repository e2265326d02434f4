"""One-time SMS codes and the SMS pumping defence.

1. **Issue** (:func:`request_code`): the limits are hit in order, narrowest first — a 60 s cooldown per number
   (released when the provider refuses the message, so the person can ask again at once),
   per-number hourly (sliding) and daily caps, per-address hourly (sliding) and daily caps (IPv6 counted per /64),
   a daily cap per number prefix (the first ``LINGJING_SMS_PREFIX_DIGITS`` digits: pumping fraud walks number
   ranges) and a global hourly budget. The first refusal stops the walk, so a refused request never spends a
   wider budget. If the counter store fails, nothing is sent (fail closed).
2. A code is 6 digits from :mod:`secrets`; the row keeps only ``HMAC(key, row id | phone index | purpose | code)``.
   Issuing a code kills the earlier live codes of the same number and purpose.
3. **Check** (:func:`check_code`): the newest live code of that number and purpose is compared in constant time.
   A miss adds one to ``attempts`` (an atomic ``F() + 1``); the fifth miss kills the code. A hit consumes it with
   one conditional ``UPDATE ... WHERE consumed_at IS NULL AND attempts < max AND expires_at > now``, so of any
   number of simultaneous correct submissions exactly one wins.
4. **No enumeration**: for ``register`` and ``login`` a code is issued and sent whether or not the number has an
   account; both branches do the same work (one lookup, one insert, one send), so the answer and its timing
   cannot tell them apart. What happens next needs the code, i.e. control of the phone.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import phonenumbers
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from lingjing.accounts.models import CodePurpose, SmsCode
from lingjing.accounts.sms import CodeMessage, get_backend
from lingjing.core import ratelimit
from lingjing.core.ratelimit import Limit
from lingjing.security.crypto import blind_index

CODE_DIGITS = 6


class RateLimited(Exception):
    def __init__(self, retry_after: int, message: str) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.message = message


class SmsUnavailable(Exception):
    """Sending is refused because the limiter store or the provider failed."""

    message = "短信服务暂时不可用，请稍后再试"


def generate_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def _hmac_key() -> bytes:
    return hmac.new(settings.SECRET_KEY.encode(), b"lingjing sms code key", hashlib.sha256).digest()


def code_hmac(row_id: object, phone_index: str, purpose: str, code: str) -> str:
    message = f"{row_id}|{phone_index}|{purpose}|{code}".encode()
    return hmac.new(_hmac_key(), message, hashlib.sha256).hexdigest()


def number_prefix(e164: str) -> str:
    """``+8613800138000`` → ``+86:1380013``: the country code and the first digits of the national number."""
    if e164.startswith("+86") and len(e164) == 14:  # mainland mobile, already normalised: no parse needed
        return f"+86:{e164[3: 3 + settings.LINGJING_SMS_PREFIX_DIGITS]}"
    number = phonenumbers.parse(e164)
    national = phonenumbers.national_significant_number(number)
    return f"+{number.country_code}:{national[: settings.LINGJING_SMS_PREFIX_DIGITS]}"


def sms_limits(e164: str, ip: str) -> list[tuple[Limit, str]]:
    """The limits of one send, narrowest first (all numbers from settings)."""
    s = settings
    group = ratelimit.ip_group(ip)
    return [
        (Limit("sms:number:hour", s.LINGJING_SMS_PER_NUMBER_HOUR, 3600, sliding=True), e164),
        (Limit("sms:number:day", s.LINGJING_SMS_PER_NUMBER_DAY, 86400), e164),
        (Limit("sms:ip:hour", s.LINGJING_SMS_PER_IP_HOUR, 3600, sliding=True), group),
        (Limit("sms:ip:day", s.LINGJING_SMS_PER_IP_DAY, 86400), group),
        (Limit("sms:prefix:day", s.LINGJING_SMS_PER_PREFIX_DAY, 86400), number_prefix(e164)),
        (Limit("sms:global:hour", s.LINGJING_SMS_GLOBAL_HOUR, 3600), "all"),
    ]


def _wait_message(seconds: int) -> str:
    if seconds < 120:
        return f"验证码发送过于频繁，请 {seconds} 秒后再试"
    minutes = (seconds + 59) // 60
    if minutes < 120:
        return f"验证码发送次数已达上限，请 {minutes} 分钟后再试"
    return f"验证码发送次数已达上限，请 {(minutes + 59) // 60} 小时后再试"


def check_send_allowed(e164: str, ip: str) -> None:
    """Spend one send from every limit, or raise :class:`RateLimited` / :class:`SmsUnavailable`."""
    try:
        decision = ratelimit.cooldown("sms:number", e164, settings.LINGJING_SMS_COOLDOWN)
        if decision.allowed:
            decision = ratelimit.hit_all(sms_limits(e164, ip))
    except ratelimit.LimiterUnavailable:
        raise SmsUnavailable from None
    if not decision.allowed:
        from lingjing.secops.risk import note_sms_refusal

        note_sms_refusal(e164, ip, decision.limit.name if decision.limit else "sms")  # risk signal sms_anomaly
        raise RateLimited(decision.retry_after, _wait_message(decision.retry_after))


def message_text(purpose: str, code: str, *, context: dict[str, Any] | None = None) -> str:
    minutes = settings.LINGJING_SMS_CODE_TTL // 60
    if purpose == CodePurpose.GUARDIAN:
        child = (context or {}).get("child_nickname")
        who = f"您的孩子（昵称“{child}”）申请注册灵境账号，需要监护人同意。" if child else "灵境监护人确认："
        return f"【灵境】{who}验证码 {code}，{minutes} 分钟内有效。请访问灵境网站“监护人确认”页面处理。"
    action = {"register": "注册", "login": "登录", "verify": "身份验证"}.get(purpose, "验证")
    return f"【灵境】您正在{action}，验证码 {code}，{minutes} 分钟内有效。请勿告诉他人。"


# The purpose a code's disclosure to the SMS provider serves (registered for aliyun-sms / tencent-sms).
CODE_DISCLOSURE_PURPOSE = {"register": "account", "login": "account", "guardian": "account", "verify": "security"}


@dataclass(frozen=True)
class Issued:
    code_id: object
    expires_at: Any


def request_code(
    e164: str, purpose: str, *, ip: str, context: dict[str, Any] | None = None, acting_user: Any = None
) -> Issued:
    """Rate-limit, create and send one code. Same work whether or not ``e164`` has an account."""
    from lingjing.accounts.actions import do_send_sms_code
    from lingjing.accounts.models import User

    if purpose not in CodePurpose.values:
        raise ValueError(f"unknown code purpose {purpose!r}")
    check_send_allowed(e164, ip)
    owner = User.objects.filter(phone_index=blind_index(e164)).only("id").first()
    code = generate_code()
    row = do_send_sms_code(e164, purpose, code, owner=owner, acting_user=acting_user)
    message = CodeMessage(
        to=e164,
        code=code,
        purpose=purpose,
        text=message_text(purpose, code, context=context),
        ttl_minutes=max(1, settings.LINGJING_SMS_CODE_TTL // 60),
    )
    from lingjing.accounts.sms import SmsDeliveryError, gate_sms, mark_failed
    from lingjing.sharing.gate import DisclosureRefused

    backend = get_backend()
    try:  # the provider is a processor under contract; the console backend discloses nothing
        disclosure = gate_sms(e164, CODE_DISCLOSURE_PURPOSE.get(purpose, "account"), person=owner,
                              flow="accounts.code", reference=str(row.pk), acting_user=acting_user)
    except DisclosureRefused:
        _release_cooldown(e164)
        raise SmsUnavailable from None
    try:
        backend.send_code(message)
    except SmsDeliveryError as exc:
        mark_failed(disclosure, str(exc))
        _release_cooldown(e164)
        raise SmsUnavailable from None
    return Issued(row.pk, row.expires_at)


def _release_cooldown(e164: str) -> None:
    """No code went out: the person may ask again at once (the hourly and daily caps stay spent, so a failing
    provider cannot be used to send more than they allow)."""
    with contextlib.suppress(ratelimit.LimiterUnavailable):
        ratelimit.release_cooldown("sms:number", e164)


@dataclass(frozen=True)
class CodeCheck:
    ok: bool
    reason: str  # ok | wrong | none (no live code) | used (lost the race)


def check_code(e164: str, purpose: str, code: str) -> CodeCheck:
    """Compare ``code`` with the newest live code of ``e164`` + ``purpose``; consume it on a match."""
    now = timezone.now()
    index = blind_index(e164)
    row = (
        SmsCode.objects.filter(phone_index=index, purpose=purpose, consumed_at__isnull=True)
        .order_by("-created_at")
        .only("id", "attempts", "expires_at")
        .first()
    )
    max_attempts = settings.LINGJING_SMS_MAX_ATTEMPTS
    if row is None or row.expires_at <= now or row.attempts >= max_attempts:
        return CodeCheck(False, "none")
    candidate = (code or "").strip()
    well_formed = len(candidate) == CODE_DIGITS and candidate.isascii() and candidate.isdigit()
    expected = SmsCode.objects.filter(pk=row.pk).values_list("code_hmac", flat=True).first() or ""
    if well_formed and hmac.compare_digest(expected, code_hmac(row.pk, index, purpose, candidate)):
        won = SmsCode.objects.filter(
            pk=row.pk, consumed_at__isnull=True, attempts__lt=max_attempts, expires_at__gt=now
        ).update(consumed_at=now)
        return CodeCheck(True, "ok") if won == 1 else CodeCheck(False, "used")
    SmsCode.objects.filter(pk=row.pk).update(attempts=F("attempts") + 1)
    return CodeCheck(False, "wrong")


def code_ttl() -> timedelta:
    return timedelta(seconds=settings.LINGJING_SMS_CODE_TTL)
