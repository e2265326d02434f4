"""Public figures about how rights requests are answered (``/privacy/requests/metrics``): per type, requests
received, completed, refused, withdrawn and still open, the median days from receipt to completion, and how many
were completed within their deadline. Counts only; nothing about any person. Cached for ten minutes."""

from __future__ import annotations

import datetime as dt
import statistics
from typing import Any

from django.core.cache import cache
from django.db.models import Count, F, Q
from django.utils import timezone

from lingjing.privacy.requests.models import TYPE_EN, RequestStatus, RequestType, RightsRequest

CACHE_SECONDS = 600


def _median_days(rows: list[tuple[dt.datetime, dt.datetime | None]]) -> float | None:
    days = [(closed - received).total_seconds() / 86400 for received, closed in rows if closed and received]
    return round(statistics.median(days), 1) if days else None


def compute(since: dt.datetime | None = None) -> dict[str, Any]:
    qs = RightsRequest.objects.all()
    if since is not None:
        qs = qs.filter(received_at__gte=since)
    counts = {
        row["type"]: row
        for row in qs.values("type").annotate(
            received=Count("pk"),
            completed=Count("pk", filter=Q(status=RequestStatus.COMPLETED)),
            refused=Count("pk", filter=Q(status=RequestStatus.REFUSED)),
            withdrawn=Count("pk", filter=Q(status=RequestStatus.WITHDRAWN)),
            open=Count("pk", filter=Q(status__in=[RequestStatus.RECEIVED, RequestStatus.IN_PROGRESS,
                                                  RequestStatus.AWAITING_REQUESTER])),
        )
    }
    rows = []
    all_durations: list[tuple[dt.datetime, dt.datetime | None]] = []
    on_time_total = completed_total = 0
    for type_ in RequestType:
        c: dict[str, Any] = dict(counts.get(type_.value) or {})
        done = qs.filter(type=type_.value, status=RequestStatus.COMPLETED, closed_at__isnull=False)
        durations = list(done.values_list("received_at", "closed_at"))
        on_time = done.filter(closed_at__lte=F("due_at")).count()
        all_durations += durations
        on_time_total += on_time
        completed_total += len(durations)
        rows.append({
            "type": type_.value, "label": type_.label, "label_en": TYPE_EN[type_.value],
            "received": c.get("received", 0), "completed": c.get("completed", 0), "refused": c.get("refused", 0),
            "withdrawn": c.get("withdrawn", 0), "open": c.get("open", 0),
            "median_days": _median_days(durations), "on_time": on_time,
        })
    totals = {key: sum(r[key] for r in rows) for key in ("received", "completed", "refused", "withdrawn", "open")}
    totals["median_days"] = _median_days(all_durations)
    totals["on_time"] = on_time_total
    totals["on_time_share"] = round(100 * on_time_total / completed_total) if completed_total else None
    return {"rows": rows, "totals": totals, "since": since, "generated_at": timezone.now()}


def public_metrics() -> dict[str, Any]:
    """The last 12 months and all time, cached."""
    cached = cache.get("privacy:rights-metrics")
    if cached is not None:
        return dict(cached)
    year_ago = timezone.now() - dt.timedelta(days=365)
    value = {"year": compute(year_ago), "all": compute()}
    cache.set("privacy:rights-metrics", value, CACHE_SECONDS)
    return value
