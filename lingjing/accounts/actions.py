"""Every write of account data: ``do_<verb>_<noun>(..., *, acting_user)``, one durable transaction each, with its
audit row inside that transaction. Views, the API, tasks and the demo seeder call these; nothing else saves
accounts' models.

Audit entries hold pseudonymous references only (``u:<uuid>``, a keyed hash of a phone number, a truncated
network); never a code, a password, a TOTP secret or a phone number in clear.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import login as django_login
from django.contrib.auth import logout as django_logout
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from lingjing.accounts.models import (
    ApiToken,
    CodePurpose,
    GuardianConsent,
    GuardianStatus,
    SmsCode,
    User,
    UserSession,
    UserStatus,
    hash_token,
)
from lingjing.accounts.validators import nickname_key
from lingjing.core.ratelimit import client_ip, ip_network_label
from lingjing.security.audit import AuditEvent, record
from lingjing.security.crypto import blind_index

STAFF_ROLES = ("support_agent", "privacy_officer", "security_officer", "content_moderator", "auditor")


class NicknameTaken(ValidationError):
    def __init__(self) -> None:
        super().__init__("这个昵称已被使用，请换一个", code="nickname_taken")


class PhoneTaken(ValidationError):
    def __init__(self) -> None:
        super().__init__("该手机号已注册，请直接登录", code="phone_taken")


def phone_ref(e164: str) -> str:
    """A pseudonymous reference to a phone number for audit entries (keyed, truncated, not the lookup index)."""
    return "p:" + blind_index(e164, purpose="audit-phone")[:20]


def _net(request: HttpRequest | None) -> str:
    return ip_network_label(client_ip(request)) if request is not None else ""


def _label(request: HttpRequest | None) -> str:
    """A short device label from the User-Agent: browser family and system, not the full string."""
    ua = (request.META.get("HTTP_USER_AGENT", "") if request is not None else "")[:300]
    system = next((name for key, name in (("Windows", "Windows"), ("Android", "Android"), ("iPhone", "iPhone"),
                                         ("iPad", "iPad"), ("Mac OS", "macOS"), ("Linux", "Linux")) if key in ua), "")
    browser = next((name for key, name in (("Edg/", "Edge"), ("Chrome/", "Chrome"), ("Firefox/", "Firefox"),
                                          ("Safari/", "Safari"), ("MicroMessenger", "微信")) if key in ua), "")
    label = " · ".join(p for p in (browser, system) if p)
    return label or ("API 客户端" if ua else "未知设备")


# --- codes ------------------------------------------------------------------------------------------------


def do_send_sms_code(e164: str, purpose: str, code: str, *, owner: User | None, acting_user: Any) -> SmsCode:
    """Store a new code (only its HMAC) and kill the earlier live codes of the same number and purpose."""
    from lingjing.accounts.codes import code_hmac, code_ttl

    index = blind_index(e164)
    now = timezone.now()
    with transaction.atomic(durable=True):
        SmsCode.objects.filter(phone_index=index, purpose=purpose, consumed_at__isnull=True).update(
            attempts=settings.LINGJING_SMS_MAX_ATTEMPTS
        )
        row = SmsCode(phone_index=index, user=owner, purpose=purpose, created_at=now, expires_at=now + code_ttl())
        row.code_hmac = code_hmac(row.pk, index, purpose, code)
        row.save(force_insert=True)
        record(
            AuditEvent.SMS_CODE_SENT,
            acting_user=acting_user,
            subject=owner.subject if owner is not None else "",
            obj=row,
            details={"purpose": purpose, "phone": phone_ref(e164)},
        )
    return row


# --- registration -----------------------------------------------------------------------------------------


def do_register_user(
    *,
    phone: str,
    nickname: str,
    birth_date: dt.date,
    password: str | None = None,
    guardian_phone: str | None = None,
    request: HttpRequest | None = None,
    acting_user: Any = None,
    policy_method: str = "register",
) -> User:
    """Create the account (inputs already validated and the code already consumed) and record policy acceptance.

    Under 14: status ``pending_guardian`` and a pending :class:`GuardianConsent` for ``guardian_phone``; the
    guardian's SMS is sent by the caller after commit (see ``accounts.guardian.request_guardian_consent``).
    """
    from lingjing.accounts.policy import is_child_birth_date
    from lingjing.consent.policy import record_policy_acceptance

    child = is_child_birth_date(birth_date)
    if child and not guardian_phone:
        raise ValidationError("未满 14 周岁需要填写监护人手机号", code="guardian_required")
    try:
        with transaction.atomic(durable=True):
            if User.objects.filter(phone_index=blind_index(phone)).exists():
                raise PhoneTaken()
            if User.objects.filter(nickname_key=nickname_key(nickname)).exists():
                raise NicknameTaken()
            user = User(
                nickname=nickname,
                nickname_key=nickname_key(nickname),
                status=UserStatus.PENDING_GUARDIAN if child else UserStatus.ACTIVE,
            )
            user.set_phone(phone)
            user.birth_date = birth_date.isoformat()
            if password:
                user.set_password(password)
            else:
                user.set_unusable_password()
            user.save(force_insert=True)
            record(
                AuditEvent.USER_CREATED,
                acting_user=acting_user,
                actor=None if acting_user else user.subject,
                subject=user.subject,
                obj=user,
                details={"status": user.status, "password": bool(password), "ip": _net(request)},
            )
            if child and guardian_phone:
                _create_guardian_request(user, guardian_phone)
            record_policy_acceptance(user, request=request, method=policy_method)
    except IntegrityError as exc:  # a concurrent registration won the phone or the nickname
        if "nickname" in str(exc):
            raise NicknameTaken() from None
        raise PhoneTaken() from None
    return user


def _create_guardian_request(child: User, guardian_phone: str) -> GuardianConsent:
    now = timezone.now()
    consent = GuardianConsent(
        child=child,
        guardian_phone_index=blind_index(guardian_phone),
        requested_at=now,
        expires_at=now + dt.timedelta(days=settings.LINGJING_GUARDIAN_EXPIRY_DAYS),
    )
    consent.guardian_phone = guardian_phone
    consent.save(force_insert=True)
    record(AuditEvent.GUARDIAN_REQUESTED, actor=child.subject, subject=child.subject, obj=consent,
           details={"guardian": phone_ref(guardian_phone)})
    return consent


# --- sign-in, sessions, tokens ----------------------------------------------------------------------------


def do_record_login_failure(
    *, e164: str, method: str, reason: str, user: User | None = None, request: HttpRequest | None = None
) -> None:
    """Audit a failed sign-in attempt (unknown number, wrong password or code, locked, second factor)."""
    from lingjing.secops.risk import log_sign_in_failure

    with transaction.atomic(durable=True):
        record(
            AuditEvent.LOGIN_FAILED,
            actor="anonymous",
            subject=user.subject if user is not None else "",
            details={"method": method, "reason": reason, "phone": phone_ref(e164), "ip": _net(request)},
        )
        log_sign_in_failure(user=user, phone_index=blind_index(e164), method=method, reason=reason, request=request)


def _login_audit(user: User, method: str, request: HttpRequest | None, channel: str) -> None:
    from lingjing.secops.risk import log_sign_in_success

    record(AuditEvent.LOGIN_SUCCEEDED, actor=user.subject, subject=user.subject, obj=user,
           details={"method": method, "channel": channel, "ip": _net(request)})
    log_sign_in_success(user, request, method=method, channel=channel)  # the pseudonymised security log


def do_create_api_token(
    user: User, *, method: str, request: HttpRequest | None = None, acting_user: Any = None,
    totp_step: int | None = None,
) -> str:
    """Issue a Bearer token (only its SHA-256 is stored) and audit the sign-in. Answers the raw token, once."""
    raw = secrets.token_urlsafe(32)
    with transaction.atomic(durable=True):
        _claim_totp_step(user, totp_step)
        token = ApiToken(user=user, token_hash=hash_token(raw), ip_network=_net(request))
        token.label = _label(request)
        token.save(force_insert=True)
        User.objects.filter(pk=user.pk).update(last_login=timezone.now())
        record(AuditEvent.API_TOKEN_CREATED, acting_user=acting_user, actor=None if acting_user else user.subject,
               subject=user.subject, obj=token, details={"method": method})
        _login_audit(user, method, request, "api")
    return raw


def _claim_totp_step(user: User, step: int | None) -> None:
    """Accept a TOTP time step once: a conditional UPDATE, so a code cannot be replayed, even concurrently."""
    if step is None:
        return
    from django.db.models import Q

    won = User.objects.filter(Q(totp_last_step__isnull=True) | Q(totp_last_step__lt=step), pk=user.pk).update(
        totp_last_step=step
    )
    if won != 1:
        from lingjing.accounts.totp import TotpReplay

        raise TotpReplay()


def do_start_web_session(request: HttpRequest, user: User, *, method: str, totp_step: int | None = None) -> None:
    """Sign in a browser: Django's ``login`` (a new session id) plus a row on the user's list of sessions."""
    with transaction.atomic(durable=True):
        _claim_totp_step(user, totp_step)
        user.backend = "django.contrib.auth.backends.ModelBackend"
        django_login(request, user)
        _track_session(request, user)
        _login_audit(user, method, request, "web")


def _track_session(request: HttpRequest, user: User) -> UserSession:
    if request.session.session_key is None:
        request.session.save()
    key = str(request.session.session_key)
    row = UserSession(user=user, key_hash=hashlib.sha256(key.encode()).hexdigest(), ip_network=_net(request))
    row.session_key = key
    row.label = _label(request)
    row.save(force_insert=True)
    return row


def do_logout(request: HttpRequest, *, acting_user: User) -> None:
    """End the caller's own session or token."""
    with transaction.atomic(durable=True):
        token = getattr(request, "api_token", None)
        if token is not None:
            ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
            record(AuditEvent.LOGGED_OUT, acting_user=acting_user, subject=acting_user.subject, obj=token,
                   details={"channel": "api"})
            return
        key = request.session.session_key
        if key:
            UserSession.objects.filter(key_hash=hashlib.sha256(key.encode()).hexdigest()).update(
                revoked_at=timezone.now()
            )
        record(AuditEvent.LOGGED_OUT, acting_user=acting_user, subject=acting_user.subject, details={"channel": "web"})
        django_logout(request)


