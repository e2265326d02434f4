"""Cache-Control on every page: public pages may be kept for a minute, anything personal is never stored.

``CacheControlMiddleware`` decides per response:

1. **Personal** — a request from someone signed in (a session cookie or an ``Authorization`` header), or any
   page under ``PRIVATE_PREFIXES`` (the privacy centre, accounts, studio, support, inbox, children, the staff
   console): ``Cache-Control: private, no-store``, so neither a shared cache nor the browser's disk keeps it.
2. **Public** — an anonymous GET or HEAD answered 200 on a public path (``/``, ``/works/…``, ``/search``, and the
   public feed and search API): ``public, max-age=LINGJING_PUBLIC_CACHE_SECONDS`` (60 by default). When the
   response sets a cookie (the CSRF cookie on a visitor's first page), it is ``private`` instead: a shared
   cache must never hand one visitor's cookie to the next. Django re-sends the CSRF cookie, unchanged, on every
   page that shows a form (the language switch is on every page); that repeat is dropped when the browser
   already holds the same value, so a returning visitor's pages are public. ``Vary: Cookie, Accept-Language``
   always: the language and the CSRF token on the page depend on them, so a shared cache keeps one copy per
   cookie header and never serves one visitor's token to another.
3. Anything else is left as its view answered. So is any response whose view set ``Cache-Control`` itself
   (``never_cache`` on health checks, the public avatar files under ``/accounts/avatar/``): the view knows best.

Static files never reach this middleware: WhiteNoise answers them earlier, with far-future caching for
the hashed names (``CompressedManifestStaticFilesStorage`` in production).

``PublicApiCacheMiddleware`` keeps the public feed API's answers (``GET /api/v1/works`` and
``/api/v1/works/<id>``) in the shared cache for ``LINGJING_PUBLIC_CACHE_SECONDS`` — only for requests that carry
no cookie and no ``Authorization`` (anonymous API clients, crawlers): nothing in such an answer can depend on a
person. It sits after the rate limits and the privacy middleware, so a cached answer still counts against the
client's limits and passes the same checks; only the view and its queries are skipped. Any save or delete of a
work (publish, unpublish, takedown, edit), of a works-app row (comments, likes) or of a member (nickname,
avatar) starts a new cache generation (``public_content_changed``), so a change shows at once; code that changes
such rows with ``QuerySet.update()`` (no signals) calls ``public_content_changed()`` itself. Search is not
cached: each query is counted in the security log. The home page's feed section for visitors who are not signed
in is kept under the same generation (``works.views.home_section``). A save's signal fires before its transaction
commits, so a second generation starts at the commit: nothing read in between outlives it.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.cache import patch_cache_control, patch_vary_headers

log = logging.getLogger("lingjing.core")

PRIVATE_PREFIXES = (
    "/privacy/", "/accounts/", "/studio/", "/support/", "/inbox/", "/children/", "/console/", "/i18n/",
    "/api/v1/me", "/api/v1/privacy/", "/api/v1/auth/",
)  # fmt: skip
PUBLIC_EXACT = ("/", "/search", "/api/v1/works", "/api/v1/search")
PUBLIC_PREFIXES = ("/works/", "/search/", "/api/v1/works/")


def is_signed_in(request: HttpRequest) -> bool:
    """Decided from the request alone, without loading the session: a session cookie may be stale, but a
    page for it is treated as personal all the same."""
    return settings.SESSION_COOKIE_NAME in request.COOKIES or "HTTP_AUTHORIZATION" in request.META


def is_public_path(path: str) -> bool:
    return path in PUBLIC_EXACT or path.startswith(PUBLIC_PREFIXES)


def cache_policy(request: HttpRequest, response: HttpResponse) -> str | None:
    """``"private"``, ``"public"``, ``"browser"`` (public page that sets a cookie) or None (leave it)."""
    path = request.path
    if is_signed_in(request) or path.startswith(PRIVATE_PREFIXES):
        return "private"
    if request.method not in ("GET", "HEAD") or response.status_code != 200 or not is_public_path(path):
        return None
    if settings.LINGJING_PUBLIC_CACHE_SECONDS <= 0:
        return None
    _drop_repeated_csrf_cookie(request, response)
    return "browser" if response.cookies else "public"


def _drop_repeated_csrf_cookie(request: HttpRequest, response: HttpResponse) -> None:
    name = settings.CSRF_COOKIE_NAME
    morsel = response.cookies.get(name)
    if morsel is not None and morsel.value and morsel.value == request.COOKIES.get(name):
        del response.cookies[name]


class CacheControlMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.has_header("Cache-Control"):
            return response
        policy = cache_policy(request, response)
        if policy == "private":
            patch_cache_control(response, private=True, no_store=True)
        elif policy is not None:
            max_age = settings.LINGJING_PUBLIC_CACHE_SECONDS
            if policy == "public":
                patch_cache_control(response, public=True, max_age=max_age)
            else:
                patch_cache_control(response, private=True, max_age=max_age)
            patch_vary_headers(response, ("Cookie", "Accept-Language"))
        return response


# --- the public feed API in the shared cache ---------------------------------------------------------------

SERVER_CACHED = re.compile(r"^/api/v1/works(?:/[0-9a-fA-F-]{32,36})?$")
GENERATION_KEY = "lj:pubapi:generation"
PUBLIC_CONTENT_APPS = frozenset({"works"})
PUBLIC_CONTENT_MODELS = frozenset({"accounts.user"})


def public_content_changed(**kwargs: Any) -> None:
    """Start a new generation of cached public answers (also a ``post_save`` / ``post_delete`` receiver)."""
    sender = kwargs.get("sender")
    if sender is not None:
        meta = sender._meta
        if meta.app_label not in PUBLIC_CONTENT_APPS and meta.label_lower not in PUBLIC_CONTENT_MODELS:
            return
    _new_generation()
    # The signal fires inside the writing transaction: a request reading the old rows before the commit could store
    # them under the new generation. One more generation when the write commits retires those (once per transaction).
    from django.db import connection, transaction

    if connection.in_atomic_block and not any(entry[1] is _new_generation for entry in connection.run_on_commit):
        transaction.on_commit(_new_generation)


def _new_generation() -> None:
    from django.db import connection, transaction

    try:
        # Inside a write, a savepoint: with the database cache, a failing cache query would otherwise leave the
        # writer's PostgreSQL transaction aborted, and its COMMIT would silently roll the whole action back.
        with transaction.atomic() if connection.in_atomic_block else _no_savepoint():
            try:
                cache.incr(GENERATION_KEY)
            except ValueError:  # not there yet (or evicted): any new value retires the old keys
                cache.set(GENERATION_KEY, _fresh_generation(), None)
    except Exception:  # the cache being down must not fail a write; entries then expire on their own
        log.warning("public cache: could not start a new generation", exc_info=True)


def _no_savepoint() -> contextlib.AbstractContextManager[None]:
    return contextlib.nullcontext()


def _fresh_generation() -> int:
    import time

    return int(time.time() * 1000)


def public_generation() -> Any:
    """The current generation of cached public content (keys built from it retire when it changes). Raises
    when the cache is unavailable: callers answer without the cache then."""
    generation = cache.get(GENERATION_KEY)
    if generation is None:
        generation = _fresh_generation()
        cache.add(GENERATION_KEY, generation, None)
        generation = cache.get(GENERATION_KEY, generation)
    return generation


def connect_invalidation() -> None:
    """Connect the receiver for the public-content models only (called from ``CoreConfig.ready``, models loaded).

    Connected per model, not for every sender: a delete signal receiver for all models would force Django to load
    and signal every row of every delete (no ``DELETE … WHERE`` fast path), erasure's bulk deletes included.
    """
    from django.apps import apps
    from django.db.models.signals import post_delete, post_save

    for model in apps.get_models():
        meta = model._meta
        if meta.app_label in PUBLIC_CONTENT_APPS or meta.label_lower in PUBLIC_CONTENT_MODELS:
            uid = f"lingjing.core.public_cache.{meta.label_lower}"
            post_save.connect(public_content_changed, sender=model, dispatch_uid=f"{uid}.save")
            post_delete.connect(public_content_changed, sender=model, dispatch_uid=f"{uid}.delete")


def server_cacheable(request: HttpRequest) -> bool:
    return (
        request.method in ("GET", "HEAD")
        and settings.LINGJING_PUBLIC_CACHE_SECONDS > 0
        and not request.COOKIES
        and not request.META.get("HTTP_COOKIE", "").strip()
        and "HTTP_AUTHORIZATION" not in request.META
        and SERVER_CACHED.match(request.path) is not None
    )


def _key(request: HttpRequest, generation: Any) -> str:
    query = "&".join(sorted(request.GET.urlencode().split("&")))
    return f"lj:pubapi:{generation}:{translation.get_language()}:{request.path}?{query}"


class PublicApiCacheMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not server_cacheable(request):
            return self.get_response(request)
        try:
            key = _key(request, public_generation())
            hit = cache.get(key)
        except Exception:
            log.warning("public cache unavailable; answering without it", exc_info=True)
            return self.get_response(request)
        if hit is not None:
            content, content_type = hit
            return HttpResponse(content, content_type=content_type)
        response = self.get_response(request)
        if (
            response.status_code == 200
            and not getattr(response, "streaming", False)
            and not response.cookies
            and not response.has_header("Cache-Control")
            and response.get("Content-Type", "").startswith("application/json")
        ):
            try:
                cache.set(key, (response.content, response["Content-Type"]), settings.LINGJING_PUBLIC_CACHE_SECONDS)
            except Exception:
                log.warning("public cache: could not store %s", request.path, exc_info=True)
        return response
