"""Do Not Track and Global Privacy Control (C2.3, C1.9)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from lingjing.consent import cookies as decl
from lingjing.consent.actions import do_set_consent
from lingjing.consent.models import AnalyticsEvent, ConsentRecord, ConsentState, Method

from .conftest import set_cookies

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("header", [{"DNT": "1"}, {"Sec-GPC": "1"}])
def test_signal_sets_no_analytics_cookie_records_no_event_and_loads_no_pixel(header: dict[str, str]) -> None:
    client = Client()
    set_cookies(client, ["analytics", "preferences"], headers=header)
    response = client.get("/privacy/?utm_source=ad", headers=header)
    assert response.status_code == 200
    assert decl.ANALYTICS_COOKIE not in response.cookies
    assert AnalyticsEvent.objects.count() == 0
    html = response.content.decode()
    assert "/t/o/" not in html  # no tracking pixel in the page
    # without the signal the same browser is counted: the test above is not vacuous
    response = client.get("/privacy/")
    assert decl.ANALYTICS_COOKIE in response.cookies
    assert AnalyticsEvent.objects.count() == 1


def test_signal_is_recorded_as_the_method_when_it_decides(alice_client: Client, alice: Any) -> None:
    alice_client.get("/privacy/", HTTP_SEC_GPC="1")
    states = {s.purpose.key: s for s in ConsentState.objects.filter(user=alice).select_related("purpose")}
    assert {"analytics", "personalised_recommendation", "email_tracking"} <= set(states)
    assert all(not s.granted and s.method == "gpc" for s in states.values())
    count = ConsentRecord.objects.filter(user=alice).count()
    alice_client.get("/privacy/", HTTP_SEC_GPC="1")
    assert ConsentRecord.objects.filter(user=alice).count() == count  # once, not per request


def test_an_explicit_choice_is_not_overridden_silently(alice_client: Client, alice: Any) -> None:
    do_set_consent(alice, "analytics", True, method=Method.SETTINGS, acting_user=alice)
    html = alice_client.get("/privacy/consents", HTTP_DNT="1").content.decode()
    assert ConsentState.objects.get(user=alice, purpose__key="analytics").granted  # choice kept
    notice = re.search(r'class="notice consent-signal">([^<]*)</p>', html)
    assert notice is not None and "analytics" in notice.group(1)  # and the override is shown
    assert "consent-signal" not in alice_client.get("/privacy/consents").content.decode()


def test_gpc_well_known_resource() -> None:
    response = Client().get("/.well-known/gpc.json")
    assert response.status_code == 200
    data = response.json()
    assert data["gpc"] is True
    import datetime as dt

    dt.date.fromisoformat(data["lastUpdate"])
