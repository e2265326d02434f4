"""The generic limiter (lingjing.core.ratelimit) on the database cache, an in-memory cache and Redis."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.db import connection

from lingjing.core import ratelimit
from lingjing.core.ratelimit import Backoff, Limit, LimiterUnavailable

pytestmark = pytest.mark.django_db


def _redis_url() -> str | None:
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=0.3).ping()
    except Exception:
        return None
    return url


@pytest.fixture(params=["database", "locmem", "redis"])
def store(request: Any, settings: Any) -> Iterator[str]:
    if request.param == "locmem":
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                       "LOCATION": str(uuid.uuid4())}}
    elif request.param == "redis":
        url = _redis_url()
        if url is None:
            pytest.skip("no Redis on this machine")
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url,
                                       "KEY_PREFIX": f"t{uuid.uuid4().hex}"}}
    else:
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache",
                                       "LOCATION": "lingjing_cache"}}
        # With REDIS_URL set, migrate created no cache table; this variant needs one.
        from django.core.management import call_command

        call_command("createcachetable", verbosity=0)
    yield request.param


def test_fixed_window_counts_and_tells_the_wait(store: str) -> None:
    limit = Limit("t:fixed", 3, 60)
    now = 6_000_000.0 + 10  # 10 s into a window
    assert [ratelimit.hit(limit, "k", now=now).allowed for _ in range(4)] == [True, True, True, False]
    refused = ratelimit.hit(limit, "k", now=now)
    assert refused.retry_after == 50 and refused.limit == limit
    assert ratelimit.hit(limit, "other", now=now).allowed  # keys are separate
    assert ratelimit.hit(limit, "k", now=now + 50).allowed  # next window


def test_sliding_window_weights_the_previous_window(store: str) -> None:
    limit = Limit("t:slide", 10, 100, sliding=True)
    base = 7_000_000.0
    for _ in range(10):
        assert ratelimit.hit(limit, "k", now=base + 90).allowed
    # 20 s into the next window, 80% of the previous 10 still count: 8 + 2 new allowed, the third refused
    assert ratelimit.hit(limit, "k", now=base + 120).allowed
    assert ratelimit.hit(limit, "k", now=base + 120).allowed
    refused = ratelimit.hit(limit, "k", now=base + 120)
    assert not refused.allowed and refused.retry_after > 0
    assert ratelimit.hit(limit, "k", now=base + 120 + refused.retry_after).allowed


def test_peek_counts_nothing(store: str) -> None:
    limit = Limit("t:peek", 1, 60)
    assert ratelimit.peek(limit, "k", now=1200.0).allowed
    assert ratelimit.hit(limit, "k", now=1200.0).allowed
    assert not ratelimit.peek(limit, "k", now=1200.0).allowed


def test_cooldown_is_measured_from_the_event(store: str) -> None:
    assert ratelimit.cooldown("t", "k", 60, now=1000.5).allowed
    refused = ratelimit.cooldown("t", "k", 60, now=1030.5)
    assert not refused.allowed and refused.retry_after == 30


def test_backoff_doubles(store: str) -> None:
    backoff = Backoff("t:login", threshold=3, base=60, cap=1000)
    now = 5000.0
    assert [backoff.failure("k", now=now) for _ in range(6)] == [0, 0, 60, 120, 240, 480]
    assert backoff.retry_after("k", now=now + 100) == 380
    backoff.clear("k")
    assert backoff.retry_after("k", now=now) == 0


def test_keys_are_hashed_in_the_cache(store: str) -> None:
    ratelimit.hit(Limit("t:hash", 5, 60), "+8613800138000", now=60.0)
    if store == "database":
        with connection.cursor() as cursor:
            cursor.execute("SELECT cache_key FROM lingjing_cache")
            keys = " ".join(row[0] for row in cursor.fetchall())
        assert "13800138000" not in keys and "rl:t:hash:" in keys


@pytest.fixture
def unreachable_store(settings: Any) -> Iterator[None]:
    """The cache pointed at a closed port, restored before the per-test cache cleanup runs."""
    original = settings.CACHES
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0"}}
    yield
    settings.CACHES = original


@pytest.mark.usefixtures("unreachable_store")
def test_store_errors_fail_closed() -> None:
    with pytest.raises(LimiterUnavailable):
        ratelimit.hit(Limit("t:down", 5, 60), "k")
    with pytest.raises(LimiterUnavailable):
        ratelimit.cooldown("t", "k", 60)


def test_ip_grouping_and_truncation() -> None:
    same_64 = ratelimit.ip_group("2001:db8:1:2:aaaa::1"), ratelimit.ip_group("2001:db8:1:2:bbbb::2")
    assert same_64 == ("2001:db8:1:2::/64", "2001:db8:1:2::/64")
    assert ratelimit.ip_group("203.0.113.9") == "203.0.113.9"
    assert ratelimit.ip_group("::ffff:203.0.113.9") == "203.0.113.9"
    assert ratelimit.ip_network_label("203.0.113.9") == "203.0.113.0/24"
    assert ratelimit.ip_network_label("2001:db8:1:2::1") == "2001:db8:1::/48"


@pytest.mark.django_db(transaction=True)
def test_concurrent_hits_on_the_database_cache_are_counted_exactly() -> None:
    limit = Limit(f"t:race:{uuid.uuid4().hex[:6]}", 1000, 3600)
    now = 9_000_000.0
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(10):
                for attempt in range(50):
                    try:
                        ratelimit.hit(limit, "k", now=now)
                        break
                    except LimiterUnavailable:  # in-memory SQLite (shared cache) answers "table is locked"
                        if attempt == 49:  # at once instead of waiting; a refused hit counts nothing
                            raise
                        time.sleep(0.005 * (attempt + 1))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert ratelimit.peek(limit, "k", now=now).count == 81  # 80 hits, plus the one peek would add
    caches["default"].clear()
