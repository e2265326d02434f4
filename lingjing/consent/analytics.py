"""Pseudonymous analytics: usage frequency, errors, performance and acquisition source (policy 一(五), C1.9).

Design
------
* Collected only when :func:`lingjing.consent.service.has_consent` says yes for ``analytics`` (which is never
  the case under ``DNT: 1`` / ``Sec-GPC: 1``) *and* this browser allows analytics cookies.
* The browser carries a random id (cookie ``lj_aid``). Events store ``HMAC(daily secret, id)`` truncated, never
  the id, never a user key, IP, user agent or full URL: the route pattern (``works/<uuid:pk>``), the status, the
  duration, and for arrivals the ``utm_source`` value or the referring domain.
* The daily secret lives in :class:`AnalyticsSecret` and is deleted once its day is over
  (:func:`purge_expired`), so yesterday's pseudonyms can no longer be recomputed from a browser id, and
  pseudonyms of different days cannot be joined.
* Raw events are deleted after ``LINGJING_ANALYTICS_RETENTION_DAYS`` (30). Reports (:func:`report`) only show
  groups with at least ``LINGJING_ANALYTICS_MIN_GROUP`` (5) distinct pseudonyms.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections import Counter, defaultdict
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from lingjing.consent.models import AnalyticsEvent, AnalyticsSecret, EventKind

_SOURCE_RE = re.compile(r"[^a-z0-9_.\-]")


def retention_days() -> int:
    return int(getattr(settings, "LINGJING_ANALYTICS_RETENTION_DAYS", 30))


def min_group() -> int:
    return max(5, int(getattr(settings, "LINGJING_ANALYTICS_MIN_GROUP", 5)))


def daily_secret(day: dt.date | None = None) -> bytes:
    day = day or timezone.localdate()
    row = AnalyticsSecret.objects.filter(day=day).first()
    if row is None:
        try:
            with transaction.atomic():
                row = AnalyticsSecret.objects.create(day=day, secret=secrets.token_hex(32))
        except IntegrityError:
            row = AnalyticsSecret.objects.get(day=day)
    return bytes.fromhex(row.secret)


def pseudonym(browser_id: str, day: dt.date | None = None) -> str:
    return hmac.new(daily_secret(day), browser_id.encode(), hashlib.sha256).hexdigest()[:32]


def new_browser_id() -> str:
    return secrets.token_urlsafe(18)


def acquisition_source(request: HttpRequest) -> str:
    """``utm_source`` (normalised) or the referring site's domain; never a full URL or query."""
    utm = request.GET.get("utm_source", "")
    if utm:
        return _SOURCE_RE.sub("", utm.lower())[:50]
    referer = request.headers.get("Referer", "")
    if not referer:
        return ""
    host = (urlsplit(referer).hostname or "").lower()
    own = request.get_host().split(":")[0].lower()
    if not host or host == own:
        return ""
    return host[:100]


def route_of(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    route = getattr(match, "route", None) if match is not None else None
    return ("/" + str(route)) if route is not None else "(unmatched)"


def record_request(request: HttpRequest, *, browser_id: str, status: int, duration_ms: int, page: bool) -> int:
    """Write the events one request gives rise to; returns how many."""
    now = timezone.now()
    day = timezone.localdate(now)
    who = pseudonym(browser_id, day)
    route = route_of(request)[:200]
    events = []
    if page:
        events.append(AnalyticsEvent(at=now, day=day, kind=EventKind.PAGEVIEW, route=route, status=status,
                                     duration_ms=duration_ms, pseudonym=who))
    if status >= 500:
        events.append(AnalyticsEvent(at=now, day=day, kind=EventKind.ERROR, route=route, status=status,
                                     duration_ms=duration_ms, pseudonym=who))
    source = acquisition_source(request)
    if source and page:
        events.append(AnalyticsEvent(at=now, day=day, kind=EventKind.ACQUISITION, route=route, status=status,
                                     source=source, pseudonym=who))
    AnalyticsEvent.objects.bulk_create(events)
    return len(events)


def purge_expired(now: dt.datetime | None = None) -> dict[str, Any]:
    """Delete raw events past retention and every secret of a past day. Safe to run any number of times."""
    today = timezone.localdate(now or timezone.now())
    cutoff = today - dt.timedelta(days=retention_days())
    events, _ = AnalyticsEvent.objects.filter(day__lt=cutoff).delete()
    keys, _ = AnalyticsSecret.objects.filter(day__lt=today).delete()
    return {"events_deleted": events, "secrets_deleted": keys, "cutoff": cutoff.isoformat()}


# --- reports ----------------------------------------------------------------------------------------------

FREQUENCY_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("1", 1, 1), ("2-5", 2, 5), ("6-20", 6, 20), ("21+", 21, None),
)


