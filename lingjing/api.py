"""The JSON API at ``/api/v1``: Django Ninja, Bearer tokens for clients, session + CSRF for pages.

Errors always have the shape ``{"error": {"code": "...", "message": "..."}}`` (API-CONTRACT.md): raise
``ApiError`` from API code; everything else Ninja or Django can throw is mapped by the handlers installed by
``install_error_handlers`` below, and ``lingjing.core.middleware.ApiErrorMiddleware`` covers the answers that
never reach Ninja (unknown paths, wrong methods). Messages are Chinese, the product's first language, and
English for a client that asks for it (``Accept-Language: en``).

Auth (``AUTH``) tries, in order:

1. ``bearer`` — ``Authorization: Bearer <token>``; only the token's SHA-256 is stored (``accounts.ApiToken``).
   A request that presents a token which is unknown, revoked or belongs to an inactive account is refused
   with 401 ``invalid_token`` at once, without falling back to the session.
2. ``session`` — the browser's session cookie. A request carrying the cookie must pass Django's CSRF check
   (``X-CSRFToken`` header), else 403 ``csrf_failed``; a request without the cookie is simply anonymous.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError
from ninja.parser import Parser
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf
from pydantic import Field

from lingjing.core.middleware import status_code, status_message

logger = logging.getLogger("lingjing.api")

# How stale a token's "last used" time may get before a request refreshes it: one write per token per window,
# not one per request.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=5)


class ApiError(Exception):
    """Raise from API code for a clean JSON error: ``raise ApiError(404, "not_found", "作品不存在")``."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


class BearerAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        from lingjing.accounts.bearer import presented_token
        from lingjing.accounts.models import ApiToken

        row = presented_token(request, token)  # the middleware looked it up already (once per request)
        if row is None or not row.user.is_active or getattr(row.user, "status", "active") == "erased":
            raise ApiError(401, "invalid_token", _("访问令牌无效或已失效，请重新登录"))
        now = timezone.now()
        if row.last_used_at is None or now - row.last_used_at > TOKEN_TOUCH_INTERVAL:
            # Bookkeeping for the user's device list, like Django's own last_login: no audit row per request.
            ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
        request.user = row.user
        request.api_token = row  # type: ignore[attr-defined]
        return row.user


class CsrfSessionAuth(APIKeyCookie):
    """Browser pages calling the API with their session cookie must send the CSRF token."""

    param_name: str = settings.SESSION_COOKIE_NAME

    def _get_key(self, request: HttpRequest) -> str | None:
        key = request.COOKIES.get(self.param_name)
        if not key:
            return None  # no session: anonymous, nothing to forge
        if not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request) is not None:
            raise ApiError(403, "csrf_failed", _("安全校验失败（CSRF），请刷新页面后重试"))
        return key

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        if key and request.user.is_authenticated:
            return request.user
        return None


bearer = BearerAuth()
session = CsrfSessionAuth()
AUTH = [bearer, session]


def error_response(request: HttpRequest, status: int, code: str, message: str, **headers: str) -> HttpResponse:
    body = {"error": {"code": code, "message": message}}
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False), status=status, content_type="application/json; charset=utf-8"
    )
    for name, value in headers.items():
        response[name] = value
    return response


def _validation_message(exc: ValidationError) -> str:
    fields = []
    for err in exc.errors:
        loc = [str(p) for p in err.get("loc", []) if p not in ("body", "query", "path", "payload", "form", "file")]
        fields.append(".".join(loc) or "body")
    unique = list(dict.fromkeys(fields))
    return _("请求参数无效：%(fields)s") % {"fields": "、".join(unique)} if unique else _("请求参数无效")


def install_error_handlers(target: NinjaAPI) -> None:
    """Map every exception the API can meet to the contract's error shape (also used by tests' own APIs)."""

    def api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
        return error_response(request, exc.status, exc.code, exc.message, **exc.headers)

    def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        return error_response(request, 422, "invalid_request", _validation_message(exc))

    def authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return error_response(request, 401, "unauthenticated", status_message(401))

    def throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
        headers = {"Retry-After": str(max(1, int(exc.wait)))} if exc.wait is not None else {}
        return error_response(request, 429, "rate_limited", status_message(429), **headers)

    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        status = exc.status_code
        return error_response(request, status, status_code(status), status_message(status))

    def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return error_response(request, 404, "not_found", _("内容不存在"))

    def permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
        return error_response(request, 403, "forbidden", status_message(403))

    def database_error(request: HttpRequest, exc: DatabaseError) -> HttpResponse:
        from lingjing.core.views import database_unavailable, service_unavailable

        if database_unavailable(exc):  # down, dropped or locked: 503 + Retry-After; the action rolled back
            return service_unavailable(request, exc)
        return unexpected(request, exc)

    def unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
        # The details go to the log only; the client learns nothing about the code.
        logger.error("unhandled API error on %s %s", request.method, request.path, exc_info=exc)
        return error_response(request, 500, "server_error", status_message(500))

    handlers: list[tuple[type[Exception], Callable[[HttpRequest, Any], HttpResponse]]] = [
        (ApiError, api_error),
        (ValidationError, validation_error),
        (AuthenticationError, authentication_error),
        (Throttled, throttled),
        (HttpError, http_error),
        (Http404, not_found),
        (PermissionDenied, permission_denied),
        (DatabaseError, database_error),
        (Exception, unexpected),
    ]
    for exc_class, handler in handlers:
        target.add_exception_handler(exc_class, handler)


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message"],
                             "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}},
}


