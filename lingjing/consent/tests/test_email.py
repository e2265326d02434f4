"""Email pixels, tracked links and one-click unsubscribe (C2.2)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from lingjing.consent.actions import do_set_consent, do_set_consents
from lingjing.consent.email import build_tracked_email, unsubscribe_token
from lingjing.consent.models import Method, TrackedEmail
from lingjing.consent.service import has_consent

pytestmark = pytest.mark.django_db
HTML = '<html><body><p>新功能上线</p><a href="https://example.com/news?a=1&amp;b=2">看看</a></body></html>'


def _build(user: Any, category: str = "marketing") -> Any:
    return build_tracked_email(user, "灵境新功能", "新功能上线", HTML, category, to="alice@example.com")


def test_marketing_mail_needs_marketing_consent(alice: Any) -> None:
    assert _build(alice) is None
    do_set_consent(alice, "marketing", True, method=Method.SETTINGS, acting_user=alice)
    message = _build(alice)
    assert message is not None
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(r"<https?://[^>]+/t/u/[^>]+>", message.extra_headers["List-Unsubscribe"])


def test_no_tracking_without_email_tracking_consent(alice: Any) -> None:
    do_set_consent(alice, "marketing", True, method=Method.SETTINGS, acting_user=alice)
    html = _build(alice).alternatives[0][0]
    assert "/t/o/" not in html and "/t/c/" not in html and 'href="https://example.com/news' in html
    assert TrackedEmail.objects.count() == 0


def test_service_mail_has_no_unsubscribe_and_is_always_built(alice: Any) -> None:
    message = _build(alice, "service")
    assert message is not None and "List-Unsubscribe" not in message.extra_headers
    assert build_tracked_email(alice, "s", "t", "", "service") is None  # no address on file


def _tracked_mail(alice: Any) -> tuple[str, str]:
    do_set_consents(alice, {"marketing": True, "email_tracking": True}, method=Method.SETTINGS, acting_user=alice)
    html = _build(alice).alternatives[0][0]
    pixel = re.search(r'src="https?://[^/"]+(/t/o/[^"]+)"', html)
    link = re.search(r'href="https?://[^/"]+(/t/c/[^"]+)"', html)
    assert pixel and link
    assert "/t/u/" in html  # the unsubscribe link stays direct
    return pixel.group(1), link.group(1)


def test_pixel_and_clicks_are_counted_only_with_consent_and_without_dnt(alice: Any) -> None:
    pixel, link = _tracked_mail(alice)
    client = Client()
    response = client.get(pixel, HTTP_DNT="1")
    assert response.status_code == 200 and response["Content-Type"] == "image/gif"
    tracked = TrackedEmail.objects.get()
    assert tracked.open_count == 0
    client.get(pixel)
    response = client.get(link)
    assert response.status_code == 302 and response["Location"] == "https://example.com/news?a=1&b=2"
    tracked.refresh_from_db()
    assert (tracked.open_count, tracked.click_count) == (1, 1)
    do_set_consent(alice, "email_tracking", False, method=Method.SETTINGS, acting_user=alice)
    client.get(pixel)
    assert client.get(link).status_code == 302  # the link still works
    tracked.refresh_from_db()
    assert (tracked.open_count, tracked.click_count) == (1, 1)


def test_forged_click_token_is_not_an_open_redirect(alice: Any) -> None:
    _pixel, link = _tracked_mail(alice)
    assert Client().get(link[:-3] + "abc").status_code == 404
    assert Client().get("/t/c/https:evil.example").status_code == 404


def test_one_click_unsubscribe_works_without_signing_in(alice: Any) -> None:
    do_set_consent(alice, "marketing", True, method=Method.SETTINGS, acting_user=alice)
    token = unsubscribe_token(alice.pk, "marketing")
    client = Client(enforce_csrf_checks=True)
    assert client.get(f"/t/u/{token}").status_code == 200
    assert has_consent(alice, "marketing")  # a GET (link scanner) changes nothing
    response = client.post(f"/t/u/{token}", {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert not has_consent(alice, "marketing")
    assert alice.consent_records.filter(purpose__key="marketing").first().method == "email"
    assert _build(alice) is None
    assert client.post("/t/u/forged-token", {"List-Unsubscribe": "One-Click"}).status_code == 404