def _bucket(n: int) -> str:
    for label, low, high in FREQUENCY_BUCKETS:
        if n >= low and (high is None or n <= high):
            return label
    return FREQUENCY_BUCKETS[-1][0]


def _percentile(values: list[int], q: float) -> int | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def report(start: dt.date, end: dt.date, *, k: int | None = None) -> dict[str, Any]:
    """Aggregates for ``start``..``end`` (inclusive). A group with fewer than ``k`` (>= 5) distinct pseudonyms is
    left out and only counted in ``suppressed``, so no row describes fewer than k people."""
    k = max(min_group(), k or 0)
    qs = AnalyticsEvent.objects.filter(day__gte=start, day__lte=end).values_list(
        "day", "kind", "route", "duration_ms", "source", "pseudonym"
    )
    pages: dict[tuple[dt.date, str], dict[str, Any]] = defaultdict(lambda: {"views": 0, "who": set(), "ms": []})
    errors: dict[tuple[dt.date, str], dict[str, Any]] = defaultdict(lambda: {"count": 0, "who": set()})
    sources: dict[tuple[dt.date, str], dict[str, Any]] = defaultdict(lambda: {"count": 0, "who": set()})
    per_person: Counter[tuple[dt.date, str]] = Counter()
    for day, kind, route, ms, source, who in qs.iterator(chunk_size=2000):
        if kind == EventKind.PAGEVIEW:
            group = pages[(day, route)]
            group["views"] += 1
            group["who"].add(who)
            if ms is not None:
                group["ms"].append(ms)
            per_person[(day, who)] += 1
        elif kind == EventKind.ERROR:
            errors[(day, route)]["count"] += 1
            errors[(day, route)]["who"].add(who)
        elif kind == EventKind.ACQUISITION:
            sources[(day, source)]["count"] += 1
            sources[(day, source)]["who"].add(who)
    suppressed = 0
    page_rows = []
    for (day, route), g in sorted(pages.items()):
        if len(g["who"]) < k:
            suppressed += 1
            continue
        page_rows.append({"day": day.isoformat(), "route": route, "views": g["views"], "visitors": len(g["who"]),
                          "p50_ms": _percentile(g["ms"], 0.5), "p95_ms": _percentile(g["ms"], 0.95)})
    error_rows = []
    for (day, route), g in sorted(errors.items()):
        if len(g["who"]) < k:
            suppressed += 1
            continue
        error_rows.append({"day": day.isoformat(), "route": route, "errors": g["count"], "visitors": len(g["who"])})
    source_rows = []
    for (day, source), g in sorted(sources.items()):
        if len(g["who"]) < k:
            suppressed += 1
            continue
        source_rows.append({"day": day.isoformat(), "source": source, "arrivals": g["count"],
                            "visitors": len(g["who"])})
    freq: dict[tuple[dt.date, str], int] = Counter()
    for (day, _who), n in per_person.items():
        freq[(day, _bucket(n))] += 1
    frequency_rows = []
    for (day, bucket), people in sorted(freq.items()):
        if people < k:
            suppressed += 1
            continue
        frequency_rows.append({"day": day.isoformat(), "pages_per_visitor": bucket, "visitors": people})
    return {"from": start.isoformat(), "to": end.isoformat(), "min_group": k, "pages": page_rows,
            "errors": error_rows, "sources": source_rows, "frequency": frequency_rows, "suppressed": suppressed}