def do_revoke_session(user: User, session_id: Any, *, acting_user: User) -> bool:
    """Sign out one of the user's web sessions or API tokens (by its id). False when there is no such live one."""
    from django.contrib.sessions.backends.db import SessionStore

    now = timezone.now()
    with transaction.atomic(durable=True):
        token = ApiToken.objects.filter(pk=session_id, user=user, revoked_at__isnull=True).first()
        if token is not None:
            ApiToken.objects.filter(pk=token.pk).update(revoked_at=now)
            record(AuditEvent.API_TOKEN_REVOKED, acting_user=acting_user, subject=user.subject, obj=token)
            return True
        web = UserSession.objects.filter(pk=session_id, user=user, revoked_at__isnull=True).first()
        if web is None:
            return False
        if web.session_key:
            SessionStore(session_key=web.session_key).delete()
        UserSession.objects.filter(pk=web.pk).update(revoked_at=now)
        record(AuditEvent.SESSION_REVOKED, acting_user=acting_user, subject=user.subject, obj=web)
        return True


def live_sessions(user: User) -> list[dict[str, Any]]:
    """The user's signed-in browsers and API clients, newest first (read model for the security page and API)."""
    from django.contrib.sessions.models import Session

    now = timezone.now()
    web = list(UserSession.objects.filter(user=user, revoked_at__isnull=True).order_by("-created_at")[:50])
    alive = set(
        Session.objects.filter(expire_date__gt=now, session_key__in=[w.session_key for w in web if w.session_key])
        .values_list("session_key", flat=True)
    )
    items = [
        {"id": str(w.pk), "kind": "web", "label": w.label or "", "ip_network": w.ip_network,
         "created_at": w.created_at, "last_used_at": None, "key_hash": w.key_hash}
        for w in web
        if w.session_key in alive
    ]
    tokens = ApiToken.objects.filter(user=user, revoked_at__isnull=True).order_by("-created_at")[:50]
    items += [
        {"id": str(t.pk), "kind": "api", "label": t.label or "", "ip_network": t.ip_network,
         "created_at": t.created_at, "last_used_at": t.last_used_at, "key_hash": t.token_hash}
        for t in tokens
    ]
    return sorted(items, key=lambda i: i["created_at"], reverse=True)


