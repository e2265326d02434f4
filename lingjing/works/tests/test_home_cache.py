"""The home page's feeds for visitors who are not signed in come from the shared cache (works.views.home_section):
shared only between such visitors, per language, retired by any publication, never carrying anything personal."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext

from lingjing.community.tests.conftest import *  # noqa: F403
from lingjing.community.tests.conftest import client_for, publish
from lingjing.works import views

pytestmark = pytest.mark.django_db


def _home(client: Client) -> str:
    response = client.get("/")
    assert response.status_code == 200
    return response.content.decode()


def _feed_queries(client: Client) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        _home(client)
    return [q["sql"] for q in ctx.captured_queries if "works_work" in q["sql"]]


def test_visitors_share_the_section_and_a_publication_or_unpublication_shows_at_once(alice: Any) -> None:
    from lingjing.works.publishing import do_unpublish_work

    first = publish(alice, "星河列车")
    assert "星河列车" in _home(Client())
    assert _feed_queries(Client()) == []  # the second visitor: no feed built
    publish(alice, "月下古城")
    page = _home(Client())
    assert "月下古城" in page and "星河列车" in page
    do_unpublish_work(first, acting_user=alice)
    page = _home(Client())
    assert "星河列车" not in page and "月下古城" in page


def test_signed_in_people_never_read_or_fill_the_shared_section(alice: Any, bob: Any) -> None:
    from lingjing.community.actions import do_like_work

    work = publish(alice, "星河列车")
    do_like_work(bob, work, acting_user=bob)
    _home(Client())  # a visitor fills the cache
    bob_page = _home(client_for(bob))
    assert "已赞" in bob_page  # bob's own mark: built for him, not taken from the visitors' copy
    assert "已赞" not in _home(Client())  # and nothing of bob's went into it
    assert _feed_queries(client_for(bob))  # signed in: the feeds are built for every request


def test_the_shared_section_is_per_language_and_holds_no_token_or_nonce(alice: Any) -> None:
    publish(alice, "星河列车")
    zh = _home(Client())
    english = Client()
    english.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    en = _home(english)
    assert "最新发布" in zh and "Just published" not in zh
    assert "Just published" in en and "最新发布" not in en
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    section = views.home_section(request)
    assert set(section) == {"html"} and "星河列车" in section["html"]
    assert "csrfmiddlewaretoken" not in section["html"] and "nonce" not in section["html"]


def test_without_public_caching_every_visitor_gets_the_feeds_built(alice: Any, settings: Any) -> None:
    settings.LINGJING_PUBLIC_CACHE_SECONDS = 0
    publish(alice, "星河列车")
    _home(Client())
    assert _feed_queries(Client())


def test_a_broken_cache_still_serves_the_home_page(alice: Any, monkeypatch: Any) -> None:
    from lingjing.core import cachecontrol

    def down() -> Any:
        raise ConnectionError("cache down")

    monkeypatch.setattr(cachecontrol, "public_generation", down)
    publish(alice, "星河列车")
    assert "星河列车" in _home(Client())


def test_a_publication_starts_one_more_generation_when_it_commits(alice: Any) -> None:
    """Between the save (signal) and the commit another request may cache the old rows under the new generation."""
    from lingjing.core import cachecontrol

    publish(alice, "星河列车")
    publish(alice, "月下古城")
    pending = [entry[1] for entry in connection.run_on_commit if entry[1] is cachecontrol._new_generation]
    assert len(pending) == 1  # once per transaction, however many rows it wrote
    during = cachecontrol.public_generation()
    pending[0]()  # the commit
    assert cachecontrol.public_generation() != during
