"""Cookie consent, browser privacy signals, analytics and the policy acceptance check, per request.

``CookieConsentMiddleware`` sits *outside* the session and CSRF middleware (before them in ``MIDDLEWARE``), so
its response phase runs after every other component has added its cookies. It drops each ``Set-Cookie``
whose cookie is not declared in :mod:`lingjing.consent.cookies` or whose category this browser has not
accepted. Deleting a cookie (expiry in the past) is always let through.

The language cookie is a *preference*: it is only kept without a preferences choice on the response of the
language switch itself (``/i18n/setlang/``), because there the person explicitly asked for it to be set.

``PrivacyMiddleware`` sits after authentication. Per request it

1. notes the DNT / GPC signal and, for a signed-in person who never answered a signal-honouring purpose,
   records the refusal once with the signal as method (an explicit earlier answer is never replaced; the
   pages show when the signal overrides it);
2. sends a signed-in person whose acceptance of a material policy change is outstanding to the accept page
   (pages only; API answers to a signed-in caller carry an ``X-Policy-Acceptance-Required`` header instead);
3. records analytics for the request when, and only when, the person consented and the browser allows
   analytics cookies, and sets the random browser id cookie the pseudonyms derive from.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from http.cookies import Morsel
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from lingjing.consent import cookies as decl
from lingjing.consent.signals import privacy_signal

log = logging.getLogger("lingjing.consent")

SKIP_PREFIXES = ("/static/", "/media/", "/t/", "/.well-known/", "/healthz", "/favicon")
# Where a person with an outstanding material acceptance may still go.
ACCEPT_EXEMPT = ("/privacy/", "/accounts/logout", "/i18n/", "/help/", "/console/", "/api/")
SIGNAL_SESSION_KEY = "lj_signal_recorded"
POLICY_SESSION_KEY = "lj_policy_ok"


def _is_deletion(morsel: Morsel[str]) -> bool:
    if morsel["max-age"] not in ("", None):
        try:
            return int(morsel["max-age"]) <= 0
        except ValueError:
            return False
    expires = morsel["expires"]
    return bool(expires) and "1970" in str(expires)


class CookieConsentMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        self.strip(request, response)
        return response

    @staticmethod
    def strip(request: HttpRequest, response: HttpResponse) -> None:
        explicit_language = request.path.startswith("/i18n/setlang")
        for name in list(response.cookies):
            morsel = response.cookies[name]
            if _is_deletion(morsel):
                continue
            cookie = decl.cookie_by_name(name)
            if cookie is None:
                log.error("cookie %r is not declared in lingjing/consent/cookies.py; not sent", name)
                del response.cookies[name]
                continue
            if cookie.category == "necessary":
                continue
            if explicit_language and name == settings.LANGUAGE_COOKIE_NAME:
                continue
            if not decl.category_allowed(request, cookie.category):
                del response.cookies[name]


class PrivacyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path
        if path.startswith(SKIP_PREFIXES):
            return self.get_response(request)
        signal = privacy_signal(request)
        request.lj_privacy_signal = signal  # type: ignore[attr-defined]
        user = getattr(request, "user", None)
        signed_in = bool(user is not None and user.is_authenticated)
        if signal and signed_in:
            self._record_signal(request, user, signal)
        if signed_in:
            redirect = self._policy_gate(request, user)
            if redirect is not None:
                return redirect
        started = time.perf_counter()
        response = self.get_response(request)
        if path.startswith("/api/"):
            self._api_policy_header(request, response)
        else:
            self._analytics(request, response, started)
        return response

    @staticmethod
    def _api_policy_header(request: HttpRequest, response: HttpResponse) -> None:
        """API clients (session or Bearer: the user is known only after the view ran) learn about a pending
        material acceptance from a header instead of a redirect."""
        from lingjing.consent.policy import material_version_to_accept

        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return
        pending = material_version_to_accept(user)
        if pending is not None:
            response["X-Policy-Acceptance-Required"] = str(pending.number)

    @staticmethod
    def _record_signal(request: HttpRequest, user: Any, signal: str) -> None:
        session = getattr(request, "session", None)
        if session is not None and session.get(SIGNAL_SESSION_KEY) == signal:
            return
        from lingjing.consent.actions import do_record_signal_refusal
        from lingjing.consent.models import Purpose

        keys = list(Purpose.objects.filter(active=True, honours_signals=True).values_list("key", flat=True))
        do_record_signal_refusal(user, keys, method=signal, request=request, acting_user=user)
        if session is not None:
            session[SIGNAL_SESSION_KEY] = signal

    @staticmethod
    def _policy_gate(request: HttpRequest, user: Any) -> HttpResponse | None:
        from lingjing.consent.policy import latest_material_in_force, needs_acceptance

        latest = latest_material_in_force()
        if latest is None:
            return None
        session = getattr(request, "session", None)
        if session is not None and session.get(POLICY_SESSION_KEY) == latest.number:
            return None
        if not needs_acceptance(user, latest):
            if session is not None:
                session[POLICY_SESSION_KEY] = latest.number
            return None
        if request.path.startswith(ACCEPT_EXEMPT) or request.method not in ("GET", "HEAD"):
            return None
        return HttpResponseRedirect(f"/privacy/policy/accept?next={quote(request.get_full_path())}")

    @staticmethod
    def _analytics(request: HttpRequest, response: HttpResponse, started: float) -> None:
        from lingjing.consent.analytics import new_browser_id, record_request
        from lingjing.consent.service import has_consent

        user = getattr(request, "user", None)
        # The browser's cookie choice first: it needs no query, and most requests stop there.
        if not decl.category_allowed(request, "analytics") or not has_consent(user, "analytics", request):
            return
        page = request.method == "GET" and response.get("Content-Type", "").startswith("text/html")
        if not page and response.status_code < 500:
            return
        browser_id = request.COOKIES.get(decl.ANALYTICS_COOKIE, "")
        if not browser_id or len(browser_id) > 64:
            browser_id = new_browser_id()
            response.set_cookie(decl.ANALYTICS_COOKIE, browser_id, max_age=decl.ANALYTICS_COOKIE_AGE,
                                secure=request.is_secure(), httponly=True, samesite="Lax")
        duration_ms = int((time.perf_counter() - started) * 1000)
        try:
            record_request(request, browser_id=browser_id, status=response.status_code, duration_ms=duration_ms,
                           page=page)
        except Exception:  # analytics must never break a page
            log.exception("analytics event not recorded")