# --- credentials ------------------------------------------------------------------------------------------


def do_change_password(
    user: User, new_password: str, *, acting_user: User, request: HttpRequest | None = None, via: str
) -> None:
    """Set a new password (validated by the caller). Other browser sessions end (Django's session hash);
    the current one is kept. ``via``: ``old_password`` or ``step_up``."""
    with transaction.atomic(durable=True):
        user.set_password(new_password)
        user.save(update_fields=["password"])
        record(AuditEvent.PASSWORD_CHANGED, acting_user=acting_user, subject=user.subject, obj=user,
               details={"via": via})
        if request is not None and getattr(request, "api_token", None) is None and request.user.pk == user.pk:
            update_session_auth_hash(request, user)


def do_change_phone(user: User, new_phone: str, *, acting_user: User) -> None:
    """Move the account to a new number (both numbers proven by the caller: step-up on the old, a code on the new)."""
    with transaction.atomic(durable=True):
        if User.objects.filter(phone_index=blind_index(new_phone)).exclude(pk=user.pk).exists():
            raise ValidationError("该手机号已被其他账号使用", code="phone_taken")
        old = user.phone or ""
        user.set_phone(new_phone)
        user.save(update_fields=["phone", "phone_index"])
        record(AuditEvent.PHONE_CHANGED, acting_user=acting_user, subject=user.subject, obj=user,
               details={"from": phone_ref(old) if old else "", "to": phone_ref(new_phone)})


