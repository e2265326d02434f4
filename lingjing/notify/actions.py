"""Every write of the notification service: reading, preferences, the notification email, email codes, delivery
outcomes and announcements. One durable transaction each with its audit row (claims are single conditional
UPDATEs, as the task rules ask). ``notify`` itself lives in ``service.py``: it joins its caller's transaction."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from lingjing.notify.models import (
    MANDATORY,
    Announcement,
    Category,
    Channel,
    CodePurpose,
    Delivery,
    DeliveryStatus,
    EmailCode,
    FanoutState,
    Notification,
    NotifySettings,
    Preference,
)
from lingjing.security.audit import AuditEvent, record

LANGUAGES = ("zh-hans", "en")


def _subject(user: Any) -> str:
    return f"u:{user.pk}"


# --- the inbox ----------------------------------------------------------------------------------------------


def do_mark_read(notification: Notification, *, acting_user: Any) -> Notification:
    with transaction.atomic(durable=True):
        changed = Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=timezone.now())
        if changed:
            record(AuditEvent.NOTIFY_READ, acting_user=acting_user, subject=f"u:{notification.user_id}",
                   obj=notification, details={"count": 1})
    notification.refresh_from_db(fields=["read_at"])
    return notification


def do_mark_all_read(user: Any, *, acting_user: Any) -> int:
    with transaction.atomic(durable=True):
        count = Notification.objects.filter(user_id=user.pk, read_at__isnull=True).update(read_at=timezone.now())
        if count:
            record(AuditEvent.NOTIFY_READ, acting_user=acting_user, subject=_subject(user), details={"count": count})
    return count


# --- preferences --------------------------------------------------------------------------------------------


def clean_channels(category: str, channels: Iterable[str]) -> list[str]:
    from lingjing.notify.service import available_channels

    if category not in Category.values:
        raise ValidationError(f"未知的通知类别：{category}")
    wanted = list(dict.fromkeys(channels))
    unknown = [c for c in wanted if c not in Channel.values]
    if unknown:
        raise ValidationError("未知的通知渠道：" + "、".join(unknown))
    unavailable = [c for c in wanted if c not in available_channels()]
    if unavailable:
        raise ValidationError("本站未开通的通知渠道：" + "、".join(unavailable))
    if category in MANDATORY and Channel.INBOX not in wanted:
        raise ValidationError("服务公告和安全通知不能关闭，至少会发送到站内信")
    return [c for c in Channel.values if c in wanted]


def do_set_channels(user: Any, category: str, channels: Iterable[str], *, acting_user: Any) -> Preference:
    """The person chooses the channels of one category (service and security keep the inbox: policy 一(三))."""
    cleaned = clean_channels(category, channels)
    with transaction.atomic(durable=True):
        pref, _ = Preference.objects.select_for_update().get_or_create(user_id=user.pk, category=category)
        before = list(pref.channels)
        pref.channels = cleaned
        pref.updated_at = timezone.now()
        pref.save(update_fields=["channels", "updated_at"])
        record(AuditEvent.NOTIFY_PREFERENCES_CHANGED, acting_user=acting_user, subject=_subject(user), obj=pref,
               details={"category": category, "channels": cleaned, "before": before})
    return pref


def _settings_row(user: Any) -> NotifySettings:
    row, _ = NotifySettings.objects.select_for_update().get_or_create(user_id=user.pk)
    return row


def do_set_language(user: Any, language: str, *, acting_user: Any) -> NotifySettings:
    if language not in LANGUAGES:
        raise ValidationError(f"不支持的语言：{language}")
    with transaction.atomic(durable=True):
        row = _settings_row(user)
        if row.language != language:
            row.language = language
            row.updated_at = timezone.now()
            row.save(update_fields=["language", "updated_at"])
            record(AuditEvent.NOTIFY_PREFERENCES_CHANGED, acting_user=acting_user, subject=_subject(user), obj=row,
                   details={"language": language})
    return row


def normalise_email(raw: str) -> str:
    address = (raw or "").strip()
    try:
        validate_email(address)
    except ValidationError:
        raise ValidationError("请输入有效的电子邮箱地址") from None
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}"


def do_set_notify_email(user: Any, email: str, *, acting_user: Any) -> NotifySettings:
    """Record a new (unconfirmed) notification email, or remove it with ``""``. Mail goes only to confirmed ones."""
    address = normalise_email(email) if email.strip() else ""
    with transaction.atomic(durable=True):
        row = _settings_row(user)
        row.email = address or None
        row.email_confirmed_at = None
        row.updated_at = timezone.now()
        row.save(update_fields=["email", "email_confirmed_at", "updated_at"])
        record(AuditEvent.NOTIFY_EMAIL_SET, acting_user=acting_user, subject=_subject(user), obj=row,
               details={"removed": not address})
    return row


def do_confirm_notify_email(user: Any, *, acting_user: Any) -> NotifySettings:
    """Mark the stored address confirmed (the caller checked the code sent to it)."""
    with transaction.atomic(durable=True):
        row = _settings_row(user)
        if not row.email:
            raise ValidationError("没有待确认的邮箱")
        row.email_confirmed_at = timezone.now()
        row.updated_at = row.email_confirmed_at
        row.save(update_fields=["email_confirmed_at", "updated_at"])
        record(AuditEvent.NOTIFY_EMAIL_CONFIRMED, acting_user=acting_user, subject=_subject(user), obj=row)
    return row


# --- email codes --------------------------------------------------------------------------------------------


def do_issue_email_code(
    subject: str, purpose: str, address_index: str, make_hmac: Any, *, ttl: dt.timedelta, acting_user: Any
) -> EmailCode:
    """Store a new code (``make_hmac(row_id)`` gives its HMAC) and kill the subject's earlier live codes."""
    if purpose not in CodePurpose.values:
        raise ValueError(purpose)
    now = timezone.now()
    with transaction.atomic(durable=True):
        EmailCode.objects.filter(subject_ref=subject, purpose=purpose, consumed_at__isnull=True).update(
            consumed_at=now
        )
        row = EmailCode(subject_ref=subject, purpose=purpose, address_index=address_index, created_at=now,
                        expires_at=now + ttl)
        row.code_hmac = make_hmac(row.pk)
        row.save(force_insert=True)
        record(AuditEvent.NOTIFY_EMAIL_CODE_SENT, acting_user=acting_user, subject=subject, obj=row,
               details={"purpose": purpose})
    return row


