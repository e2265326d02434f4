"""One-time codes by email: proving control of a notification address or a visitor's contact.

The same rules as the SMS codes of ``lingjing.accounts.codes``: 6 digits from :mod:`secrets`, only an HMAC kept
(bound to the row id, the subject, the address and the purpose), 10 minutes of life, 5 misses kill the code, a hit
consumes it with one conditional UPDATE. Sending is rate-limited per address (a 60 s cooldown, 5 an hour) and per
client network (20 an hour), failing closed. The mail is sent at once (the person is waiting for it), through the
disclosure gate when the mail provider is outside.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from lingjing.core import ratelimit
from lingjing.core.ratelimit import Limit
from lingjing.notify.actions import do_issue_email_code
from lingjing.notify.models import EmailCode
from lingjing.security.crypto import blind_index

CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5
COOLDOWN_SECONDS = 60


class CodeRefused(Exception):
    """Rate-limited or the mail could not be sent; ``message`` is fit to show."""

    def __init__(self, message: str, retry_after: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


def address_index(address: str) -> str:
    return blind_index(address.strip().lower(), purpose="email")


def _key() -> bytes:
    return hmac.new(settings.SECRET_KEY.encode(), b"lingjing email code key", hashlib.sha256).digest()


def code_hmac(row_id: object, subject: str, index: str, purpose: str, code: str) -> str:
    message = f"{row_id}|{subject}|{index}|{purpose}|{code}".encode()
    return hmac.new(_key(), message, hashlib.sha256).hexdigest()


def _check_limits(address: str, ip: str) -> None:
    try:
        decision = ratelimit.cooldown("email_code:address", address.lower(), COOLDOWN_SECONDS)
        if decision.allowed:
            decision = ratelimit.hit_all([
                (Limit("email_code:address:hour", 5, 3600, sliding=True), address.lower()),
                (Limit("email_code:ip:hour", 20, 3600, sliding=True), ratelimit.ip_group(ip)),
            ])
    except ratelimit.LimiterUnavailable:
        raise CodeRefused(_("邮件服务暂时不可用，请稍后再试")) from None
    if not decision.allowed:
        raise CodeRefused(_("验证码发送过于频繁，请 %(s)s 秒后再试") % {"s": decision.retry_after},
                          decision.retry_after)


def send_email_code(subject: str, address: str, purpose: str, *, ip: str, acting_user: object = None) -> EmailCode:
    """Rate-limit, store and mail a new code for ``address`` (normalised by the caller)."""
    from lingjing.sharing.channels import email_recipient

    _check_limits(address, ip)
    code = f"{secrets.randbelow(10**6):06d}"
    index = address_index(address)
    row = do_issue_email_code(
        subject, purpose, index, lambda row_id: code_hmac(row_id, subject, index, purpose, code),
        ttl=CODE_TTL, acting_user=acting_user,
    )
    minutes = int(CODE_TTL.total_seconds() // 60)
    text = _("您的验证码是 %(code)s，%(minutes)s 分钟内有效。如非本人操作，请忽略本邮件。") % {
        "code": code, "minutes": minutes}
    recipient = email_recipient()
    disclosure = None
    if recipient is not None:
        from lingjing.sharing.gate import DisclosureRefused, disclose

        person = None
        if subject.startswith("u:"):
            from django.contrib.auth import get_user_model

            person = get_user_model().objects.filter(pk=subject[2:]).first()
        try:
            disclosure = disclose(person, recipient, ["identity.email"], "notify", flow="notify.email_code",
                                  reference=str(row.pk))
        except DisclosureRefused:
            raise CodeRefused(_("邮件服务暂时不可用，请稍后再试")) from None
    try:
        EmailMessage(_("【灵境】邮箱验证码"), text, to=[address]).send()
    except Exception:
        if disclosure is not None:
            from lingjing.sharing.gate import do_mark_failed

            do_mark_failed(disclosure, error="send_failed")
        raise CodeRefused(_("邮件发送失败，请稍后再试")) from None
    return row


@dataclass(frozen=True)
class CodeCheck:
    ok: bool
    reason: str  # ok | wrong | none | used


def check_email_code(subject: str, address: str, purpose: str, code: str) -> CodeCheck:
    """Compare ``code`` with the subject's newest live code for ``address``; consume it on a match."""
    now = timezone.now()
    index = address_index(address)
    row = (
        EmailCode.objects.filter(subject_ref=subject, purpose=purpose, consumed_at__isnull=True)
        .order_by("-created_at").first()
    )
    if row is None or row.expires_at <= now or row.attempts >= MAX_ATTEMPTS or row.address_index != index:
        return CodeCheck(False, "none")
    candidate = (code or "").strip()
    well_formed = len(candidate) == 6 and candidate.isascii() and candidate.isdigit()
    if well_formed and hmac.compare_digest(row.code_hmac, code_hmac(row.pk, subject, index, purpose, candidate)):
        won = EmailCode.objects.filter(
            pk=row.pk, consumed_at__isnull=True, attempts__lt=MAX_ATTEMPTS, expires_at__gt=now
        ).update(consumed_at=now)
        return CodeCheck(True, "ok") if won == 1 else CodeCheck(False, "used")
    EmailCode.objects.filter(pk=row.pk).update(attempts=F("attempts") + 1)
    return CodeCheck(False, "wrong")