def do_update_profile(user: User, *, nickname: str, acting_user: User) -> None:
    """Change the nickname (already cleaned by ``validators.clean_nickname``); unique case-insensitively."""
    key = nickname_key(nickname)
    try:
        with transaction.atomic(durable=True):
            if User.objects.filter(nickname_key=key).exclude(pk=user.pk).exists():
                raise NicknameTaken()
            changed = ["nickname"] if user.nickname != nickname else []
            user.nickname = nickname
            user.nickname_key = key
            user.save(update_fields=["nickname", "nickname_key"])
            record(AuditEvent.PROFILE_UPDATED, acting_user=acting_user, subject=user.subject, obj=user,
                   details={"fields": changed})
    except IntegrityError:
        raise NicknameTaken() from None


def _delete_files(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)


def do_set_avatar(user: User, *, image_name: str, thumb_name: str, acting_user: User) -> None:
    """Point the profile at newly stored avatar files; the previous files are removed after commit."""
    old = [n for n in (user.avatar, user.avatar_thumb) if n]
    with transaction.atomic(durable=True):
        user.avatar = image_name
        user.avatar_thumb = thumb_name
        user.save(update_fields=["avatar", "avatar_thumb"])
        record(AuditEvent.AVATAR_SET, acting_user=acting_user, subject=user.subject, obj=user)
        transaction.on_commit(lambda: _delete_files(old))


