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


# --- the public feed API in the shared cache ---------------------------------------------------------------


@pytest.fixture
def published(make_user: Any) -> Any:
    from lingjing.works.actions import do_create_work
    from lingjing.works.publishing import do_publish_work

    author = make_user("author")

    def publish(title: str) -> Any:
        work = do_create_work(author, title=title, script="第一章", acting_user=author)
        assert do_publish_work(work, acting_user=author).published
        return work

    return publish


def titles(response: Any) -> list[str]:
    return [item["title"] for item in response.json()["items"]]


@pytest.mark.django_db
def test_anonymous_feed_api_answers_come_from_the_cache_until_a_work_changes(
    client: Any, published: Any, django_assert_max_num_queries: Any
) -> None:
    first = published("第一部作品")
    assert titles(client.get("/api/v1/works")) == ["第一部作品"]
    with django_assert_max_num_queries(4):  # the cache and the rate-limit counters; no feed query
        cached = client.get("/api/v1/works")
    assert titles(cached) == ["第一部作品"] and cached["Cache-Control"] == "public, max-age=60"
    assert client.get(f"/api/v1/works/{first.pk}").json()["title"] == "第一部作品"

    published("第二部作品")  # a new generation: the next answer is fresh
    assert titles(client.get("/api/v1/works")) == ["第二部作品", "第一部作品"]
    from lingjing.works.publishing import do_unpublish_work

    do_unpublish_work(first, acting_user=first.author)
    assert titles(client.get("/api/v1/works")) == ["第二部作品"]
    assert client.get(f"/api/v1/works/{first.pk}").status_code == 404


@pytest.mark.django_db
def test_requests_with_cookies_or_tokens_and_errors_are_never_served_from_the_cache(
    client: Any, published: Any, settings: Any
) -> None:
    from django.core.cache import cache

    from lingjing.core.cachecontrol import server_cacheable

    rf = RequestFactory()
    assert server_cacheable(rf.get("/api/v1/works?page=2"))
    assert server_cacheable(rf.get("/api/v1/works/5d8a3c1e-0000-4000-8000-000000000000"))
    assert not server_cacheable(rf.get("/api/v1/works", HTTP_COOKIE="lj_consent=1"))
    assert not server_cacheable(rf.get("/api/v1/works", HTTP_AUTHORIZATION="Bearer t"))
    assert not server_cacheable(rf.get("/api/v1/search?q=雨"))  # every query is counted in the security log
    assert not server_cacheable(rf.get("/api/v1/works/5d8a3c1e-0000-4000-8000-000000000000/comments"))
    assert not server_cacheable(rf.post("/api/v1/works"))

    missing = "/api/v1/works/5d8a3c1e-0000-4000-8000-000000000000"
    assert client.get(missing).status_code == 404
    assert not [k for k in _cache_keys(cache) if missing in k]
    settings.LINGJING_PUBLIC_CACHE_SECONDS = 0
    assert not server_cacheable(rf.get("/api/v1/works"))


def _cache_keys(cache: Any) -> list[str]:
    from django.db import connection

    client = getattr(getattr(cache, "_cache", None), "get_client", None)
    if client is not None:
        return [k.decode() for k in client(None).scan_iter(match="*lj:pubapi*")]
    with connection.cursor() as cursor:
        cursor.execute("SELECT cache_key FROM lingjing_cache")
        return [row[0] for row in cursor.fetchall()]