# --- deliveries ---------------------------------------------------------------------------------------------


def claim_delivery(delivery_id: str) -> Delivery | None:
    """Move a due delivery to ``sending`` and count the attempt; None when someone else has it or it is not due."""
    now = timezone.now()
    claimed = (
        Delivery.objects.filter(pk=delivery_id, status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING])
        .filter(Q(next_retry_at__isnull=True) | Q(next_retry_at__lte=now))
        .update(status=DeliveryStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    )
    if not claimed:
        return None
    return Delivery.objects.filter(pk=delivery_id).first()


def reclaim_stale_delivery(delivery_id: str, *, older_than: dt.datetime) -> bool:
    """A ``sending`` delivery whose worker died goes back to ``retrying`` (due now)."""
    return bool(
        Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.SENDING, claimed_at__lte=older_than).update(
            status=DeliveryStatus.RETRYING, next_retry_at=timezone.now(), last_error="worker_lost"
        )
    )


def _enqueue_retry(delivery_id: str, when: dt.datetime) -> None:
    from lingjing.notify.tasks import deliver

    if deliver.get_backend().supports_defer:
        deliver.using(run_after=when).enqueue(delivery_id)
    # else (the immediate backend of tests): the sweep ``delivery.retry_due`` sends it when due


def do_record_delivery_outcome(delivery: Delivery, *, error: str, permanent: bool) -> Delivery:
    """Record one attempt: sent (no ``error``), failed for good, or a retry at the back-off time."""
    from django.conf import settings

    from lingjing.notify.delivery import backoff

    now = timezone.now()
    with transaction.atomic(durable=True):
        row = Delivery.objects.select_for_update().get(pk=delivery.pk)
        if not error:
            row.status, row.sent_at, row.last_error, row.next_retry_at = DeliveryStatus.SENT, now, "", None
            event = AuditEvent.NOTIFY_DELIVERED
        elif permanent or row.attempts >= settings.LINGJING_NOTIFY_MAX_ATTEMPTS:
            row.status, row.last_error, row.next_retry_at = DeliveryStatus.FAILED, error[:200], None
            event = AuditEvent.NOTIFY_DELIVERY_FAILED
        else:
            row.status, row.last_error = DeliveryStatus.RETRYING, error[:200]
            row.next_retry_at = now + backoff(row.attempts)
            event = AuditEvent.NOTIFY_RETRY_SCHEDULED
            transaction.on_commit(functools.partial(_enqueue_retry, str(row.pk), row.next_retry_at))
        row.save(update_fields=["status", "sent_at", "last_error", "next_retry_at"])
        record(event, actor="system", subject=row.subject_ref, obj=row,
               details={"channel": row.channel, "attempts": row.attempts, "error": row.last_error,
                        "next_retry_at": row.next_retry_at.isoformat() if row.next_retry_at else None})
    return row


