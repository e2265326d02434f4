"""Every write of the children app: staff access approvals and their log, unconsented children, guardian
corrections, the yearly report."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from lingjing.children.models import (
    AccessStatus,
    ChildAccessLog,
    ChildAccessRequest,
    ChildrenReport,
    UnconsentedChild,
    UnconsentedStatus,
)
from lingjing.children.rules import is_child, known_child
from lingjing.security.audit import AuditEvent, actor_ref, record


def _staff_with(user: Any, perm: str) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_staff and user.has_perm(perm))


# --- staff access -----------------------------------------------------------------------------------------


def do_request_child_access(child: Any, *, purpose: str, hours: int, acting_user: Any) -> ChildAccessRequest:
    """A member of staff asks to open a child's data, saying why and for how long (at most
    ``LINGJING_CHILD_ACCESS_MAX_HOURS``). Nothing opens until another member of staff approves."""
    if not _staff_with(acting_user, "children.add_childaccessrequest"):
        raise PermissionDenied("没有申请查看儿童个人信息的权限")
    errors: dict[str, list[str]] = {}
    if len(purpose.strip()) < 4:
        errors["purpose"] = ["请具体写明查看的用途"]
    limit = int(settings.LINGJING_CHILD_ACCESS_MAX_HOURS)
    if not 1 <= hours <= limit:
        errors["hours"] = [f"有效时间须在 1 到 {limit} 小时之间"]
    if not is_child(child):
        errors["child"] = ["该用户不是未满十四周岁的儿童，无需此流程"]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic(durable=True):
        req = ChildAccessRequest.objects.create(
            child=child, requested_by=acting_user, purpose=purpose.strip(), hours=hours
        )
        record(AuditEvent.CHILD_ACCESS_REQUESTED, acting_user=acting_user, subject=f"u:{child.pk}", obj=req,
               details={"hours": hours}, personal={"purpose": req.purpose})
    return req


def do_decide_child_access(
    req: ChildAccessRequest, *, approve: bool, note: str, acting_user: Any
) -> ChildAccessRequest:
    """A second member of staff approves (access opens for ``hours``) or rejects the request."""
    if not _staff_with(acting_user, "children.approve_childaccessrequest"):
        raise PermissionDenied("没有审批查看儿童个人信息的权限")
    if acting_user.pk == req.requested_by_id:
        raise PermissionDenied("申请人不能审批自己的申请，须由另一名工作人员审批")
    with transaction.atomic(durable=True):
        locked = ChildAccessRequest.objects.select_for_update().get(pk=req.pk)
        if locked.status != AccessStatus.PENDING:
            raise ValidationError("该申请已处理")
        now = timezone.now()
        locked.status = AccessStatus.APPROVED if approve else AccessStatus.REJECTED
        locked.decided_by = acting_user
        locked.decided_at = now
        locked.decision_note = note.strip()
        locked.expires_at = now + dt.timedelta(hours=locked.hours) if approve else None
        locked.save()
        record(AuditEvent.CHILD_ACCESS_DECIDED, acting_user=acting_user, subject=f"u:{locked.child_id}", obj=locked,
               details={"approved": approve, "requested_by": f"u:{locked.requested_by_id}"})
    return locked


def do_revoke_child_access(req: ChildAccessRequest, *, acting_user: Any) -> ChildAccessRequest:
    """End an approval early (the requester when done, or the approver)."""
    if acting_user.pk not in (req.requested_by_id, req.decided_by_id) and not _staff_with(
        acting_user, "children.approve_childaccessrequest"
    ):
        raise PermissionDenied("没有撤销该申请的权限")
    with transaction.atomic(durable=True):
        locked = ChildAccessRequest.objects.select_for_update().get(pk=req.pk)
        if locked.status in (AccessStatus.APPROVED, AccessStatus.PENDING):
            locked.status = AccessStatus.REVOKED
            locked.expires_at = timezone.now()
            locked.save(update_fields=["status", "expires_at"])
            record(AuditEvent.CHILD_ACCESS_DECIDED, acting_user=acting_user, subject=f"u:{locked.child_id}",
                   obj=locked, details={"revoked": True})
    return locked


def do_log_child_access(grant: ChildAccessRequest, *, staff: Any, action: str) -> ChildAccessLog:
    """Record one opening of a child's data under an approval (who, when, why, what)."""
    with transaction.atomic(durable=True):
        entry = ChildAccessLog.objects.create(
            child_id=grant.child_id, staff=staff, grant=grant, purpose=grant.purpose, action=action[:40]
        )
        record(AuditEvent.CHILD_RECORD_OPENED, acting_user=staff, subject=f"u:{grant.child_id}", obj=entry,
               details={"grant": str(grant.pk), "action": entry.action})
    return entry


