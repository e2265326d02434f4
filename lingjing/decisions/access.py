"""Access chokepoints of the decisions app."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from lingjing.decisions.models import Decision, ReviewRequest, ReviewStatus


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


def my_decisions(user: Any) -> QuerySet[Decision]:
    if not getattr(user, "is_authenticated", False):
        return Decision.objects.none()
    return Decision.objects.filter(subject_id=user.pk).order_by("-made_at", "-id")


def access_decision(user: Any, decision_id: Any) -> Decision:
    """One of the person's own decisions, or Http404."""
    pk = _uuid(decision_id)
    row = my_decisions(user).filter(pk=pk).first() if pk else None
    if row is None:
        raise Http404("决定不存在")
    return row


def _reviewer(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_staff
                and user.has_perm("decisions.handle_reviewrequest"))


def open_reviews(user: Any) -> QuerySet[ReviewRequest]:
    if not _reviewer(user):
        raise PermissionDenied("没有处理决策复核的权限")
    return ReviewRequest.objects.filter(status=ReviewStatus.OPEN).select_related("decision").order_by("created_at")


def access_review(user: Any, review_id: Any, *, write: bool = False) -> ReviewRequest:
    """A review for staff who handle reviews (others: 403). Nobody reviews a decision about themselves."""
    if not _reviewer(user):
        raise PermissionDenied("没有处理决策复核的权限")
    pk = _uuid(review_id)
    row = ReviewRequest.objects.select_related("decision").filter(pk=pk).first() if pk else None
    if row is None or (write and row.requester_id == user.pk):
        raise Http404("复核不存在")
    return row
