"""Request rate limits for every page and API call, shared between processes.

Design
------
* The counters live in Django's cache through ``lingjing.core.ratelimit`` (the database cache by default, Redis with
  ``REDIS_URL``), so every web process counts against the same buckets. Windows are fixed (per minute, per ten
  seconds, per hour).
* Buckets per request (:func:`buckets_for`): the client's address group (IPv4 address, IPv6 /64) and, when signed
  in, the account (a session's user id, or an API token's hash). Three kinds of limit:

  - ``rate_limited``: ordinary per-minute ceilings, generous because many people can share one address behind a
    carrier NAT;
  - ``impossible_rate``: more requests per account within ten seconds than a person can make;
  - ``bulk_scraping``: content reads (feed, works, search) per hour far beyond reading.

  The last two are security events: they are logged (once a minute per key) and raise the risk of sign-ins from
  that address (``risk.SIGNALS["abusive_source"]``).
* **Local batching** (:class:`SharedCounter`): a process adds its hits to the shared counter in batches of
  ``limit // LINGJING_RATE_LIMIT_BATCH_DIVISOR`` (at least one), and at once whenever its estimate (the shared count
  it last saw plus its own pending hits) would pass the limit. A process may so let through at most one batch
  (5 % of the limit by default) before it consults the others; in exchange ordinary requests cost no cache round
  trip at all. Small limits (tests, tight deployments) batch by one: exact counting.
* Failing open: if the cache store fails, the request passes and a warning is logged. The sign-in and SMS limits of
  ``accounts`` fail closed; a general request limit must not take the whole site down with the cache.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from lingjing.core import ratelimit
from lingjing.core.ratelimit import ALLOWED, Decision, Limit
from lingjing.secops.models import EventKind

log = logging.getLogger("lingjing.secops.ratelimits")


@dataclass(frozen=True)
class Bucket:
    limit: Limit
    key: str
    kind: EventKind
    scope: str  # "ip" | "user"


@dataclass
class _Local:
    bucket: int
    pending: int = 0
    shared: int = 0
    refused_until: float = 0.0


class SharedCounter:
    """Counts locally and adds to the shared counter in batches (see the module docstring)."""

    MAX_KEYS = 50_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: dict[tuple[str, str], _Local] = {}

    def clear(self) -> None:
        with self._lock:
            self._state.clear()

    def hit(self, limit: Limit, key: str, *, now: float | None = None) -> Decision:
        now = time.time() if now is None else now
        bucket = int(now // limit.window)
        batch = max(1, limit.limit // max(1, settings.LINGJING_RATE_LIMIT_BATCH_DIVISOR))
        with self._lock:
            state = self._state.get((limit.name, key))
            if state is None or state.bucket != bucket:
                if len(self._state) >= self.MAX_KEYS:
                    self._prune(now)
                state = self._state[(limit.name, key)] = _Local(bucket)
            if state.refused_until > now:
                return Decision(False, max(1, int(state.refused_until - now + 0.999)), limit, float(state.shared))
            state.pending += 1
            flush = state.pending >= batch or state.shared + state.pending > limit.limit
            cost, state.pending = (state.pending, 0) if flush else (0, state.pending)
        if not flush:
            return ALLOWED
        decision = ratelimit.hit(limit, key, cost=cost, now=now)
        with self._lock:
            state.shared = max(state.shared, int(decision.count))
            if not decision.allowed:
                state.refused_until = now + decision.retry_after
        return decision

    def _prune(self, now: float) -> None:
        for name_key, state in list(self._state.items()):
            if state.refused_until <= now:
                del self._state[name_key]


counter = SharedCounter()


def _user_key(request: Any) -> str:
    """The signed-in account without loading it: the session's user id, or the presented API token's hash."""
    header = str(request.META.get("HTTP_AUTHORIZATION", ""))
    if header.lower().startswith("bearer ") and header[7:].strip():
        return "t:" + hashlib.sha256(header[7:].strip().encode()).hexdigest()
    session = getattr(request, "session", None)
    if session is not None and request.COOKIES.get(settings.SESSION_COOKIE_NAME):
        user_id = session.get("_auth_user_id")
        if user_id:
            return f"u:{user_id}"
    return ""


def is_content_read(request: Any) -> bool:
    return request.method == "GET" and any(
        request.path.startswith(prefix) for prefix in settings.LINGJING_RATE_LIMIT_CONTENT_PATHS
    )


def buckets_for(request: Any) -> list[Bucket]:
    s = settings
    ip = ratelimit.ip_group(ratelimit.client_ip(request))
    user = _user_key(request)
    out = [Bucket(Limit("req:ip:minute", s.LINGJING_RATE_LIMIT_IP_PER_MINUTE, 60), ip, EventKind.RATE_LIMITED, "ip")]
    if user:
        out += [
            Bucket(Limit("req:user:10s", s.LINGJING_RATE_LIMIT_USER_PER_10S, 10), user, EventKind.IMPOSSIBLE_RATE,
                   "user"),
            Bucket(Limit("req:user:minute", s.LINGJING_RATE_LIMIT_USER_PER_MINUTE, 60), user, EventKind.RATE_LIMITED,
                   "user"),
        ]
    if is_content_read(request):
        out.append(Bucket(Limit("read:ip:hour", s.LINGJING_RATE_LIMIT_CONTENT_IP_PER_HOUR, 3600), ip,
                          EventKind.BULK_SCRAPING, "ip"))
        if user:
            out.append(Bucket(Limit("read:user:hour", s.LINGJING_RATE_LIMIT_CONTENT_USER_PER_HOUR, 3600), user,
                              EventKind.BULK_SCRAPING, "user"))
    return out


@dataclass(frozen=True)
class Refusal:
    bucket: Bucket
    retry_after: int


def check(request: Any) -> Refusal | None:
    """Count this request in every bucket it belongs to; the first refusal, or None."""
    for bucket in buckets_for(request):
        try:
            decision = counter.hit(bucket.limit, bucket.key)
        except ratelimit.LimiterUnavailable:
            log.warning("rate limit store unavailable; request let through")
            return None
        if not decision.allowed:
            return Refusal(bucket, max(1, decision.retry_after))
    return None


def exempt(path: str) -> bool:
    return any(path.startswith(prefix) for prefix in settings.LINGJING_RATE_LIMIT_EXEMPT)


def should_log(refusal: Refusal) -> bool:
    """At most one security-log entry per bucket and key per minute, across processes."""
    name = f"{refusal.bucket.limit.name}:{refusal.bucket.key}"
    try:
        return ratelimit.cooldown("secops:refusal-logged", name, 60).allowed
    except ratelimit.LimiterUnavailable:
        return False
