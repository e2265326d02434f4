"""Access chokepoints of the sharing app: views and API handlers fetch through these only."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from lingjing.sharing.models import LegalRequest, Recipient, SharingRecord, SuccessorReport


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


def my_sharing_records(user: Any) -> QuerySet[SharingRecord]:
    """The person's own sharing log as they may see it now (records under a legal confidentiality period wait)."""
    if not getattr(user, "is_authenticated", False):
        return SharingRecord.objects.none()
    return (
        SharingRecord.objects.filter(person_id=user.pk, visible_from__lte=timezone.now())
        .select_related("recipient")
        .order_by("-at", "-id")
    )


def access_sharing_record(user: Any, record_id: Any) -> SharingRecord:
    """One record of the person's own log, or Http404 (someone else's record does not exist for them)."""
    pk = _uuid(record_id)
    row = my_sharing_records(user).filter(pk=pk).first() if pk else None
    if row is None:
        raise Http404("记录不存在")
    return row


def access_recipient(slug: str) -> Recipient:
    """An active recipient (public information), or Http404."""
    row = Recipient.objects.filter(slug=slug, active=True).first()
    if row is None:
        raise Http404("接收方不存在")
    return row


def _staff_with(user: Any, perm: str) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_staff and user.has_perm(perm))


def access_legal_request(user: Any, request_id: Any, *, write: bool = False) -> LegalRequest:
    """A legal request for staff allowed to see it (``write``: to decide it); others get 404 / 403."""
    if not _staff_with(user, "sharing.view_legalrequest"):
        raise Http404("请求不存在")
    if write and not _staff_with(user, "sharing.decide_legalrequest"):
        raise PermissionDenied("没有审批国家机关调取请求的权限")
    pk = _uuid(request_id)
    row = LegalRequest.objects.select_related("authority", "requested_by", "decided_by").filter(pk=pk).first() \
        if pk else None
    if row is None:
        raise Http404("请求不存在")
    return row


def legal_requests_for(user: Any) -> QuerySet[LegalRequest]:
    if not _staff_with(user, "sharing.view_legalrequest"):
        return LegalRequest.objects.none()
    return LegalRequest.objects.select_related("authority").order_by("-requested_at")


def access_successor_report(report_id: Any) -> SuccessorReport:
    """For the management command (operators on the server)."""
    pk = _uuid(report_id)
    row = SuccessorReport.objects.filter(pk=pk).first() if pk else None
    if row is None:
        raise Http404("报告不存在")
    return row
