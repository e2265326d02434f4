"""Personas and helpers for the publishing, community and search tests.

alice publishes, bob reads, likes, comments and reports, charlie must see nothing of alice's drafts; mona is a
content moderator and otto a second one (appeals go to another moderator). The works and search tests import
these fixtures (``from lingjing.community.tests.conftest import *``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from django.db import transaction
from django.test import Client

from lingjing.sharing.tests.conftest import grant, make_user, staff_in

__all__ = [
    "alice", "api", "bob", "charlie", "client_for", "grant", "isolated_cache", "make_user", "mona",
    "otto", "publish", "published_corpus", "staff_in",
]


@pytest.fixture(autouse=True)
def isolated_cache(settings: Any) -> Iterator[None]:
    """A private in-memory cache per test: the recommendation pool and rate counters never leak between tests."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": f"community-{uuid.uuid4()}"}}
    yield


@pytest.fixture
def alice(db: Any) -> Any:
    return make_user("alice")


@pytest.fixture
def bob(db: Any) -> Any:
    return make_user("bob")


@pytest.fixture
def charlie(db: Any) -> Any:
    return make_user("charlie")


@pytest.fixture
def mona(db: Any) -> Any:
    return staff_in("mona", "content_moderator")


@pytest.fixture
def otto(db: Any) -> Any:
    return staff_in("otto", "content_moderator")


def publish(author: Any, title: str, *, tags: Iterable[str] = (), script: str = "") -> Any:
    from lingjing.works.actions import do_create_work
    from lingjing.works.publishing import do_publish_work

    work = do_create_work(author, title=title, script=script, tags=list(tags), acting_user=author)
    result = do_publish_work(work, acting_user=author)
    assert result.published, "the filter refused a test title"
    return result.work


def published_corpus(author: Any, docs: Iterable[Any]) -> dict[uuid.UUID, Any]:
    """Many published works at once (bulk rows, then indexed in one transaction): the corpus tests' setup.
    Returns work id → the corpus document."""
    from django.utils import timezone

    from lingjing.search.index import index_works
    from lingjing.works.models import Work, WorkStatus

    now = timezone.now()
    docs = list(docs)
    works = [Work(author=author, title=d.title, tags=list(d.tags), status=WorkStatus.PUBLISHED,
                  published_at=now, script=None) for d in docs]  # type: ignore[misc]
    with transaction.atomic():
        Work.objects.bulk_create(works, batch_size=500)
        index_works(works)
    return {w.pk: d for w, d in zip(works, docs, strict=True)}


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api(client: Client, method: str, path: str, body: Any = None, **extra: Any) -> Any:
    import json

    call = getattr(client, method.lower())
    kwargs: dict[str, Any] = dict(extra)
    if body is not None:
        kwargs.update(data=json.dumps(body), content_type="application/json")
    return call(f"/api/v1{path}", **kwargs)
