"""URLs for the error-page tests: views that fail on purpose, beside the real site."""

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def forbidden(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("secret-internal-detail")


urlpatterns = [
    path("forbidden/", forbidden),
    path("boom/", boom),
    path("", include("lingjing.urls")),
]

handler403 = "lingjing.core.views.permission_denied"
handler404 = "lingjing.core.views.page_not_found"
handler500 = "lingjing.core.views.server_error"
