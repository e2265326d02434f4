"""A small API beside the real one, built with the real auth and error handlers, for the API shell's tests.

The product's routers belong to their apps; these endpoints exist only so the tests can drive an
authenticated call, a schema validation failure and a crash through ``lingjing.api``'s machinery.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import include, path
from ninja import NinjaAPI, Schema

from lingjing.api import AUTH, ApiError, install_error_handlers

test_api = NinjaAPI(title="test", urls_namespace="test_api")
install_error_handlers(test_api)


class EchoIn(Schema):
    name: str
    count: int


@test_api.get("/whoami", auth=AUTH)
def whoami(request: HttpRequest) -> dict[str, str]:
    return {"id": str(request.user.pk), "via": "bearer" if hasattr(request, "api_token") else "session"}


@test_api.post("/echo", auth=None)
def echo(request: HttpRequest, payload: EchoIn) -> dict[str, object]:
    return {"name": payload.name, "count": payload.count}


@test_api.post("/touch", auth=AUTH)
def touch(request: HttpRequest) -> dict[str, bool]:
    return {"ok": True}


@test_api.get("/crash", auth=None)
def crash(request: HttpRequest) -> dict[str, str]:
    raise RuntimeError("secret-internal-detail")


@test_api.get("/gone", auth=None)
def gone(request: HttpRequest) -> dict[str, str]:
    raise ApiError(410, "gone", "作品已删除")


urlpatterns = [
    path("test-api/", test_api.urls),
    path("", include("lingjing.urls")),
]
