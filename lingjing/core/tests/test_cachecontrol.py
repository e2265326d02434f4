"""Cache-Control: public pages may be kept a minute by anyone, personal pages by no one."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from lingjing.core.cachecontrol import CacheControlMiddleware, cache_policy


def directives(response: Any) -> set[str]:
    return {part.strip() for part in response.get("Cache-Control", "").split(",") if part.strip()}


def vary(response: Any) -> set[str]:
    return {part.strip().lower() for part in response.get("Vary", "").split(",") if part.strip()}


@pytest.mark.django_db
def test_the_home_page_is_public_for_a_returning_visitor_and_browser_only_when_it_sets_a_cookie(client: Any) -> None:
    first = client.get("/")
    assert first.status_code == 200
    # The first page sets the CSRF cookie: only this browser may keep it, never a shared cache.
    assert "csrftoken" in first.cookies
    assert directives(first) == {"private", "max-age=60"}
    again = client.get("/")  # the test client sends the cookie back
    assert not again.cookies
    assert directives(again) == {"public", "max-age=60"}
    assert {"cookie", "accept-language"} <= vary(again)


@pytest.mark.django_db
def test_signed_in_pages_and_the_privacy_centre_are_never_stored(client: Any, make_user: Any) -> None:
    assert {"private", "no-store"} <= directives(client.get("/privacy/"))
    login = client.get("/accounts/login/")
    assert {"private", "no-store"} <= directives(login)
    client.force_login(make_user("alice"))
    home = client.get("/")
    assert home.status_code == 200
    assert {"private", "no-store"} <= directives(home) and "public" not in directives(home)


@pytest.mark.django_db
def test_the_public_feed_api_is_public_and_a_bearer_call_is_private(client: Any) -> None:
    rf = RequestFactory()
    anonymous = rf.get("/api/v1/works")
    assert cache_policy(anonymous, HttpResponse("{}")) == "public"
    with_token = rf.get("/api/v1/works", HTTP_AUTHORIZATION="Bearer abc")
    assert cache_policy(with_token, HttpResponse("{}")) == "private"


@pytest.mark.parametrize(
    ("method", "path", "status", "expected"),
    [
        ("get", "/", 200, "public"),
        ("get", "/works/", 200, "public"),
        ("get", "/works/5d8a3c1e", 200, "public"),
        ("get", "/search", 200, "public"),
        ("head", "/search", 200, "public"),
        ("get", "/works/5d8a3c1e", 404, None),  # errors are not cached as public
        ("post", "/search", 200, None),
        ("get", "/help/", 200, None),  # not listed: left as the view answered
        ("get", "/privacy/policy", 200, "private"),
        ("get", "/accounts/profile/", 200, "private"),
        ("get", "/studio/", 200, "private"),
        ("get", "/api/v1/me", 200, "private"),
    ],
)
def test_policy_by_path_method_and_status(method: str, path: str, status: int, expected: str | None) -> None:
    request = getattr(RequestFactory(), method)(path)
    assert cache_policy(request, HttpResponse(status=status)) == expected


def test_a_session_cookie_makes_any_page_private() -> None:
    request = RequestFactory().get("/works/")
    request.COOKIES["sessionid"] = "x"
    assert cache_policy(request, HttpResponse()) == "private"


def test_a_view_that_sets_its_own_header_keeps_it_and_zero_turns_public_caching_off(settings: Any) -> None:
    def view(request: Any) -> HttpResponse:
        response = HttpResponse()
        response["Cache-Control"] = "public, max-age=86400"
        return response

    kept = CacheControlMiddleware(view)(RequestFactory().get("/accounts/avatar/a.png"))
    assert kept["Cache-Control"] == "public, max-age=86400"
    settings.LINGJING_PUBLIC_CACHE_SECONDS = 0
    plain = CacheControlMiddleware(lambda request: HttpResponse())(RequestFactory().get("/"))
    assert not plain.has_header("Cache-Control")
