"""Cookie banner, cookie declaration and the stripping middleware (C2.1)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.test import Client, RequestFactory

from lingjing.consent import cookies as decl
from lingjing.consent.middleware import CookieConsentMiddleware
from lingjing.consent.models import AnalyticsEvent, ConsentRecord

from .conftest import set_cookies

pytestmark = pytest.mark.django_db
rf = RequestFactory()


def _optional_cookies(response: Any) -> list[str]:
    return [name for name, m in response.cookies.items()
            if (c := decl.cookie_by_name(name)) is None or c.category != "necessary"
            if m["max-age"] != 0]


def test_first_visit_shows_the_banner_and_sets_only_necessary_cookies() -> None:
    client = Client()
    response = client.get("/privacy/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="cookie-banner"' in html
    assert 'action="/privacy/cookies"' in html  # a plain form: works without JavaScript
    assert _optional_cookies(response) == []
    assert AnalyticsEvent.objects.count() == 0


def test_banner_pages_have_no_inline_script_or_style() -> None:
    html = Client().get("/privacy/cookies").content.decode() + Client().get("/privacy/").content.decode()
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag and "nonce=" in tag
    assert not re.search(r"<script\b[^>]*>\s*[^<\s]", html)  # no inline script bodies
    assert " style=" not in html and "<style" not in html


def test_non_essential_cookies_are_stripped_until_a_choice() -> None:
    request = rf.get("/")
    response = HttpResponse("ok")
    response.set_cookie(decl.ANALYTICS_COOKIE, "x")
    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, "en")
    response.set_cookie(settings.CSRF_COOKIE_NAME, "token")
    response.set_cookie("undeclared_tracker", "1")
    CookieConsentMiddleware.strip(request, response)
    assert set(response.cookies) == {settings.CSRF_COOKIE_NAME}

    request.COOKIES[decl.CONSENT_COOKIE] = decl.encode_choice({"preferences"}, "banner")
    response = HttpResponse("ok")
    response.set_cookie(decl.ANALYTICS_COOKIE, "x")
    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, "en")
    CookieConsentMiddleware.strip(request, response)
    assert set(response.cookies) == {settings.LANGUAGE_COOKIE_NAME}


def test_deleting_a_cookie_is_always_allowed() -> None:
    response = HttpResponse("ok")
    response.delete_cookie(decl.ANALYTICS_COOKIE)
    CookieConsentMiddleware.strip(rf.get("/"), response)
    assert decl.ANALYTICS_COOKIE in response.cookies


def test_an_explicit_language_switch_may_set_the_language_cookie_without_consent() -> None:
    client = Client()
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/privacy/"})
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"


def test_accepting_analytics_sets_the_analytics_cookie_and_records_events() -> None:
    client = Client()
    response = set_cookies(client, ["analytics"])
    assert response.status_code == 302
    assert decl.CONSENT_COOKIE in response.cookies
    response = client.get("/privacy/?utm_source=Newsletter")
    assert decl.ANALYTICS_COOKIE in response.cookies
    kinds = sorted(AnalyticsEvent.objects.values_list("kind", flat=True))
    assert kinds == ["acquisition", "pageview"]
    assert AnalyticsEvent.objects.get(kind="acquisition").source == "newsletter"
    assert 'id="cookie-banner"' not in response.content.decode()


def test_withdrawing_a_category_deletes_its_cookies_at_once() -> None:
    client = Client()
    set_cookies(client, ["analytics", "preferences"])
    client.get("/privacy/")
    assert client.cookies[decl.ANALYTICS_COOKIE].value
    response = set_cookies(client, ["preferences"])
    assert response.cookies[decl.ANALYTICS_COOKIE]["max-age"] == 0
    before = AnalyticsEvent.objects.count()
    client.get("/privacy/")
    assert AnalyticsEvent.objects.count() == before


def test_a_changed_declaration_asks_again(monkeypatch: pytest.MonkeyPatch) -> None:
    client = Client()
    set_cookies(client, ["analytics"])
    assert 'id="cookie-banner"' not in client.get("/privacy/").content.decode()
    extra = decl.Cookie("lj_new", "analytics", "新的统计 Cookie", "A new analytics cookie", 3600)
    original = decl._declared
    monkeypatch.setattr(decl, "_declared", lambda: (*original(), extra))
    before = AnalyticsEvent.objects.count()
    html = client.get("/privacy/").content.decode()
    assert 'id="cookie-banner"' in html and "重新选择" in html
    assert AnalyticsEvent.objects.count() == before  # the old choice no longer counts


def test_signed_in_banner_choice_is_recorded_as_consent(alice_client: Client, alice: Any) -> None:
    set_cookies(alice_client, ["analytics"])
    rec = ConsentRecord.objects.get(user=alice, purpose__key="analytics")
    assert rec.granted and rec.method == "banner"


def test_cookie_page_lists_every_declared_cookie() -> None:
    html = Client().get("/privacy/cookies").content.decode()
    for cookie in decl.cookies():
        assert f"<code>{cookie.name}</code>" in html
        assert cookie.purpose_zh in html
        assert cookie.lifetime("zh") in html


def test_cookie_declaration_names_every_cookie_django_sets() -> None:
    names = {c.name for c in decl.cookies()}
    assert {settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME, settings.LANGUAGE_COOKIE_NAME,
            "messages"} <= names
    assert decl.cookie_by_name(settings.LANGUAGE_COOKIE_NAME).category == "preferences"  # type: ignore[union-attr]
