"""Security API: a person's own sign-in history (the same as ``/accounts/security/history``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Schema

from lingjing.api import AUTH, ApiError

PREFIX = "/"
router = Router(tags=["security"])


class HistoryItem(Schema):
    at: str
    event: str
    label: str
    method: str
    channel: str
    network: str
    reason: str


class HistoryOut(Schema):
    items: list[HistoryItem]


@router.get("/me/sign-in-history", response=HistoryOut, auth=AUTH, summary="登录记录（近 90 天）")
def sign_in_history(request: HttpRequest) -> dict[str, Any]:
    from lingjing.secops.views import FAILURE_REASONS, HISTORY_DAYS, HISTORY_EVENTS
    from lingjing.security.audit_models import AuditEntry

    user = request.user
    if not getattr(user, "is_authenticated", False):
        raise ApiError(401, "unauthenticated", "请先登录")
    since = timezone.now() - dt.timedelta(days=HISTORY_DAYS)
    entries = (AuditEntry.objects.filter(subject=f"u:{user.pk}", event__in=list(HISTORY_EVENTS), at__gte=since)
               .order_by("-seq").defer("sealed")[:200])
    return {"items": [
        {"at": timezone.localtime(e.at).isoformat(), "event": e.event, "label": HISTORY_EVENTS[e.event],
         "method": str(e.details.get("method", "")), "channel": str(e.details.get("channel", "")),
         "network": str(e.details.get("ip", "")), "reason": FAILURE_REASONS.get(e.details.get("reason", ""), "")}
        for e in entries
    ]}
