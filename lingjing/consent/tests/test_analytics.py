"""Analytics: pseudonymous, separate, aggregated with k >= 5, expiring (C1.8, C1.9)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import RequestFactory
from django.utils import timezone

from lingjing.consent.analytics import acquisition_source, pseudonym, purge_expired, report
from lingjing.consent.models import AnalyticsEvent, AnalyticsSecret, EventKind

pytestmark = pytest.mark.django_db
rf = RequestFactory()


def _events(day: dt.date, route: str, visitors: int, kind: str = EventKind.PAGEVIEW) -> None:
    AnalyticsEvent.objects.bulk_create([
        AnalyticsEvent(day=day, kind=kind, route=route, status=200, duration_ms=10 * (i + 1),
                       pseudonym=f"p{route}{i}", source="example.com" if kind == EventKind.ACQUISITION else "")
        for i in range(visitors)
    ])


def test_the_event_store_has_no_link_to_people() -> None:
    fields = AnalyticsEvent._meta.get_fields()
    assert not [f for f in fields if f.is_relation]
    names = {f.name for f in fields}
    assert not names & {"user", "user_id", "ip", "user_agent", "session", "url", "phone"}


def test_pseudonyms_change_every_day_and_old_keys_are_destroyed() -> None:
    with time_machine.travel(dt.datetime(2026, 9, 1, 4, 0, tzinfo=dt.UTC), tick=False):
        monday = pseudonym("browser-1")
        assert monday == pseudonym("browser-1") and monday != pseudonym("browser-2")
    with time_machine.travel(dt.datetime(2026, 9, 2, 4, 0, tzinfo=dt.UTC), tick=False):
        assert pseudonym("browser-1") != monday
        purge_expired()
        assert list(AnalyticsSecret.objects.values_list("day", flat=True)) == [dt.date(2026, 9, 2)]


def test_report_hides_groups_smaller_than_five() -> None:
    today = timezone.localdate()
    _events(today, "/a", 4)
    _events(today, "/b", 5)
    _events(today, "/b", 5, EventKind.ACQUISITION)
    data = report(today, today)
    assert [r["route"] for r in data["pages"]] == ["/b"]
    assert data["pages"][0]["visitors"] == 5 and data["pages"][0]["p95_ms"] == 50
    assert data["sources"] == [{"day": today.isoformat(), "source": "example.com", "arrivals": 5, "visitors": 5}]
    assert data["suppressed"] >= 1
    assert report(today, today, k=2)["min_group"] == 5  # k can only go up


def test_raw_events_expire() -> None:
    today = timezone.localdate()
    _events(today - dt.timedelta(days=31), "/old", 2)
    _events(today - dt.timedelta(days=29), "/recent", 2)
    result = purge_expired()
    assert result["events_deleted"] == 2
    assert set(AnalyticsEvent.objects.values_list("route", flat=True)) == {"/recent"}


def test_acquisition_source_is_a_bare_domain_or_campaign() -> None:
    assert acquisition_source(rf.get("/", {"utm_source": "WeChat Ads!"})) == "wechatads"
    request = rf.get("/", HTTP_REFERER="https://www.baidu.com/s?wd=%E7%81%B5%E5%A2%83&user=42")
    assert acquisition_source(request) == "www.baidu.com"
    assert acquisition_source(rf.get("/", HTTP_REFERER="http://testserver/works/1")) == ""


def test_server_errors_are_recorded_as_error_events() -> None:
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpResponse

    from lingjing.consent import cookies as decl
    from lingjing.consent.middleware import PrivacyMiddleware

    request = rf.post("/boom")
    request.COOKIES[decl.CONSENT_COOKIE] = decl.encode_choice({"analytics"}, "banner")
    request.user = AnonymousUser()
    middleware = PrivacyMiddleware(lambda r: HttpResponse("fail", status=500, content_type="text/html"))
    assert middleware(request).status_code == 500
    assert list(AnalyticsEvent.objects.values_list("kind", "status")) == [("error", 500)]
