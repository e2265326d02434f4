"""Read replicas for the public read paths: which queries may go to a replica, and which must not.

The rule, kept small on purpose (docs/deploy.md):

1. Replicas exist only when ``DATABASE_REPLICA_URLS`` is set; they become the aliases ``replica_1``, … and
   ``ReplicaRouter`` is installed. Without them nothing here runs a query differently.
2. ``ReplicaReadMiddleware`` marks a request as a *public read* when it is a GET or HEAD without a session
   cookie and without an ``Authorization`` header: an anonymous visitor on the home page, a work page, search,
   or the public feed API. Signed-in people always read the primary, so they see their own changes at once,
   whatever the replication lag.
3. During a public read, reads of models in ``LINGJING_REPLICA_APPS`` (default ``works`` and ``search``: what the
   feed, work pages and search show) go to one replica, chosen at random once per request. Every other model
   (sessions, consent, rate-limit cache rows, accounts, the audit log) reads the primary.
4. Never inside a transaction on the primary (``atomic``): a read there must see the transaction's own rows.
5. Never after a write: the first ORM write in a request (``db_for_write``) pins the rest of that request to the
   primary.

Outside a request (tasks, commands) everything uses the primary, unless code asks explicitly with
``public_reads()`` (a context manager with the same rules). Writes always go to the primary; migrations run only
on the primary (a replica is a copy of it).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import Model
from django.http import HttpRequest, HttpResponse

PRIMARY = "default"


@dataclass
class _ReadScope:
    replica: str
    wrote: bool = False


_scope: ContextVar[_ReadScope | None] = ContextVar("lingjing_replica_scope", default=None)


def replicas() -> list[str]:
    return list(getattr(settings, "LINGJING_DB_REPLICAS", []))


@contextmanager
def public_reads() -> Iterator[str | None]:
    """Within the block, reads of public models may use a replica (the rules above). Yields the replica alias,
    or None when there is none."""
    aliases = replicas()
    if not aliases:
        yield None
        return
    token = _scope.set(_ReadScope(replica=random.choice(aliases)))  # noqa: S311 (load spreading, not security)
    try:
        yield _scope.get().replica  # type: ignore[union-attr]
    finally:
        _scope.reset(token)


def replica_for(model: type[Model]) -> str | None:
    """The replica a read of ``model`` goes to now, or None for the primary."""
    scope = _scope.get()
    if scope is None or scope.wrote:
        return None
    if model._meta.app_label not in settings.LINGJING_REPLICA_APPS:
        return None
    if connections[PRIMARY].in_atomic_block:
        return None
    return scope.replica


class ReplicaRouter:
    """Installed (``DATABASE_ROUTERS``) only when replicas are configured."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        return replica_for(model)

    def db_for_write(self, model: type[Model], **hints: Any) -> str | None:
        scope = _scope.get()
        if scope is not None:
            scope.wrote = True  # read-your-writes for the rest of this request
        return PRIMARY

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        return True  # a replica holds the same rows as the primary

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool | None:
        return db == PRIMARY


def is_public_read(request: HttpRequest) -> bool:
    return (
        request.method in ("GET", "HEAD")
        and settings.SESSION_COOKIE_NAME not in request.COOKIES
        and "HTTP_AUTHORIZATION" not in request.META
    )


class ReplicaReadMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not replicas() or not is_public_read(request):
            return self.get_response(request)
        with public_reads():
            return self.get_response(request)
