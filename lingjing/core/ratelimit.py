"""Rate limits and failure back-off on Django's cache, shared by every app.

Design
------
* A :class:`Limit` is a name, a count and a window. :func:`hit` adds to the counter of one key (a phone number,
  an IP network, a user id) and answers with a :class:`Decision`: allowed, or refused with the seconds to wait.
  Keys are hashed (HMAC under ``SECRET_KEY``) before they reach the cache, so no phone number or address is
  stored there.
* Fixed windows count per calendar bucket (``floor(now / window)``). Sliding windows weight the previous bucket
  by the part of it still inside the window (the "sliding window counter": smooth at bucket edges, two keys).
* Counting is atomic: ``cache.add`` creates the counter, ``cache.incr`` adds to it. Redis does both atomically.
  Django's database cache does not (its ``incr`` is a read then a write), so for it the counter row is locked
  (``SELECT ... FOR UPDATE``; SQLite serialises writers with its IMMEDIATE transactions) around add + incr.
* Failing closed: any error of the cache store raises :class:`LimiterUnavailable`. Callers that spend money
  or protect credentials (SMS, sign-in) refuse the request then; they never treat "unknown" as "allowed".
* :class:`Backoff` locks a key after ``threshold`` failures for ``base`` seconds, doubling with every further
  failure up to ``cap`` (sign-in: 5 failures → 1 minute, then 2, 4, ... minutes).

The embedded default cache is the database cache; ``REDIS_URL`` switches to Redis, which is the right store
once there is more than one web process under real load.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.core.cache.backends.db import DatabaseCache
from django.db import connections, router, transaction

log = logging.getLogger("lingjing.ratelimit")

CACHE_ALIAS = "default"


class LimiterUnavailable(Exception):
    """The counter store failed; the caller must refuse (fail closed)."""


@dataclass(frozen=True)
class Limit:
    """``limit`` events per ``window`` seconds for each key, under ``name`` (e.g. ``"sms:number:day"``)."""

    name: str
    limit: int
    window: int
    sliding: bool = False

    def __post_init__(self) -> None:
        if self.window <= 0:
            raise ValueError("a rate limit window must be positive")


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int = 0  # whole seconds until a new attempt could pass; 0 when allowed
    limit: Limit | None = None  # the limit that refused
    count: float = 0.0  # the count after this hit (weighted for sliding windows)

    def __bool__(self) -> bool:
        return self.allowed


ALLOWED = Decision(True)


def _cache() -> BaseCache:
    return caches[CACHE_ALIAS]


def hashed_key(value: str) -> str:
    """A stable, non-reversible stand-in for ``value`` in cache keys."""
    return hmac.new(settings.SECRET_KEY.encode(), b"ratelimit\x00" + value.encode(), hashlib.sha256).hexdigest()[:32]


def _bucket_key(limit: Limit, key: str, bucket: int) -> str:
    return f"rl:{limit.name}:{hashed_key(key)}:{bucket}"


def _atomic_incr(cache: BaseCache, key: str, delta: int, timeout: int) -> int:
    """``add`` then ``incr`` as one atomic step on every supported cache backend."""
    if isinstance(cache, DatabaseCache):
        return _db_incr(cache, key, delta, timeout)
    cache.add(key, 0, timeout)
    try:
        return int(cache.incr(key, delta))
    except ValueError:  # the counter expired between add and incr
        cache.add(key, 0, timeout)
        return int(cache.incr(key, delta))


def _db_incr(cache: DatabaseCache, key: str, delta: int, timeout: int) -> int:
    alias = router.db_for_write(cache.cache_model_class)
    connection = connections[alias]
    with transaction.atomic(using=alias):
        cache.add(key, 0, timeout)
        if connection.features.has_select_for_update:
            table = connection.ops.quote_name(getattr(cache, "_table"))  # noqa: B009 - private, untyped
            column = connection.ops.quote_name("cache_key")
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT {column} FROM {table} WHERE {column} = %s FOR UPDATE",  # noqa: S608 - quoted names
                    [cache.make_and_validate_key(key)],
                )
        value = int(cache.get(key) or 0) + delta
        cache.set(key, value, timeout)
        return value


def _atomic_add(cache: BaseCache, key: str, value: object, timeout: int) -> bool:
    """``cache.add``; on the database cache with the row locked, so two callers cannot both revive an expired key."""
    if not isinstance(cache, DatabaseCache):
        return bool(cache.add(key, value, timeout))
    alias = router.db_for_write(cache.cache_model_class)
    connection = connections[alias]
    with transaction.atomic(using=alias):
        if connection.features.has_select_for_update:
            table = connection.ops.quote_name(getattr(cache, "_table"))  # noqa: B009 - private, untyped
            column = connection.ops.quote_name("cache_key")
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT {column} FROM {table} WHERE {column} = %s FOR UPDATE",  # noqa: S608 - quoted names
                    [cache.make_and_validate_key(key)],
                )
        return bool(cache.add(key, value, timeout))


def _get_many(cache: BaseCache, keys: list[str]) -> dict[str, int]:
    return {k: int(v) for k, v in cache.get_many(keys).items()}


def hit(limit: Limit, key: str, *, cost: int = 1, now: float | None = None) -> Decision:
    """Count one event (``cost`` units) for ``key``; refused when the count passes the limit.

    Refused events still count: hammering a closed door keeps it closed.
    """
    now = time.time() if now is None else now
    bucket = int(now // limit.window)
    cache = _cache()
    try:
        current = _atomic_incr(cache, _bucket_key(limit, key, bucket), cost, limit.window * 2 + 1)
        previous = 0
        if limit.sliding:
            previous = _get_many(cache, [_bucket_key(limit, key, bucket - 1)]).get(
                _bucket_key(limit, key, bucket - 1), 0
            )
    except LimiterUnavailable:
        raise
    except Exception as exc:
        log.warning("rate limiter store failed: %s", type(exc).__name__)
        raise LimiterUnavailable(str(exc)) from exc
    return _decide(limit, now, bucket, current, previous)


def peek(limit: Limit, key: str, *, now: float | None = None) -> Decision:
    """Would one more event pass? Counts nothing."""
    now = time.time() if now is None else now
    bucket = int(now // limit.window)
    keys = [_bucket_key(limit, key, bucket), _bucket_key(limit, key, bucket - 1)]
    try:
        values = _get_many(_cache(), keys)
    except Exception as exc:
        raise LimiterUnavailable(str(exc)) from exc
    current = values.get(keys[0], 0) + 1
    previous = values.get(keys[1], 0) if limit.sliding else 0
    return _decide(limit, now, bucket, current, previous)


def _decide(limit: Limit, now: float, bucket: int, current: int, previous: int) -> Decision:
    start = bucket * limit.window
    elapsed = now - start
    if not limit.sliding:
        if current <= limit.limit:
            return Decision(True, 0, None, float(current))
        return Decision(False, max(1, math.ceil(start + limit.window - now)), limit, float(current))
    weight = max(0.0, 1.0 - elapsed / limit.window)
    count = previous * weight + current
    if count <= limit.limit:
        return Decision(True, 0, None, count)
    return Decision(False, _sliding_retry(limit, elapsed, current, previous), limit, count)


def _sliding_retry(limit: Limit, elapsed: float, current: int, previous: int) -> int:
    """Seconds until ``previous * weight + current + 1`` falls back to the limit, the counts staying as they are."""
    w = limit.window
    room = limit.limit - 1  # the next event needs the weighted count at most limit - 1 before it
    if current <= room and previous > 0:
        # still in this bucket: previous * (1 - t/w) + current <= room  →  t >= w * (1 - (room - current) / previous)
        t = w * (1 - (room - current) / previous)
        return max(1, math.ceil(t - elapsed))
    # wait into the next bucket, where this bucket's count becomes the weighted previous one
    wait = w - elapsed
    if current > 0 and room >= 0:
        wait += max(0.0, w * (1 - room / current))
    elif room < 0:
        wait += w
    return max(1, math.ceil(wait))


def hit_all(checks: Iterable[tuple[Limit, str]], *, now: float | None = None) -> Decision:
    """Hit the limits in order and stop at the first refusal (later, wider limits are not spent by it)."""
    now = time.time() if now is None else now
    for limit, key in checks:
        decision = hit(limit, key, now=now)
        if not decision.allowed:
            return decision
    return ALLOWED


def cooldown(name: str, key: str, seconds: int, *, now: float | None = None) -> Decision:
    """At most one event per ``seconds`` for ``key``, measured from the event itself (not a calendar bucket).

    ``cache.add`` is atomic on every backend: of two simultaneous callers exactly one starts the cooldown.
    """
    now = time.time() if now is None else now
    cache_key = f"cd:{name}:{hashed_key(key)}"
    try:
        if _atomic_add(_cache(), cache_key, now + seconds, seconds):
            return ALLOWED
        until = _cache().get(cache_key)
    except Exception as exc:
        log.warning("rate limiter store failed: %s", type(exc).__name__)
        raise LimiterUnavailable(str(exc)) from exc
    wait = math.ceil(float(until) - now) if until is not None else 1
    return Decision(False, max(1, wait), Limit(f"cooldown:{name}", 1, seconds), 2.0)


def release_cooldown(name: str, key: str) -> None:
    """End the cooldown of ``key`` early: the event it counted did not happen (the SMS provider refused it)."""
    try:
        _cache().delete(f"cd:{name}:{hashed_key(key)}")
    except Exception as exc:
        raise LimiterUnavailable(str(exc)) from exc


def reset(limit: Limit, key: str, *, now: float | None = None) -> None:
    now = time.time() if now is None else now
    bucket = int(now // limit.window)
    try:
        _cache().delete_many([_bucket_key(limit, key, bucket), _bucket_key(limit, key, bucket - 1)])
    except Exception as exc:
        raise LimiterUnavailable(str(exc)) from exc


@dataclass(frozen=True)
class Backoff:
    """Lock a key after ``threshold`` failures within ``window`` seconds: ``base`` seconds, doubling, up to ``cap``."""

    name: str
    threshold: int = 5
    base: int = 60
    cap: int = 3600
    window: int = 24 * 3600

    def _keys(self, key: str) -> tuple[str, str]:
        h = hashed_key(key)
        return f"bo:{self.name}:{h}:n", f"bo:{self.name}:{h}:until"

    def retry_after(self, key: str, *, now: float | None = None) -> int:
        """Seconds the key stays locked (0: not locked)."""
        now = time.time() if now is None else now
        try:
            until = _cache().get(self._keys(key)[1])
        except Exception as exc:
            raise LimiterUnavailable(str(exc)) from exc
        if until is None:
            return 0
        return max(0, math.ceil(float(until) - now))

    def failure(self, key: str, *, now: float | None = None) -> int:
        """Record one failure; answers the lock it caused in seconds (0: none yet)."""
        now = time.time() if now is None else now
        count_key, until_key = self._keys(key)
        cache = _cache()
        try:
            failures = _atomic_incr(cache, count_key, 1, self.window)
            if failures < self.threshold:
                return 0
            seconds = min(self.cap, self.base * 2 ** (failures - self.threshold))
            cache.set(until_key, now + seconds, seconds + 1)
        except Exception as exc:
            raise LimiterUnavailable(str(exc)) from exc
        return int(seconds)

    def clear(self, key: str) -> None:
        try:
            _cache().delete_many(list(self._keys(key)))
        except Exception as exc:
            raise LimiterUnavailable(str(exc)) from exc


def client_ip(request: object) -> str:
    """The client address: ``REMOTE_ADDR``, or the entry ``LINGJING_PROXY_COUNT`` hops from the right of
    ``X-Forwarded-For`` when that many trusted reverse proxies stand in front of the site."""
    meta = getattr(request, "META", {})
    hops = int(getattr(settings, "LINGJING_PROXY_COUNT", 0))
    if hops > 0:
        chain = [p.strip() for p in str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",") if p.strip()]
        if len(chain) >= hops:
            return chain[-hops]
    return str(meta.get("REMOTE_ADDR") or "0.0.0.0")  # noqa: S104 - a placeholder address, not a bind


def ip_group(ip: str) -> str:
    """The unit rate limits count per address: an IPv4 address, or an IPv6 /64 (one subscriber's network)."""
    import ipaddress

    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return "invalid"
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return str(addr.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(addr) >> 64 << 64, 64)))
    return str(addr)


def ip_network_label(ip: str) -> str:
    """A truncated address for records (IPv4 /24, IPv6 /48): enough to spot a network, not a household."""
    import ipaddress

    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return "invalid"
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    prefix = 24 if isinstance(addr, ipaddress.IPv4Address) else 48
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))
