"""Site-wide middleware: the language of a request, and the JSON shape of every error under ``/api/``.

``ApiErrorMiddleware``: every error under ``/api/`` answers in the contract's JSON shape, whoever produced it.

Django Ninja's own errors go through the exception handlers in ``lingjing/api.py``. Some answers never reach
them: an unknown path (Django's 404), a method the path does not accept (Ninja's bare 405), a request Django
refuses before routing (400 for a bad Host or an oversized body), or a crash outside the API's handlers (500).
This middleware rewrites any such non-JSON error response under ``/api/`` into
``{"error": {"code", "message"}}`` with the same status and headers (``Allow``, ``Retry-After``).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.locale import LocaleMiddleware as DjangoLocaleMiddleware
from django.utils import translation
from django.utils.translation import gettext as _

API_PREFIX = "/api/"

CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    500: "server_error",
    502: "bad_gateway",
    503: "unavailable",
}


def status_message(status: int) -> str:
    messages = {
        400: _("请求无效"),
        401: _("请先登录"),
        403: _("没有权限"),
        404: _("接口不存在"),
        405: _("不支持该请求方法"),
        413: _("请求内容过大"),
        415: _("不支持的内容类型"),
        429: _("请求过于频繁，请稍后再试"),
        500: _("服务器内部错误，请稍后再试"),
        503: _("服务暂不可用，请稍后再试"),
    }
    return messages.get(status, _("请求失败"))


def status_code(status: int) -> str:
    return CODES.get(status, "server_error" if status >= 500 else "error")


def is_json(response: HttpResponse) -> bool:
    return response.get("Content-Type", "").split(";")[0].strip() == "application/json"


class ApiErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.path.startswith(API_PREFIX)
            and response.status_code >= 400
            and not getattr(response, "streaming", False)
            and not is_json(response)
        ):
            status = response.status_code
            body = {"error": {"code": status_code(status), "message": status_message(status)}}
            response.content = json.dumps(body, ensure_ascii=False).encode()
            response["Content-Type"] = "application/json; charset=utf-8"
            if response.has_header("Content-Length"):
                response["Content-Length"] = str(len(response.content))
        return response


class RequestSizeMiddleware:
    """Refuse a request body over ``LINGJING_MAX_REQUEST_BYTES`` from its ``Content-Length``, before anything reads it.

    Django caps the form fields of a body (``DATA_UPLOAD_MAX_MEMORY_SIZE``) and spools files over
    ``FILE_UPLOAD_MAX_MEMORY_SIZE`` to a temporary file, but it puts no ceiling on the files themselves: without
    this a single upload could fill the temporary directory long before the avatar, screenshot or import code
    sees its 5 MiB cap. Must run before anything touches ``request.POST`` (CSRF reads it in ``process_view``).
    Pages get a Chinese 413 page; under ``/api/`` the ``ApiErrorMiddleware`` answers ``payload_too_large``.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.LINGJING_MAX_REQUEST_BYTES:
            from lingjing.core.views import request_too_large

            return request_too_large(request)
        return self.get_response(request)


class LocaleMiddleware(DjangoLocaleMiddleware):
    """Pages are Chinese unless the visitor chose English (the language cookie set by the switch in the header).

    Django's own middleware would follow the browser's Accept-Language, so most browsers outside China would
    get English by default; the platform speaks Chinese first. API clients (``/api/``) keep the standard
    negotiation: an app that sends ``Accept-Language: en`` gets English error messages.
    """

    def process_request(self, request: HttpRequest) -> None:
        if request.path.startswith(API_PREFIX):
            super().process_request(request)
            return
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) or settings.LANGUAGE_CODE
        try:
            language = translation.get_supported_language_variant(chosen)
        except LookupError:
            language = settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