# The highest page a list answers: far past any real list, and low enough that the offset it makes stays a 64-bit
# integer (a fuzzed ``?page=10**32`` once crashed a list with 500). Beyond it: 422 like any invalid parameter.
MAX_PAGE = 100_000
PageNumber = Annotated[int, Field(le=MAX_PAGE)]


class PageIn(Schema):
    """``?page=`` of the paginated lists (``q: Query[PageIn]``); pages below 1 are read as 1 by the lists."""

    page: PageNumber = 1


def _storable(value: Any) -> bool:
    """No text in ``value`` that a database cannot hold: NUL (PostgreSQL's text and jsonb refuse it) or a lone
    surrogate (not encodable as UTF-8), both of which JSON can spell as ``\\u0000`` / ``\\ud800``."""
    if isinstance(value, str):
        return "\x00" not in value and (value.isascii() or _encodable(value))
    if isinstance(value, dict):
        return all(_storable(key) and _storable(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_storable(item) for item in value)
    return True


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class ObjectBodyParser(Parser):
    """Every JSON body of this API is an object (``test_api.py`` holds the schema to it). Ninja hands a lone body
    parameter whatever JSON arrived and its schemas read fields as attributes, so a string body ``"AAA"`` once
    created a work titled "Aaa" (``str.title``). Anything but an object, and any text no database can store (a tag
    holding ``\\u0000`` once made PostgreSQL fail with 500), is refused like malformed JSON: Ninja turns the
    parser's exception into a 400, answered in the error shape."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        data = super().parse_body(request)
        if not isinstance(data, dict):
            raise ValueError("the JSON body must be an object")
        if not _storable(data):
            raise ValueError("the JSON body holds NUL or a lone surrogate")
        return data


class LingjingApi(NinjaAPI):
    """The schema documents the error answers too: every operation may answer a ``4XX`` in the error shape
    (validation, auth, access, limits), so clients and the schema fuzzer (tests/hardening) know what to expect."""

    @property
    def urls(self) -> tuple[list[Any], str, str]:
        register_routers()  # an app's api.py imported before this module was only half loaded at first: add it now
        return super().urls

    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None) -> Any:
        register_routers()
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        ref = {"$ref": "#/components/schemas/Error"}
        error = {"description": "错误", "content": {"application/json": {"schema": ref}}}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                if isinstance(operation, dict) and "responses" in operation:
                    operation["responses"].setdefault("4XX", error)
        return schema


api = LingjingApi(
    title="灵境 Lingjing API",
    version="1",
    description='灵境 AI 动漫创作平台的 JSON 接口。错误统一为 {"error": {"code", "message"}}。',
    urls_namespace="api",
    docs_url="/docs",
    parser=ObjectBodyParser(),
)
install_error_handlers(api)


@api.get("/healthz", auth=None, tags=["meta"])
def healthz(request: HttpRequest) -> dict[str, str]:
    return {"status": "ok"}


_REGISTERED: set[str] = set()


def register_routers() -> None:
    """Each app adds its router in ``<app>/api.py``; imported here so the schema is complete.

    Safe to call again: a module already added is skipped. When an app's ``api.py`` is imported first, it imports
    this module while it is itself half loaded (no ``router`` yet); it is added by the next call, which the URL
    patterns and the schema make before they are built."""
    from importlib import import_module

    for module in (
        "lingjing.accounts.api", "lingjing.privacy.api", "lingjing.consent.api", "lingjing.studio.api",
        "lingjing.sharing.api", "lingjing.decisions.api", "lingjing.children.api",
        "lingjing.notify.api", "lingjing.support.api", "lingjing.secops.api",
        "lingjing.works.api", "lingjing.community.api", "lingjing.search.api",
    ):
        if module in _REGISTERED:
            continue
        try:
            mod = import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        router = getattr(mod, "router", None)
        if router is not None:
            api.add_router(getattr(mod, "PREFIX", "/"), router)
            _REGISTERED.add(module)


register_routers()