def do_grant_step_up(request: HttpRequest, user: User, *, method: str) -> dt.datetime:
    """Mark the caller's session or token as freshly verified for ``LINGJING_STEP_UP_MINUTES``."""
    until = timezone.now() + dt.timedelta(minutes=settings.LINGJING_STEP_UP_MINUTES)
    with transaction.atomic(durable=True):
        token = getattr(request, "api_token", None)
        if token is not None:
            ApiToken.objects.filter(pk=token.pk).update(verified_until=until)
        else:
            request.session["lj_step_up_until"] = until.timestamp()
            request.session["lj_step_up_user"] = str(user.pk)
        record(AuditEvent.STEP_UP_VERIFIED, acting_user=user, subject=user.subject, details={"method": method})
    return until


def do_record_step_up_failure(user: User, *, method: str) -> None:
    with transaction.atomic(durable=True):
        record(AuditEvent.STEP_UP_FAILED, acting_user=user, subject=user.subject, details={"method": method})


def do_begin_totp(user: User, secret: str, *, acting_user: User) -> None:
    """Store a new, not yet confirmed TOTP secret (sealed). Sign-in does not ask for it until confirmed."""
    with transaction.atomic(durable=True):
        user.totp_secret = secret
        user.totp_enabled_at = None
        user.totp_last_step = None
        user.save(update_fields=["totp_secret", "totp_enabled_at", "totp_last_step"])
        record(AuditEvent.TOTP_ENROLMENT_STARTED, acting_user=acting_user, subject=user.subject, obj=user)


def do_enable_totp(user: User, *, step: int, acting_user: User) -> None:
    with transaction.atomic(durable=True):
        user.totp_enabled_at = timezone.now()
        user.totp_last_step = step
        user.save(update_fields=["totp_enabled_at", "totp_last_step"])
        record(AuditEvent.TOTP_ENABLED, acting_user=acting_user, subject=user.subject, obj=user)


def do_disable_totp(user: User, *, acting_user: User) -> None:
    with transaction.atomic(durable=True):
        user.totp_secret = None
        user.totp_enabled_at = None
        user.totp_last_step = None
        user.save(update_fields=["totp_secret", "totp_enabled_at", "totp_last_step"])
        record(AuditEvent.TOTP_DISABLED, acting_user=acting_user, subject=user.subject, obj=user)


# --- guardians --------------------------------------------------------------------------------------------


def _guardian_actor(guardian_phone: str) -> str:
    return "guardian:" + phone_ref(guardian_phone)


def do_confirm_guardian(consent_id: Any, *, guardian_phone: str) -> bool:
    """The guardian (proven by an SMS code to ``guardian_phone``) consents: the child's account becomes active."""
    now = timezone.now()
    with transaction.atomic(durable=True):
        consent = (
            GuardianConsent.objects.select_for_update()
            .filter(pk=consent_id, guardian_phone_index=blind_index(guardian_phone), status=GuardianStatus.PENDING,
                    expires_at__gt=now)
            .select_related("child")
            .first()
        )
        if consent is None:
            return False
        GuardianConsent.objects.filter(pk=consent.pk).update(
            status=GuardianStatus.CONFIRMED, decided_at=now, method="sms_code"
        )
        User.objects.filter(pk=consent.child_id, status=UserStatus.PENDING_GUARDIAN).update(status=UserStatus.ACTIVE)
        record(AuditEvent.GUARDIAN_CONFIRMED, actor=_guardian_actor(guardian_phone), subject=consent.child.subject,
               obj=consent, details={"method": "sms_code"})
    return True


def do_decline_guardian(consent_id: Any, *, guardian_phone: str) -> Any:
    """The guardian refuses: the decision is recorded, and the caller deletes the child's data. Answers the
    child's user id, or None when there was nothing to decline."""
    return _end_guardianship(consent_id, guardian_phone, GuardianStatus.DECLINED, (GuardianStatus.PENDING,),
                             AuditEvent.GUARDIAN_DECLINED)


