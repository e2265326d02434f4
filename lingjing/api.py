"""The JSON API at ``/api/v1``: Django Ninja, Bearer tokens for clients, session + CSRF for pages.

Errors always have the shape ``{"error": {"code": "...", "message": "..."}}`` (API-CONTRACT.md).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer, SessionAuth


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
        from lingjing.accounts.models import ApiToken, hash_token

        row = (
            ApiToken.objects.select_related("user")
            .filter(token_hash=hash_token(token), revoked_at__isnull=True)
            .first()
        )
        if row is None or not row.user.is_active:
            return None
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=timezone.now())
        request.user = row.user
        request.api_token = row  # type: ignore[attr-defined]
        return row.user


class CsrfSessionAuth(SessionAuth):
    """Browser pages calling the API with their session cookie must send the CSRF token."""

    csrf = True


bearer = BearerAuth()
session = CsrfSessionAuth()
AUTH = [bearer, session]

api = NinjaAPI(
    title="灵境 Lingjing API",
    version="1",
    urls_namespace="api",
    docs_url="/docs",
)


def error_response(request: HttpRequest, status: int, code: str, message: str, **headers: str) -> HttpResponse:
    response = api.create_response(request, {"error": {"code": code, "message": message}}, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


@api.exception_handler(ApiError)
def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return error_response(request, exc.status, exc.code, exc.message, **exc.headers)


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    fields = []
    for err in exc.errors:
        loc = [str(p) for p in err.get("loc", []) if p not in ("body", "query", "path", "payload")]
        fields.append(".".join(loc) or "body")
    message = "请求参数无效：" + "、".join(dict.fromkeys(fields)) if fields else "请求参数无效"
    return error_response(request, 422, "invalid_request", message)


@api.exception_handler(AuthenticationError)
def _auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(request, 401, "unauthenticated", "请先登录")


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    codes = {400: "bad_request", 403: "forbidden", 404: "not_found", 405: "method_not_allowed", 429: "rate_limited"}
    messages = {403: "没有权限", 404: "内容不存在", 429: "请求过于频繁，请稍后再试"}
    return error_response(
        request, exc.status_code, codes.get(exc.status_code, "error"), messages.get(exc.status_code, str(exc))
    )


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    import logging

    logging.getLogger("lingjing.api").exception("unhandled API error")
    return error_response(request, 500, "server_error", "服务器内部错误，请稍后再试")


@api.get("/healthz", auth=None, tags=["meta"])
def healthz(request: HttpRequest) -> dict[str, str]:
    return {"status": "ok"}


def register_routers() -> None:
    """Each app adds its router in ``<app>/api.py``; imported here so the schema is complete."""
    from importlib import import_module

    for module in ("lingjing.accounts.api", "lingjing.privacy.api", "lingjing.consent.api"):
        try:
            mod = import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        router = getattr(mod, "router", None)
        if router is not None:
            api.add_router(getattr(mod, "PREFIX", "/"), router)


register_routers()