# --- announcements ------------------------------------------------------------------------------------------


def can_publish(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_staff
                and (user.has_perm("notify.add_announcement") or user.has_perm("notify.change_announcement")))


def announcement_problems(ann: Announcement) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    if not (ann.title_zh or "").strip():
        problems.setdefault("title_zh", []).append("请填写中文标题")
    if not (ann.body_zh or "").strip():
        problems.setdefault("body_zh", []).append("请填写中文正文")
    if ann.ends_at is not None and ann.ends_at <= ann.starts_at:
        problems.setdefault("ends_at", []).append("结束时间须晚于发布时间")
    return problems


def _schedule_fanout(announcement_id: int, starts_at: dt.datetime) -> None:
    from lingjing.notify.tasks import fan_out_announcement

    if starts_at <= timezone.now():
        fan_out_announcement.enqueue(announcement_id)
    elif fan_out_announcement.get_backend().supports_defer:
        fan_out_announcement.using(run_after=starts_at).enqueue(announcement_id)
    # else: ``lingjing notify run`` publishes it when due


def do_save_announcement(ann: Announcement, *, acting_user: Any) -> Announcement:
    """Create or edit an announcement. Once its time comes it goes into every active person's inbox (a task).

    Editing after the fan-out changes what every inbox shows (entries point at the announcement); ending it early
    is setting ``ends_at``. The start time of an announcement already delivered cannot move.
    """
    if not can_publish(acting_user):
        raise PermissionDenied("没有发布公告的权限")
    problems = announcement_problems(ann)
    if problems:
        raise ValidationError(problems)
    with transaction.atomic(durable=True):
        creating = ann.pk is None
        if not creating:
            before = Announcement.objects.select_for_update().get(pk=ann.pk)
            if before.fanout_state != FanoutState.SCHEDULED and before.starts_at != ann.starts_at:
                raise ValidationError({"starts_at": ["公告已送达收件箱，不能再修改发布时间"]})
            ann.fanout_state, ann.fanout_cursor, ann.recipients = (
                before.fanout_state, before.fanout_cursor, before.recipients)
        else:
            ann.created_by = acting_user
        ann.updated_at = timezone.now()
        ann.save()
        record(AuditEvent.NOTIFY_ANNOUNCEMENT_SAVED, acting_user=acting_user, obj=ann,
               details={"created": creating, "kind": ann.kind, "starts_at": ann.starts_at.isoformat(),
                        "ends_at": ann.ends_at.isoformat() if ann.ends_at else None, "banner": ann.banner})
        if ann.fanout_state == FanoutState.SCHEDULED:
            transaction.on_commit(functools.partial(_schedule_fanout, ann.pk, ann.starts_at))
    return ann


def claim_announcement(announcement_id: int) -> Announcement | None:
    """Scheduled (and due) or interrupted → running; None when it is not due or already delivered."""
    claimed = Announcement.objects.filter(
        pk=announcement_id, fanout_state__in=[FanoutState.SCHEDULED, FanoutState.RUNNING],
        starts_at__lte=timezone.now(),
    ).update(fanout_state=FanoutState.RUNNING)
    return Announcement.objects.filter(pk=announcement_id).first() if claimed else None


def do_fan_out_chunk(ann: Announcement, user_ids: list[Any]) -> int:
    """One chunk: inbox entries for ``user_ids`` (sorted), the cursor moved past them, one audit row."""
    with transaction.atomic(durable=True):
        Notification.objects.bulk_create(
            [Notification(user_id=uid, category=ann.category, template="announcement", announcement=ann,
                          created_at=ann.starts_at) for uid in user_ids],
            ignore_conflicts=True,
        )
        Announcement.objects.filter(pk=ann.pk).update(
            fanout_cursor=str(user_ids[-1]), recipients=F("recipients") + len(user_ids)
        )
        record(AuditEvent.NOTIFY_ANNOUNCEMENT_DELIVERED, actor="system", obj=ann,
               details={"inboxes": len(user_ids), "category": ann.category})
    return len(user_ids)


def finish_announcement(ann: Announcement) -> None:
    Announcement.objects.filter(pk=ann.pk, fanout_state=FanoutState.RUNNING).update(
        fanout_state=FanoutState.DONE, fanned_out_at=timezone.now()
    )
