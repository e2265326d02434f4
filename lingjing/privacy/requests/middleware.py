"""Accounts in their cancellation undo window are locked (policy 五(五); issue: "locked and hidden").

A person in the window may still sign in, but only to undo: every page other than the rights-request pages (and
sign-in/out, help, the policy, static files, language switching) redirects to the page that offers the undo, and
every API call other than the rights-request endpoints and sign-in/out answers 403 ``account_closing``. Hiding
their works is for the code that lists and shows works: it must leave out works whose author is not ``active``
(``lingjing.privacy.requests.visibility.hidden_authors``).

The check costs nothing for anonymous pages; for an API call with a Bearer token it is one indexed lookup,
kept on the request for the API's own authentication (``accounts.bearer``).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

PAGE_PATHS = ("/privacy/requests", "/accounts/login", "/accounts/logout", "/static/", "/i18n/", "/help",
              "/privacy/policy", "/healthz", "/favicon", "/privacy/cookies", "/.well-known/")
API_PATHS = ("/api/v1/privacy/requests", "/api/v1/auth/login", "/api/v1/auth/logout", "/api/v1/auth/sms-code",
             "/api/v1/healthz", "/api/v1/openapi.json", "/api/v1/docs")
UNDO_PAGE = "/privacy/requests/closing"
MESSAGE = "账号正在注销冷静期，仅可撤销注销；如需继续使用，请先撤销注销申请"


def _closing_bearer(request: HttpRequest) -> bool:
    from lingjing.accounts.bearer import presented_token
    from lingjing.accounts.models import UserStatus

    token = presented_token(request)  # kept on the request for the API's own authentication
    return token is not None and token.user.status == UserStatus.CLOSING


class ClosingAccountMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path
        if path.startswith("/api/"):
            if not path.startswith(API_PATHS) and (_closing_bearer(request) or self._closing_session(request)):
                body = {"error": {"code": "account_closing", "message": MESSAGE}}
                return HttpResponse(json.dumps(body, ensure_ascii=False), status=403,
                                    content_type="application/json; charset=utf-8")
        elif not path.startswith(PAGE_PATHS) and self._closing_session(request):
            return HttpResponseRedirect(UNDO_PAGE)
        return self.get_response(request)

    @staticmethod
    def _closing_session(request: HttpRequest) -> bool:
        user = getattr(request, "user", None)
        return bool(user is not None and user.is_authenticated and getattr(user, "status", "") == "closing")
