"""Access chokepoints for children's data.

* Staff: :func:`access_child_record` opens a child's data only under an approval a *second* member of staff gave
  to the one asking, for the purpose they stated, until it expires; every opening is logged
  (``ChildAccessLog``: who, when, why, what). Without one: 403 for staff, 404 for anyone else.
* Guardians: :func:`access_guardian_child` lets a guardian reach a child whose guardian request was made with the
  phone number they proved by SMS code on the accounts app's guardian page (``/accounts/guardian/``).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.utils import timezone

from lingjing.accounts.guardian import guardian_proven_phone
from lingjing.children.models import AccessStatus, ChildAccessRequest
from lingjing.children.rules import is_child


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


def _staff(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_staff)


def active_grant(staff: Any, child_id: Any) -> ChildAccessRequest | None:
    """The approval under which ``staff`` may open this child's data now, if any."""
    return (
        ChildAccessRequest.objects.filter(
            child_id=child_id, requested_by_id=staff.pk, status=AccessStatus.APPROVED, expires_at__gt=timezone.now()
        )
        .order_by("-expires_at")
        .first()
    )


def access_child_record(staff: Any, child_id: Any, *, action: str = "view") -> tuple[Any, ChildAccessRequest]:
    """The child and the approval used, after logging the opening. 404 for non-staff and non-children,
    PermissionDenied for staff without a live approval."""
    from lingjing.children.actions import do_log_child_access

    if not _staff(staff):
        raise Http404("内容不存在")
    pk = _uuid(child_id)
    child = get_user_model().objects.filter(pk=pk).first() if pk else None
    if child is None or not is_child(child):
        raise Http404("内容不存在")
    grant = active_grant(staff, child.pk)
    if grant is None:
        raise PermissionDenied("查看儿童个人信息须先提交用途说明，并经另一名工作人员审批（限时有效）")
    do_log_child_access(grant, staff=staff, action=action)
    return child, grant


def access_request(staff: Any, request_id: Any) -> ChildAccessRequest:
    """An access request, for staff who may ask or approve."""
    if not (_staff(staff) and (staff.has_perm("children.add_childaccessrequest")
                               or staff.has_perm("children.approve_childaccessrequest"))):
        raise Http404("内容不存在")
    pk = _uuid(request_id)
    row = ChildAccessRequest.objects.filter(pk=pk).first() if pk else None
    if row is None:
        raise Http404("内容不存在")
    return row


def requests_for(staff: Any) -> QuerySet[ChildAccessRequest]:
    if not (_staff(staff) and (staff.has_perm("children.add_childaccessrequest")
                               or staff.has_perm("children.approve_childaccessrequest"))):
        return ChildAccessRequest.objects.none()
    return ChildAccessRequest.objects.order_by("-requested_at")


# --- guardians --------------------------------------------------------------------------------------------


def proven_guardian_phone(request: HttpRequest) -> str | None:
    """The guardian number proven by SMS code in this browser session (the accounts app's public helper)."""
    return guardian_proven_phone(request)


def guardian_children(phone: str) -> list[Any]:
    """The guardian requests (pending or confirmed) made with this number, children attached."""
    from lingjing.accounts.guardian import requests_for as guardian_requests

    return guardian_requests(phone)


def access_guardian_child(request: HttpRequest, consent_id: Any) -> tuple[Any, Any, str]:
    """(child, guardian consent, guardian phone) for a proven guardian of that child; Http404 otherwise."""
    phone = proven_guardian_phone(request)
    pk = _uuid(consent_id)
    if phone is None or pk is None:
        raise Http404("内容不存在")
    for consent in guardian_children(phone):
        if consent.pk == pk and consent.child is not None:
            return consent.child, consent, phone
    raise Http404("内容不存在")