# --- unconsented children ---------------------------------------------------------------------------------


def needs_deletion(user_id: Any) -> Any:
    """The user, if they are a child with an active account and no confirmed guardian consent; else None."""
    from lingjing.accounts.models import GuardianConsent, GuardianStatus, UserStatus

    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None or user.status != UserStatus.ACTIVE or user.is_staff:
        return None
    if not known_child(user):
        return None
    if GuardianConsent.objects.filter(child_id=user.pk, status=GuardianStatus.CONFIRMED).exists():
        return None
    return user


def do_record_unconsented_child(child: Any, *, trigger: str) -> UnconsentedChild | None:
    """Record the finding; None when a deletion for this child is already under way (the task ran twice)."""
    with transaction.atomic(durable=True):
        if UnconsentedChild.objects.select_for_update().filter(
            child_id=child.pk, status=UnconsentedStatus.DELETING
        ).exists():
            return None
        row = UnconsentedChild.objects.create(child=child, trigger=trigger[:40])
        record(AuditEvent.CHILD_UNCONSENTED_FOUND, actor="system", subject=f"u:{child.pk}", obj=row,
               details={"trigger": row.trigger})
    return row


def do_finish_unconsented_child(row: UnconsentedChild) -> None:
    with transaction.atomic(durable=True):
        UnconsentedChild.objects.filter(pk=row.pk).update(status=UnconsentedStatus.DELETED,
                                                           finished_at=timezone.now())
        record(AuditEvent.CHILD_UNCONSENTED_FOUND, actor="system", subject=f"u:{row.child_id}", obj=row,
               details={"deleted": True})


# --- guardians --------------------------------------------------------------------------------------------


def _guardian_actor(guardian_phone: str) -> str:
    from lingjing.accounts.actions import phone_ref

    return "guardian:" + phone_ref(guardian_phone)


def do_record_guardian_view(child: Any, *, guardian_phone: str) -> None:
    with transaction.atomic(durable=True):
        record(AuditEvent.CHILD_GUARDIAN_VIEWED, actor=_guardian_actor(guardian_phone), subject=f"u:{child.pk}",
               obj=child)


def do_guardian_correct(child: Any, *, nickname: str | None, birth_date: dt.date | None,
                        guardian_phone: str) -> list[str]:
    """The guardian corrects the child's nickname or birth date (policy 五(二) exercised for the child).

    A corrected birth date that makes the person 14 or older leaves the children's regime at once. Answers the
    fields changed.
    """
    from lingjing.accounts.actions import NicknameTaken
    from lingjing.accounts.validators import clean_nickname, nickname_key

    user_model = get_user_model()
    changed: list[str] = []
    with transaction.atomic(durable=True):
        locked = user_model.objects.select_for_update().get(pk=child.pk)
        if nickname is not None and nickname != locked.nickname:
            value = clean_nickname(nickname)
            key = nickname_key(value)
            if user_model.objects.filter(nickname_key=key).exclude(pk=locked.pk).exists():
                raise NicknameTaken()
            locked.nickname = value
            locked.nickname_key = key
            changed += ["nickname", "nickname_key"]
        if birth_date is not None and birth_date.isoformat() != (locked.birth_date or ""):
            if birth_date > timezone.localdate():
                raise ValidationError({"birth_date": ["出生日期不能晚于今天"]})
            locked.birth_date = birth_date.isoformat()
            changed.append("birth_date")
        if not changed:
            return []
        locked.save(update_fields=changed)
        record(AuditEvent.CHILD_GUARDIAN_CORRECTED, actor=_guardian_actor(guardian_phone),
               subject=f"u:{locked.pk}", obj=locked, details={"fields": [f for f in changed if f != "nickname_key"]})
    return changed


# --- yearly report ----------------------------------------------------------------------------------------


def do_generate_children_report(year: int, *, acting_user: Any = None) -> ChildrenReport:
    """Build and store the report of ``year`` (``lingjing children report --year Y``)."""
    from lingjing.children.report import build_counts, render_markdown

    counts = build_counts(year)
    with transaction.atomic(durable=True):
        report = ChildrenReport.objects.create(
            year=year, generated_by=actor_ref(acting_user), counts=counts, markdown=render_markdown(year, counts)
        )
        record(AuditEvent.CHILD_REPORT_GENERATED, acting_user=acting_user, obj=report, details={"year": year})
    return report
