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
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control, patch_vary_headers

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
