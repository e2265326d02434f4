"""Privacy center and consent pages (C5.4: withdrawing is as easy as granting)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from lingjing.consent.models import ConsentRecord
from lingjing.consent.service import has_consent

pytestmark = pytest.mark.django_db


def test_privacy_center_links_every_part() -> None:
    html = Client().get("/privacy/").content.decode()
    for href in ("/privacy/my-data", "/privacy/consents", "/privacy/cookies", "/privacy/requests",
                 "/privacy/sharing", "/privacy/policy"):
        assert f'href="{href}"' in html


def test_consent_page_needs_sign_in() -> None:
    response = Client().get("/privacy/consents")
    assert response.status_code == 302 and "/privacy/consents" in response["Location"]


def test_granting_and_withdrawing_take_one_click_each(alice_client: Client, alice: Any) -> None:
    html = alice_client.get("/privacy/consents").content.decode()
    assert 'value="search_history"' in html
    response = alice_client.post("/privacy/consents", {"purpose": "search_history", "granted": "1"})
    assert response.status_code == 302 and has_consent(alice, "search_history")
    response = alice_client.post("/privacy/consents", {"purpose": "search_history", "granted": "0"})
    assert response.status_code == 302 and not has_consent(alice, "search_history")
    methods = list(ConsentRecord.objects.filter(user=alice).values_list("method", flat=True))
    assert methods == ["settings", "settings"]
    html = alice_client.get("/privacy/consents").content.decode()
    assert html.count(".json\" download") == 2  # two downloadable receipts


def test_unknown_purpose_posted_is_404(alice_client: Client) -> None:
    assert alice_client.post("/privacy/consents", {"purpose": "nope", "granted": "1"}).status_code == 404


def test_analytics_report_is_for_the_privacy_officer_only(alice_client: Client, olivia: Any) -> None:
    assert alice_client.get("/privacy/staff/analytics").status_code == 404
    client = Client()
    client.force_login(olivia)
    response = client.get("/privacy/staff/analytics?format=json")
    assert response.status_code == 200 and response.json()["min_group"] >= 5


def test_console_shows_consent_data_read_only(olivia: Any, alice: Any) -> None:
    from django.test import RequestFactory

    from lingjing.consent.actions import do_set_consent
    from lingjing.consent.models import Method

    request = RequestFactory().get("/", headers={"User-Agent": "Mozilla/5.0 secret-agent"})
    do_set_consent(alice, "analytics", True, method=Method.SETTINGS, request=request, acting_user=alice)
    client = Client()
    client.force_login(olivia)
    listing = client.get("/console/consent/consentrecord/")
    assert listing.status_code == 200 and "analytics" in listing.content.decode()
    assert client.get("/console/consent/policyversion/add/").status_code == 403
    record = ConsentRecord.objects.get(user=alice)
    page = client.get(f"/console/consent/consentrecord/{record.pk}/change/").content.decode()
    # the sealed user agent is not shown, and nothing is editable
    assert "secret-agent" not in page and "analytics" in page and 'name="granted"' not in page


def test_pages_speak_english_after_the_language_switch(alice_client: Client) -> None:
    alice_client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    center = alice_client.get("/privacy/").content.decode()
    assert "Privacy center" in center and "Who received my data" in center
    consents = alice_client.get("/privacy/consents").content.decode()
    assert "Keep my search history" in consents and "Withdraw consent" not in consents and "Agree" in consents
