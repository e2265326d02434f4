"""Access chokepoints of the notification service: a person reaches only their own inbox entries."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from lingjing.notify.models import Announcement, Notification


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


def my_inbox(user: Any) -> QuerySet[Notification]:
    if not getattr(user, "is_authenticated", False):
        return Notification.objects.none()
    return (Notification.objects.filter(user_id=user.pk).select_related("announcement")
            .order_by("-created_at", "-id"))


def access_notification(user: Any, notification_id: Any, *, write: bool = False) -> Notification:
    """One of the person's own inbox entries, or Http404 (for everyone else, staff included)."""
    pk = _uuid(notification_id)
    row = my_inbox(user).filter(pk=pk).first() if pk else None
    if row is None:
        raise Http404("通知不存在")
    return row


def access_announcement(announcement_id: Any) -> Announcement:
    """A published announcement (public: everyone may read it once its time has come)."""
    from django.utils import timezone

    try:
        pk = int(announcement_id)
    except (TypeError, ValueError):
        raise Http404("公告不存在") from None
    row = Announcement.objects.filter(pk=pk, starts_at__lte=timezone.now()).first()
    if row is None:
        raise Http404("公告不存在")
    return row
