"""Request limits on every page and API call: per address and per account, shared between processes, 429s."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from lingjing.core.ratelimit import Limit
from lingjing.decisions.models import Decision
from lingjing.secops.models import EventKind, SecurityEvent
from lingjing.secops.ratelimits import SharedCounter
from lingjing.secops.tests.conftest import ALICE_PHONE, PASSWORD, login_api

pytestmark = pytest.mark.django_db


def test_the_api_answers_429_json_with_retry_after(settings: Any) -> None:
    settings.LINGJING_RATE_LIMIT_IP_PER_MINUTE = 3
    client = Client(REMOTE_ADDR="203.0.113.40")
    with time_machine.travel(timezone.now().replace(second=5), tick=False):
        assert [client.get("/api/v1/me").status_code for _ in range(3)] == [401, 401, 401]
        refused = client.get("/api/v1/me")
        assert refused.status_code == 429
        assert refused.json() == {"error": {"code": "rate_limited", "message": "请求过于频繁，请稍后再试"}}
        assert refused["Retry-After"] == "55"
        assert Client(REMOTE_ADDR="203.0.113.41").get("/api/v1/me").status_code == 401  # another address
        assert client.get("/healthz").status_code == 200  # health checks are never limited
    assert SecurityEvent.objects.get().kind == EventKind.RATE_LIMITED  # logged once, not per refusal


def test_pages_answer_a_chinese_429_page(settings: Any) -> None:
    settings.LINGJING_RATE_LIMIT_IP_PER_MINUTE = 2
    client = Client(REMOTE_ADDR="203.0.113.42")
    with time_machine.travel(timezone.now().replace(second=0), tick=False):
        client.get("/help/")
        client.get("/help/")
        page = client.get("/help/")
    assert page.status_code == 429 and page["Retry-After"] == "60"
    assert "请求过于频繁" in page.content.decode() and 'lang="zh-hans"' in page.content.decode()


def test_per_account_buckets_follow_the_person_across_addresses(alice: Any, settings: Any) -> None:
    settings.LINGJING_RATE_LIMIT_USER_PER_MINUTE = 4
    token = login_api(Client(), ALICE_PHONE, password=PASSWORD).json()["token"]
    auth: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    with time_machine.travel(timezone.now().replace(second=1), tick=False):
        answers = [Client(REMOTE_ADDR=f"198.51.100.{n}").get("/api/v1/me", **auth).status_code for n in range(6)]
        assert answers == [200, 200, 200, 200, 429, 429]
        assert Client(REMOTE_ADDR="198.51.100.99").get("/api/v1/me").status_code == 401  # not the account
        web = Client()
        web.force_login(alice)
        assert [web.get("/help/").status_code for _ in range(5)] == [200, 200, 200, 200, 429]


def test_counters_are_shared_between_processes(settings: Any) -> None:
    """Two workers (two batch states) on one cache: their hits add up; a big limit batches, a small one does not."""
    one, two = SharedCounter(), SharedCounter()
    small = Limit("t:shared:small", 5, 60)
    now = 1_800_000_010.0
    answers = [worker.hit(small, "k", now=now).allowed for worker in (one, two, one, two, one, two)]
    assert answers == [True, True, True, True, True, False]
    big = Limit("t:shared:big", 100, 60)  # batches of 100 // 20 = 5
    for _ in range(97):
        assert one.hit(big, "k", now=now).allowed
    for _ in range(8):
        two.hit(big, "k", now=now)  # the shared count passes 100 with two's first batch
    later = [one.hit(big, "k", now=now).allowed for _ in range(5)]
    assert later == [True, True, False, False, False]  # one learns it at its next flush: within one batch
    from django.core.cache import cache

    keys = [k for k in cache._cache if "t:shared" in k]  # type: ignore[attr-defined]
    assert keys and not any(part == "k" for k in keys for part in k.split(":"))  # keys are hashed


def test_impossible_rates_are_a_risk_decision_and_raise_the_sign_in_risk(alice: Any, settings: Any) -> None:
    settings.LINGJING_RATE_LIMIT_USER_PER_10S = 5
    client = Client(REMOTE_ADDR="203.0.113.50")
    token = login_api(client, ALICE_PHONE, password=PASSWORD).json()["token"]
    with time_machine.travel(timezone.now().replace(second=20), tick=False):
        statuses = [client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}").status_code for _ in range(8)]
        assert statuses == [200] * 5 + [429] * 3
        event = SecurityEvent.objects.get(kind=EventKind.IMPOSSIBLE_RATE)
        assert event.detail == "req:user:10s" and event.actor_key
        limited = Decision.objects.get(subject=alice, outcome="requests_limited")
        assert "请求速率超出正常使用的可能" in limited.explanation_zh
        # a sign-in from that address now carries the abusive-source signal
        login_api(Client(REMOTE_ADDR="203.0.113.50"), ALICE_PHONE, password=PASSWORD)
    sign_ins = Decision.objects.filter(subject=alice, kind="risk", outcome__startswith="sign_in")
    assert sorted(d.inputs["signals"]["abusive_source"] for d in sign_ins) == [0, 1]  # before and after


def test_bulk_reading_is_flagged_as_scraping(settings: Any) -> None:
    settings.LINGJING_RATE_LIMIT_CONTENT_IP_PER_HOUR = 4
    client = Client(REMOTE_ADDR="203.0.113.60")
    with time_machine.travel(timezone.now().replace(minute=0), tick=False):
        # the works feed is a content read (404 until the works API is mounted: counted all the same)
        assert [client.get("/api/v1/works", {"page": n}).status_code for n in range(1, 6)][-1] == 429
        assert client.get("/help/").status_code == 200  # reading pages other than content is not scraping
    assert SecurityEvent.objects.filter(kind=EventKind.BULK_SCRAPING, detail="read:ip:hour").count() == 1


def test_generous_defaults_let_normal_browsing_through(alice: Any) -> None:
    web = Client()
    web.force_login(alice)
    assert all(web.get(path).status_code == 200 for path in ["/help/", "/accounts/profile/"] * 15)
    assert not SecurityEvent.objects.exists()