def do_withdraw_guardian(consent_id: Any, *, guardian_phone: str) -> Any:
    """The guardian withdraws an earlier consent: recorded, then the child's data is deleted by the caller."""
    return _end_guardianship(consent_id, guardian_phone, GuardianStatus.WITHDRAWN, (GuardianStatus.CONFIRMED,),
                             AuditEvent.GUARDIAN_WITHDRAWN)


def _end_guardianship(
    consent_id: Any, guardian_phone: str, status: str, from_statuses: tuple[str, ...], event: AuditEvent
) -> Any:
    now = timezone.now()
    with transaction.atomic(durable=True):
        consent = (
            GuardianConsent.objects.select_for_update()
            .filter(pk=consent_id, guardian_phone_index=blind_index(guardian_phone), status__in=from_statuses)
            .select_related("child")
            .first()
        )
        if consent is None:
            return None
        GuardianConsent.objects.filter(pk=consent.pk).update(status=status, decided_at=now)
        User.objects.filter(pk=consent.child_id).update(status=UserStatus.PENDING_GUARDIAN)
        record(event, actor=_guardian_actor(guardian_phone), subject=consent.child.subject, obj=consent)
        return consent.child_id


def do_expire_guardian_request(consent_id: Any) -> Any:
    """A pending request passed its expiry: recorded; the caller deletes the child's data."""
    now = timezone.now()
    with transaction.atomic(durable=True):
        consent = (
            GuardianConsent.objects.select_for_update()
            .filter(pk=consent_id, status=GuardianStatus.PENDING, expires_at__lte=now)
            .first()
        )
        if consent is None:
            return None
        GuardianConsent.objects.filter(pk=consent.pk).update(status=GuardianStatus.EXPIRED, decided_at=now)
        record(AuditEvent.GUARDIAN_DECLINED, actor="system", subject=f"u:{consent.child_id}", obj=consent,
               details={"expired": True})
        return consent.child_id


def do_delete_pending_child(user_id: Any, *, reason: str) -> bool:
    """Delete every row of a child account that never had (or no longer has) guardian consent.

    Used when the registry-driven erasure engine is not installed; it deletes the user row outright (cascading
    to sessions, tokens, codes, guardian records and other apps' rows) and shreds the person's keys.
    """
    from lingjing.security.crypto import shred_subject, user_subject

    with transaction.atomic(durable=True):
        user = User.objects.select_for_update().filter(pk=user_id, status=UserStatus.PENDING_GUARDIAN).first()
        if user is None:
            return False
        subject = user.subject
        record(AuditEvent.PENDING_CHILD_DELETED, actor="system", subject=subject, details={"reason": reason})
        names = [n for n in (user.avatar, user.avatar_thumb) if n]
        user.delete()
        transaction.on_commit(lambda: _delete_files(names))
    shred_subject(user_subject(user_id), reason=f"pending child: {reason}")
    return True


# --- staff roles ------------------------------------------------------------------------------------------


def do_set_roles(user: User, roles: list[str], *, acting_user: Any) -> None:
    """Give the user exactly these staff roles (Django groups); staff flag follows."""
    unknown = set(roles) - set(STAFF_ROLES)
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")
    with transaction.atomic(durable=True):
        groups = [Group.objects.get_or_create(name=name)[0] for name in roles]
        user.groups.set(groups)
        is_staff = bool(roles) or user.is_superuser
        if user.is_staff != is_staff:
            user.is_staff = is_staff
            user.save(update_fields=["is_staff"])
        record(AuditEvent.USER_ROLE_CHANGED, acting_user=acting_user, subject=user.subject, obj=user,
               details={"roles": sorted(roles)})


def purpose_of(value: str) -> str:
    if value not in CodePurpose.values:
        raise ValueError(value)
    return value
