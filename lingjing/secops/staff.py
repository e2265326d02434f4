"""Staff access to personal data: least privilege, a stated purpose before decryption, TOTP and yearly training.

1. **Roles** (``lingjing.core.roles``): only ``secops.read_personal`` lets a staff member ask to read a person's
   decrypted data at all; console lists never decrypt (``accounts.admin``).
2. **The chokepoint** :func:`staff_read_personal` is the only way staff code obtains a person's decrypted data. It
   needs a live :class:`~lingjing.secops.models.StaffAccessGrant` for that staff member, that person and that
   purpose: created by the purpose form (``do_grant_staff_access``: purpose, written reason, reference; valid
   ``LINGJING_STAFF_ACCESS_MINUTES``). It returns only the categories the purpose needs
   (:data:`PURPOSE_CATEGORIES`), and records the fields seen in the grant and in the audit log. A child's data
   additionally needs the second staff member's approval of the children app (``access_child_record``).
3. **The console gate** (:func:`gate_problem`, enforced by ``ConsoleGateMiddleware``): a staff member enters the
   console (``LINGJING_CONSOLE_PATHS``) only with an authenticator (TOTP) enrolled, a TOTP code proven in this
   session, and a training acknowledgement of the current version younger than ``LINGJING_STAFF_TRAINING_DAYS``.
4. **Session limits** (``StaffSessionMiddleware``): a staff session ends 12 hours after sign-in and after 30 minutes
   without a request (``LINGJING_STAFF_SESSION_HOURS``, ``LINGJING_STAFF_IDLE_MINUTES``).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from lingjing.secops.models import AccessPurpose, StaffAccessGrant, TrainingAcknowledgement

# Bump when the training's content changes: everyone acknowledges the new version before entering the console.
TRAINING_VERSION = "2026.1"
CONSOLE_SESSION_KEY = "lj_console_verified"
STAFF_SINCE_KEY = "lj_staff_since"
STAFF_SEEN_KEY = "lj_staff_seen"

# What each purpose may see (registry categories); None: every category (a rights request or a legal duty
# concerns all of a person's data).
PURPOSE_CATEGORIES: dict[str, frozenset[str] | None] = {
    AccessPurpose.SUPPORT: frozenset({"identity.phone", "identity.email", "identity.account", "profile.nickname",
                                      "profile.avatar", "support.message", "support.contact"}),
    AccessPurpose.RIGHTS: None,
    AccessPurpose.INCIDENT: frozenset({"identity.phone", "identity.email", "identity.account", "device.ip",
                                       "device.session", "security.event"}),
    AccessPurpose.LEGAL: None,
    AccessPurpose.FRAUD: frozenset({"identity.phone", "identity.account", "device.ip", "device.session",
                                    "security.event", "content.work", "privacy.decision"}),
}


class PurposeRequired(PermissionDenied):
    """No live grant: the staff member must state a purpose first."""

    code = "purpose_required"

    def __init__(self) -> None:
        super().__init__("查看个人信息明文前，请先说明用途（限时有效，并记录在审计日志中）")


def can_read_personal(staff: Any) -> bool:
    return bool(getattr(staff, "is_authenticated", False) and staff.is_staff and staff.has_perm("secops.read_personal"))


def live_grant(staff: Any, subject: Any, purpose: str) -> StaffAccessGrant | None:
    return (
        StaffAccessGrant.objects.filter(staff_id=staff.pk, subject_id=subject.pk, purpose=purpose,
                                        revoked_at__isnull=True, expires_at__gt=timezone.now())
        .order_by("-expires_at")
        .first()
    )


def staff_read_personal(staff_user: Any, subject_user: Any, purpose: str, *, limit: int = 500) -> list[dict[str, Any]]:
    """The subject's decrypted personal data that ``purpose`` needs, for a staff member holding a live grant.

    Raises ``PermissionDenied`` (no right to read at all, or one's own data), :class:`PurposeRequired` (no live
    grant for this person and purpose), or the children app's ``PermissionDenied`` (a child without approval).
    Every call is audited with the fields returned.
    """
    from lingjing.privacy.engines.export import iter_person_data
    from lingjing.privacy.registry import is_child
    from lingjing.secops.actions import do_log_personal_read

    if not can_read_personal(staff_user):
        raise PermissionDenied("没有查看个人信息的权限")
    if staff_user.pk == subject_user.pk:
        raise PermissionDenied("请通过隐私中心查看自己的个人信息")
    grant = live_grant(staff_user, subject_user, purpose)
    if grant is None:
        raise PurposeRequired()
    if is_child(subject_user):
        from lingjing.children.access import access_child_record

        access_child_record(staff_user, subject_user.pk, action=f"secops:{purpose}")
    allowed = PURPOSE_CATEGORIES.get(purpose)
    records: list[dict[str, Any]] = []
    for item in iter_person_data(subject_user):
        if item["export"] == "file" or (allowed is not None and item["category"] not in allowed):
            continue
        records.append(dict(item))
        if len(records) >= limit:
            break
    fields = sorted({f"{r['model']}.{r['field']}" for r in records})
    do_log_personal_read(grant, fields=fields, records=len(records), acting_user=staff_user)
    return records


# --- training -----------------------------------------------------------------------------------------------


def training_valid_until(staff: Any) -> dt.datetime | None:
    row = (TrainingAcknowledgement.objects.filter(staff_id=staff.pk, version=TRAINING_VERSION)
           .order_by("-acknowledged_at").first())
    if row is None:
        return None
    return row.acknowledged_at + dt.timedelta(days=settings.LINGJING_STAFF_TRAINING_DAYS)


def training_current(staff: Any) -> bool:
    until = training_valid_until(staff)
    return until is not None and until > timezone.now()


# --- the console gate ---------------------------------------------------------------------------------------


def is_console_path(path: str) -> bool:
    if path.startswith(("/secops/gate", "/console/login", "/console/logout")):
        return False
    return any(path.startswith(prefix) for prefix in settings.LINGJING_CONSOLE_PATHS)


def console_verified(request: Any) -> bool:
    mark = request.session.get(CONSOLE_SESSION_KEY)
    return bool(mark and mark.get("user") == str(request.user.pk))


def gate_problem(request: Any) -> str | None:
    """What a staff member still lacks to enter the console: ``totp_setup``, ``totp``, ``training`` or None."""
    user = request.user
    if not user.totp_enabled:
        return "totp_setup"
    if not console_verified(request):
        return "totp"
    if not training_current(user):
        return "training"
    return None


def mark_console_verified(request: Any) -> None:
    request.session[CONSOLE_SESSION_KEY] = {"user": str(request.user.pk), "at": time.time()}


# --- staff session limits -----------------------------------------------------------------------------------


def session_expiry_reason(request: Any, now: float) -> str | None:
    """Why this staff session has ended (``absolute`` or ``idle``), or None; starts the clocks on first sight."""
    session = request.session
    since = session.get(STAFF_SINCE_KEY)
    seen = session.get(STAFF_SEEN_KEY)
    if since is None:
        session[STAFF_SINCE_KEY] = now
        session[STAFF_SEEN_KEY] = now
        return None
    if now - float(since) > settings.LINGJING_STAFF_SESSION_HOURS * 3600:
        return "absolute"
    if seen is not None and now - float(seen) > settings.LINGJING_STAFF_IDLE_MINUTES * 60:
        return "idle"
    if seen is None or now - float(seen) > 30:  # one session write per 30 s at most
        session[STAFF_SEEN_KEY] = now
    return None


def token_expiry_reason(created_at: dt.datetime, last_used_at: dt.datetime | None, now: dt.datetime) -> str | None:
    """The same limits for a staff member's API token (last use is refreshed every 5 minutes)."""
    if now - created_at > dt.timedelta(hours=settings.LINGJING_STAFF_SESSION_HOURS):
        return "absolute"
    last = last_used_at or created_at
    if now - last > dt.timedelta(minutes=settings.LINGJING_STAFF_IDLE_MINUTES):
        return "idle"
    return None
