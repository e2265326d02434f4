"""Access chokepoints of the rights requests: pages and API handlers fetch requests only through these.

Who may see a request:

* the signed-in person it is about (their own requests, including ones a guardian filed for them);
* a requester without a session who proved a phone number by SMS code on the web form within the last
  30 minutes (:func:`proven_phone_index`): the requests about the account with that number that it filed itself,
  and the requests filed by a guardian or relative with that number;
* a guardian proven on the guardian page (``children.access.proven_guardian_phone``): their children's requests
  they filed;
* staff with ``privacy.view_rightsrequest`` (``privacy.change_rightsrequest`` to act), never on a request about
  themselves.

Everyone else gets 404 (``Http404``; the API turns it into ``{"error": {"code": "not_found"}}``), so the existence
of someone else's request is not disclosed.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest

from lingjing.privacy.requests.models import (
    Propagation,
    RequesterKind,
    RequestProxy,
    RightsRequest,
)
from lingjing.security.crypto import blind_index

PROVEN_SESSION_KEY = "lj_rights_proven"
PROVEN_SECONDS = 1800


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


def remember_proven_phone(request: HttpRequest, e164: str, masked: str) -> None:
    """After a correct SMS code: this browser may act for that number for 30 minutes (the number stays in the
    server-side session only, to reach the requester by SMS; lookups use its keyed index)."""
    request.session.cycle_key()
    request.session[PROVEN_SESSION_KEY] = {"i": blind_index(e164), "p": e164, "m": masked, "t": time.time()}


def forget_proven_phone(request: HttpRequest) -> None:
    request.session.pop(PROVEN_SESSION_KEY, None)


def proven_phone(request: HttpRequest) -> dict[str, Any] | None:
    item = request.session.get(PROVEN_SESSION_KEY) if hasattr(request, "session") else None
    if not isinstance(item, dict) or time.time() - float(item.get("t", 0)) > PROVEN_SECONDS:
        return None
    return item


def proven_phone_index(request: HttpRequest) -> str | None:
    item = proven_phone(request)
    return str(item["i"]) if item else None


def account_by_phone(e164: str) -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(phone_index=blind_index(e164)).exclude(status="erased").first()


def proxies_for_phone(phone_index: str) -> QuerySet[RequestProxy]:
    """The applications and guardian registrations made with this (proven) phone."""
    return RequestProxy.objects.filter(phone_index=phone_index).order_by("-created_at")


def proven_account(request: HttpRequest) -> Any:
    """The account whose phone this browser proved (None when the number has no account)."""
    from django.contrib.auth import get_user_model

    index = proven_phone_index(request)
    if index is None:
        return None
    return get_user_model().objects.filter(phone_index=index).exclude(status="erased").first()


def _guardian_index(request: HttpRequest) -> str | None:
    try:
        from lingjing.children.access import proven_guardian_phone
    except ImportError:
        return None
    phone = proven_guardian_phone(request) if hasattr(request, "session") else None
    return blind_index(phone) if phone else None


@dataclass(frozen=True)
class Viewer:
    user: Any  # the signed-in person, or None
    phone_index: str | None  # proven on the web form
    guardian_index: str | None  # proven on the guardian page

    @property
    def anyone(self) -> bool:
        return bool(self.user is not None or self.phone_index or self.guardian_index)


def viewer_of(request: HttpRequest) -> Viewer:
    user = request.user if getattr(request.user, "is_authenticated", False) else None
    return Viewer(user=user, phone_index=proven_phone_index(request), guardian_index=_guardian_index(request))


def visible_requests(viewer: Viewer) -> QuerySet[RightsRequest]:
    """Every request this viewer may see, newest first."""
    q = Q(pk__in=[])
    if viewer.user is not None:
        q |= Q(user_id=viewer.user.pk)
    if viewer.phone_index:
        q |= Q(requester_phone_index=viewer.phone_index)
        q |= Q(requester_kind=RequesterKind.SELF, user__phone_index=viewer.phone_index)
        q |= Q(proxy__phone_index=viewer.phone_index)
    if viewer.guardian_index:
        q |= Q(requester_kind=RequesterKind.GUARDIAN, proxy__phone_index=viewer.guardian_index)
    return RightsRequest.objects.filter(q).select_related("proxy").order_by("-received_at")


def access_rights_request(viewer: Viewer, request_id: Any, *, write: bool = False) -> RightsRequest:
    """One request the viewer may see (``write``: act on as its requester), or Http404."""
    pk = _uuid(request_id)
    row = visible_requests(viewer).filter(pk=pk).select_related("user").first() if pk else None
    if row is None:
        raise Http404("请求不存在")
    own = viewer.user is not None and row.user_id == viewer.user.pk
    by_this_guardian = bool(viewer.guardian_index and row.proxy and row.proxy.phone_index == viewer.guardian_index)
    if write and own and row.requester_kind != RequesterKind.SELF and not by_this_guardian:
        raise Http404("请求不存在")  # a child signed in may follow what their guardian asked, not withdraw it
    return row


def viewer_actor(viewer: Viewer, req: RightsRequest) -> tuple[Any, str]:
    """(acting_user, actor) for actions taken by this viewer on ``req``."""
    if viewer.user is not None and req.user_id == viewer.user.pk:
        return viewer.user, ""
    if req.proxy is not None:
        prefix = "guardian" if req.requester_kind == RequesterKind.GUARDIAN else "relative"
        return None, f"{prefix}:{req.proxy.subject_ref}"
    return None, f"u:{req.user_id}"


# --- staff --------------------------------------------------------------------------------------------------


def is_rights_staff(user: Any, *, write: bool = False) -> bool:
    perm = "privacy.change_rightsrequest" if write else "privacy.view_rightsrequest"
    return bool(getattr(user, "is_authenticated", False) and user.is_staff and user.has_perm(perm))


def staff_requests(user: Any) -> QuerySet[RightsRequest]:
    if not is_rights_staff(user):
        return RightsRequest.objects.none()
    return RightsRequest.objects.exclude(user_id=user.pk).select_related("assigned_to", "proxy")


def access_staff_request(user: Any, request_id: Any, *, write: bool = False) -> RightsRequest:
    if not is_rights_staff(user, write=write):
        raise Http404("请求不存在")
    pk = _uuid(request_id)
    row = staff_requests(user).select_related("user").filter(pk=pk).first() if pk else None
    if row is None:
        raise Http404("请求不存在")
    return row


def staff_proxies(user: Any) -> QuerySet[RequestProxy]:
    if not is_rights_staff(user):
        return RequestProxy.objects.none()
    return RequestProxy.objects.filter(kind="relative").order_by("-created_at")


def access_staff_proxy(user: Any, proxy_id: Any, *, write: bool = False) -> RequestProxy:
    if not is_rights_staff(user, write=write):
        raise Http404("申请不存在")
    pk = _uuid(proxy_id)
    row = staff_proxies(user).filter(pk=pk).first() if pk else None
    if row is None:
        raise Http404("申请不存在")
    return row


def staff_propagations(user: Any) -> QuerySet[Propagation]:
    if not is_rights_staff(user):
        return Propagation.objects.none()
    return Propagation.objects.order_by("status", "-created_at")


def access_staff_propagation(user: Any, propagation_id: Any) -> Propagation:
    if not is_rights_staff(user, write=True):
        raise Http404("记录不存在")
    try:
        pk = int(propagation_id)
    except (TypeError, ValueError):
        raise Http404("记录不存在") from None
    row = staff_propagations(user).filter(pk=pk).first()
    if row is None:
        raise Http404("记录不存在")
    return row
