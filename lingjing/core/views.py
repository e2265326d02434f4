"""Site-wide pages: home, help and contact, health, and the error pages (404/403/400/500, CSRF failure, and
503 when the database is unavailable)."""

from __future__ import annotations

import logging
import sys

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponsePermanentRedirect,
    HttpResponseServerError,
    JsonResponse,
)
from django.shortcuts import render
from django.template import loader
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from lingjing.core.home import home_sections

logger = logging.getLogger("lingjing.core")

# How fast we answer questions and complaints sent to the contact address. The policy promises 30 days (九);
# rights requests have their own, stricter clock (15 working days, see the privacy app).
REPLY_WORKING_DAYS = 15
POLICY_REPLY_DAYS = 30


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "core/home.html", {"sections": home_sections(request)})


def help_page(request: HttpRequest) -> HttpResponse:
    context = {
        "reply_working_days": REPLY_WORKING_DAYS,
        "policy_reply_days": POLICY_REPLY_DAYS,
        "support_url": "/support/",
    }
    return render(request, "core/help.html", context)


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for ``/favicon.ico`` on pages that name no icon (the Django admin console): send them to
    the site's icon instead of a 404, which the browser would report as a console error."""
    from django.templatetags.static import static

    return HttpResponsePermanentRedirect(static("favicon.svg"))


@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """200 when the site can serve: the database answers."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        logger.exception("health check: database unavailable")
        return JsonResponse({"status": "unavailable", "database": "down"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


# --- error pages ------------------------------------------------------------------------------------------
# Wired in lingjing/urls.py (handler400/403/404/500) and settings.CSRF_FAILURE_VIEW. Under /api/ the
# ApiErrorMiddleware turns these into the JSON error shape.


def _error(request: HttpRequest, status: int, heading: str, message: str) -> HttpResponse:
    context = {"status": status, "heading": heading, "message": message}
    return render(request, "core/error.html", context, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 400, _("请求无法处理"), _("请求的格式不正确。请返回上一页重新操作。"))


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 403, _("没有访问权限"), _("您没有权限查看这个页面。如需帮助，请联系客服。"))


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 404, _("页面不存在"), _("您访问的页面不存在，或已被删除。"))


def request_too_large(request: HttpRequest) -> HttpResponse:
    """413 from ``RequestSizeMiddleware``: the body was never read, so the form cannot be shown again filled in."""
    limit = settings.LINGJING_MAX_REQUEST_BYTES // (1024 * 1024)
    return _error(request, 413, _("上传的内容过大"),
                  _("一次最多上传 %(limit)s MB。请压缩或拆分文件后返回上一页重新提交。") % {"limit": limit})


def server_error(request: HttpRequest) -> HttpResponse:
    """No database, session or user lookups here: the error may be that the database is down."""
    if database_unavailable(sys.exc_info()[1]):
        return service_unavailable(request, sys.exc_info()[1])
    template = loader.get_template("core/500.html")
    return HttpResponseServerError(template.render({"controller": settings.LINGJING_CONTROLLER}))


RETRY_AFTER_SECONDS = 30


def database_unavailable(exc: BaseException | None) -> bool:
    """The database refused or dropped the connection, or is locked: a 503 to retry, not a 500 to report.

    Every write is an action in one durable transaction, so such an error rolls the whole action back (its data
    and its audit row): nothing is half-written, and the client may simply try again."""
    return isinstance(exc, OperationalError | InterfaceError)


def service_unavailable(request: HttpRequest, exc: BaseException | None = None) -> HttpResponse:
    """503 with ``Retry-After``: JSON under ``/api/``, a Chinese page elsewhere (without the database)."""
    from lingjing.core.middleware import API_PREFIX, status_message

    logger.error("database unavailable on %s %s", request.method, request.path, exc_info=exc or sys.exc_info()[1])
    if request.path.startswith(API_PREFIX):
        body = {"error": {"code": "unavailable", "message": status_message(503)}}
        response: HttpResponse = JsonResponse(body, status=503, json_dumps_params={"ensure_ascii": False})
    else:
        template = loader.get_template("core/500.html")
        context = {"controller": settings.LINGJING_CONTROLLER, "status": 503, "heading": _("服务暂时不可用"),
                   "message": _("数据库暂时无法访问，您刚才的操作没有保存。请稍后再试。")}
        response = HttpResponse(template.render(context), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    logger.warning("CSRF failure on %s: %s", request.path, reason)
    return _error(
        request,
        403,
        _("页面已过期"),
        _("为保护您的账号安全，表单需要重新提交。请刷新页面后再试一次；如仍失败，请确认浏览器允许本站的 Cookie。"),
    )
