"""Request limits for everyone; session limits and the console gate for staff (``secops.ratelimits``, ``secops.staff``).

Placed after Django's authentication and messages middleware (``settings.MIDDLEWARE``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from lingjing.core.middleware import API_PREFIX, status_message
from lingjing.secops import ratelimits, staff


class RateLimitMiddleware:
    """429 for a client over its request limits: JSON with ``Retry-After`` under ``/api/``, a Chinese page
    elsewhere. Impossible rates and bulk scraping are logged to the security log (once a minute per key)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not settings.LINGJING_RATE_LIMIT_ENABLED or ratelimits.exempt(request.path):
            return self.get_response(request)
        refusal = ratelimits.check(request)
        if refusal is None:
            return self.get_response(request)
        if ratelimits.should_log(refusal):
            from lingjing.secops.actions import do_log_request_refusal

            do_log_request_refusal(request, kind=refusal.bucket.kind.value, limit_name=refusal.bucket.limit.name,
                                   user_key=refusal.bucket.key if refusal.bucket.scope == "user" else "")
        return too_many_requests(request, refusal.retry_after)


def too_many_requests(request: HttpRequest, retry_after: int) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        from lingjing.api import error_response

        return error_response(request, 429, "rate_limited", status_message(429), **{"Retry-After": str(retry_after)})
    response = render(request, "secops/429.html", {"retry_after": retry_after}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


class StaffSessionMiddleware:
    """A staff session ends 12 h after sign-in or after 30 min without a request; so does a staff API token."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        expired = self._bearer(request) if request.path.startswith(API_PREFIX) else None
        if expired is not None:
            return expired
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_staff:
            reason = staff.session_expiry_reason(request, time.time())
            if reason is not None:
                return self._end_session(request, user, reason)
        return self.get_response(request)

    def _end_session(self, request: HttpRequest, user: Any, reason: str) -> HttpResponse:
        from lingjing.accounts.actions import do_logout
        from lingjing.secops.actions import do_record_staff_session_expiry

        do_record_staff_session_expiry(user, reason=reason)
        do_logout(request, acting_user=user)
        if request.path.startswith(API_PREFIX):
            from lingjing.api import error_response

            return error_response(request, 401, "session_expired", "工作人员会话已过期，请重新登录")
        messages.info(request, "工作人员会话已过期（超过 12 小时或 30 分钟未操作），请重新登录")
        return HttpResponseRedirect(f"{settings.LOGIN_URL}?{urlencode({'next': request.get_full_path()})}")

    def _bearer(self, request: HttpRequest) -> HttpResponse | None:
        from lingjing.accounts.bearer import forget_presented_token, presented_token

        token = presented_token(request)
        if token is None or not token.user.is_staff:
            return None
        reason = staff.token_expiry_reason(token.created_at, token.last_used_at, timezone.now())
        if reason is None:
            return None
        from lingjing.accounts.actions import do_revoke_session
        from lingjing.api import error_response
        from lingjing.secops.actions import do_record_staff_session_expiry

        do_record_staff_session_expiry(token.user, reason=f"token:{reason}")
        do_revoke_session(token.user, token.pk, acting_user=token.user)
        forget_presented_token(request)
        return error_response(request, 401, "session_expired", "工作人员会话已过期，请重新登录")


class ConsoleGateMiddleware:
    """Staff enter the console only with TOTP proven in this session and a current training acknowledgement."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.LINGJING_CONSOLE_GATE and staff.is_console_path(request.path):
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated and user.is_staff and staff.gate_problem(request):
                return HttpResponseRedirect(f"{reverse('secops:gate')}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)
