"""The API shell: schema, error shape for every failure, Bearer and session auth."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def error_of(response: Any) -> dict[str, str]:
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    return body["error"]  # type: ignore[no-any-return]


@pytest.fixture
def token_for(db: Any) -> Any:
    from lingjing.accounts.models import ApiToken, hash_token

    def make(user: Any, *, revoked: bool = False) -> str:
        from django.utils import timezone

        raw = secrets.token_urlsafe(32)
        ApiToken.objects.create(
            user=user, token_hash=hash_token(raw), label="测试设备", revoked_at=timezone.now() if revoked else None
        )
        return raw

    return make


def test_openapi_schema_is_served_as_json_with_title(client: Client) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["info"]["title"] == "灵境 Lingjing API"
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/healthz" in schema["paths"]


def test_unknown_api_path_is_a_json_404(client: Client) -> None:
    response = client.get("/api/v1/no/such/thing")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_wrong_method_is_a_json_405(client: Client) -> None:
    response = client.delete("/api/v1/healthz")
    assert response.status_code == 405
    assert error_of(response) == {"code": "method_not_allowed", "message": "不支持该请求方法"}
    assert "GET" in response["Allow"]


@pytest.mark.urls("lingjing.core.tests.api_urls")
def test_missing_credentials_are_a_json_401(client: Client) -> None:
    response = client.get("/test-api/whoami")
    assert response.status_code == 401
    assert error_of(response) == {"code": "unauthenticated", "message": "请先登录"}


@pytest.mark.urls("lingjing.core.tests.api_urls")
@pytest.mark.parametrize("header", ["Bearer not-a-real-token", "Bearer ", "bearer x y"])
def test_bad_bearer_token_is_a_json_401(client: Client, header: str) -> None:
    response = client.get("/test-api/whoami", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert error_of(response)["code"] in ("invalid_token", "unauthenticated")


@pytest.mark.urls("lingjing.core.tests.api_urls")
def test_revoked_token_is_refused(client: Client, make_user: Any, token_for: Any) -> None:
    raw = token_for(make_user(), revoked=True)
    response = client.get("/test-api/whoami", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_token"


@pytest.mark.urls("lingjing.core.tests.api_urls")
def test_bad_bearer_does_not_fall_back_to_the_session(client: Client, make_user: Any) -> None:
    client.force_login(make_user())
    response = client.get("/test-api/whoami", HTTP_AUTHORIZATION="Bearer forged")
    assert response.status_code == 401


@pytest.mark.urls("lingjing.core.tests.api_urls")
def test_valid_bearer_token_authenticates_and_records_last_use(client: Client, make_user: Any, token_for: Any) -> None:
    from lingjing.accounts.models import ApiToken

    user = make_user("bob")
    raw = token_for(user)
    response = client.get("/test-api/whoami", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200, response.content
    assert response.json() == {"id": str(user.pk), "via": "bearer"}
    assert ApiToken.objects.get(user=user).last_used_at is not None


@pytest.mark.urls("lingjing.core.tests.api_urls")
def test_token_of_an_erased_account_is_refused(client: Client, make_user: Any, token_for: Any) -> None:
    from lingjing.accounts.models import User, UserStatus

    user = make_user()
    raw = token_for(user)
    User.objects.filter(pk=user.pk).update(status=UserStatus.ERASED)
    response = client.get("/test-api/whoami", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_token"


@pytest.mark.urls("lingjing.core.tests.api_urls")
def test_session_auth_works_for_reads_and_needs_csrf_for_writes(make_user: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user())
    assert client.get("/test-api/whoami").json()["via"] == "session"

    refused = client.post("/test-api/touch")
    assert refused.status_code == 403
    assert error_of(refused)["code"] == "csrf_failed"

    client.get("/")  # the page sets the CSRF cookie, as a browser would get it
    token = client.cookies["csrftoken"].value
    accepted = client.post("/test-api/touch", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 200, accepted.content


@pytest.mark.urls("lingjing.core.tests.api_urls")
def test_anonymous_write_without_cookies_is_401_not_a_csrf_error() -> None:
    response = Client(enforce_csrf_checks=True).post("/test-api/touch")
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthenticated"


@pytest.mark.urls("lingjing.core.tests.api_urls")
def test_validation_error_is_422_with_a_chinese_message(client: Client) -> None:
    response = client.post("/test-api/echo", {"name": "x", "count": "many"}, content_type="application/json")
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid_request"
    assert error["message"].startswith("请求参数无效") and "count" in error["message"]

    malformed = client.post("/test-api/echo", "{not json", content_type="application/json")
    assert malformed.status_code in (400, 422)
    error_of(malformed)


@pytest.mark.urls("lingjing.core.tests.api_urls")
def test_unexpected_exception_is_a_json_500_without_details(caplog: pytest.LogCaptureFixture) -> None:
    client = Client(raise_request_exception=False)
    response = client.get("/test-api/crash")
    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "server_error"
    text = response.content.decode()
    assert "secret-internal-detail" not in text and "Traceback" not in text
    assert "secret-internal-detail" in caplog.text  # the operator still sees it in the log


@pytest.mark.urls("lingjing.core.tests.api_urls")
def test_api_error_keeps_its_status_code_and_message(client: Client) -> None:
    response = client.get("/test-api/gone")
    assert response.status_code == 410
    assert error_of(response) == {"code": "gone", "message": "作品已删除"}


def test_api_errors_follow_the_clients_accept_language(client: Client) -> None:
    chinese = client.get("/api/v1/no/such/thing")
    english = client.get("/api/v1/no/such/thing", HTTP_ACCEPT_LANGUAGE="en")
    assert error_of(chinese)["message"] == "接口不存在"
    assert error_of(english) == {"code": "not_found", "message": "No such endpoint"}


@pytest.mark.parametrize("body", ['"AAA"', "123", "[]", '["title"]', "null", "true"])
def test_a_json_body_that_is_not_an_object_is_refused(client: Client, make_user: Any, token_for: Any,
                                                      body: str) -> None:
    # A string body once created a work: the input schema read "AAA".title as the title (str.title).
    from lingjing.works.models import Work

    auth = {"Authorization": f"Bearer {token_for(make_user())}"}
    response = client.post("/api/v1/works", body, content_type="application/json", headers=auth)
    assert response.status_code == 400
    assert error_of(response)["code"] == "bad_request"
    assert not Work.objects.exists()
    work = client.post("/api/v1/works", {"title": "夜雨"}, content_type="application/json", headers=auth)
    assert work.status_code == 201
    patched = client.patch(f"/api/v1/works/{work.json()['id']}", body, content_type="application/json",
                           headers=auth)
    assert patched.status_code == 400 and Work.objects.get().title == "夜雨"


def test_every_json_body_of_the_schema_is_an_object_and_refuses_anything_else(
    client: Client, make_user: Any, token_for: Any,
) -> None:
    """The parser's rule (lingjing.api.ObjectBodyParser) holds for every operation the schema publishes."""
    import re
    import uuid

    from lingjing.api import api

    schema = api.get_openapi_schema()
    components = schema["components"]["schemas"]
    auth = {"Authorization": f"Bearer {token_for(make_user())}"}
    checked = 0
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is None:
                continue
            described = body["schema"]
            if "$ref" in described:
                described = components[described["$ref"].rsplit("/", 1)[-1]]
            assert described.get("type") == "object", (method, path)
            url = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
            response = client.generic(method.upper(), url, '"AAA"', content_type="application/json", headers=auth)
            assert response.status_code == 400, (method, path, response.status_code)
            error_of(response)
            checked += 1
    assert checked >= 20, checked


def test_no_two_schemas_share_a_component_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ninja names a component after its class and keeps the last one of a name, so two ``HistoryOut`` classes
    once made the schema describe the sign-in history with another app's fields."""
    from ninja.openapi.schema import OpenAPISchema

    from lingjing.api import api

    seen: dict[str, Any] = {}
    clashes: set[str] = set()
    add = OpenAPISchema.add_schema_definitions

    def recording(self: OpenAPISchema, definitions: dict[str, Any]) -> None:
        for name, definition in definitions.items():
            if seen.setdefault(name, definition) != definition:
                clashes.add(name)
        add(self, definitions)

    monkeypatch.setattr(OpenAPISchema, "add_schema_definitions", recording)
    schema = api.get_openapi_schema()
    assert len(seen) > 50 and "HistoryOut" in schema["components"]["schemas"]
    assert not clashes, sorted(clashes)


def test_every_paginated_list_refuses_a_page_past_the_bound_and_answers_at_it(
    client: Client, make_user: Any, token_for: Any,
) -> None:
    # ?page=10**32 once crashed the sharing records with 500 (the offset overflowed the database's integer).
    from lingjing.api import MAX_PAGE, api
    from lingjing.works.actions import do_create_work
    from lingjing.works.publishing import do_publish_work

    user = make_user()
    work = do_create_work(user, title="公开作品", script="夜雨。", acting_user=user)
    do_publish_work(work, acting_user=user, screen=False)
    auth = {"Authorization": f"Bearer {token_for(user)}"}
    lists = [path.removeprefix("/api/v1").replace("{work_id}", str(work.pk))
             for path, operations in api.get_openapi_schema()["paths"].items()
             if any(p["name"] == "page" for p in operations.get("get", {}).get("parameters", []))]
    assert {"/sharing/records", "/notifications", "/decisions", f"/works/{work.pk}/comments"} <= set(lists)
    for path in lists:
        url = f"/api/v1{path}"
        for page in (10**32, -(10**32)):
            response = client.get(url, {"page": page}, headers=auth)
            assert response.status_code in (200, 422), (url, page, response.status_code)
            if response.status_code == 422:
                error_of(response)
        last = client.get(url, {"page": MAX_PAGE}, headers=auth)
        assert last.status_code == 200 and last.json()["next"] is None, (url, last.status_code)


def _example(described: dict[str, Any], components: dict[str, Any]) -> Any:
    """A value of the declared type (the first enum value, a date for a date, ...)."""
    import uuid

    if "$ref" in described:
        described = components[described["$ref"].rsplit("/", 1)[-1]]
    if "enum" in described:
        return described["enum"][0]
    if "anyOf" in described:
        return _example(next(d for d in described["anyOf"] if d.get("type") != "null"), components)
    kind, fmt = str(described.get("type")), str(described.get("format"))
    if kind == "object":
        return {name: _example(d, components) for name, d in described.get("properties", {}).items()
                if name in described.get("required", [])}
    by_kind: dict[str, Any] = {"boolean": True, "integer": 1, "number": 1, "array": []}
    by_format = {"date": "2000-01-01", "date-time": "2000-01-01T00:00:00+08:00", "uuid": str(uuid.uuid4())}
    return by_kind[kind] if kind in by_kind else by_format.get(fmt, "x")


def test_json_booleans_and_integers_are_strict(client: Client, make_user: Any, token_for: Any) -> None:
    """``{"personalised": 0}`` once set a feed choice and ``{"granted": 1}`` a consent: a boolean or an integer of a
    JSON body takes exactly that JSON type, whatever the operation (checked through the published schema)."""
    import re
    import uuid

    from lingjing.api import api

    schema = api.get_openapi_schema()
    components = schema["components"]["schemas"]
    auth = {"Authorization": f"Bearer {token_for(make_user())}"}
    checked = set()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is None:
                continue
            described = body["schema"]
            if "$ref" in described:
                described = components[described["$ref"].rsplit("/", 1)[-1]]
            url = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
            for name, field in described.get("properties", {}).items():
                kind = field.get("type")
                if kind not in ("boolean", "integer"):
                    continue
                valid = {n: _example(d, components) for n, d in described["properties"].items()
                         if n in described.get("required", []) or n == name}
                for lax in (["1", 1.5] if kind == "integer" else [1, 0, "true", "no"]):
                    response = client.generic(method.upper(), url, json.dumps({**valid, name: lax}),
                                              content_type="application/json", headers=auth)
                    assert response.status_code == 422, (method, path, name, lax, response.status_code)
                    assert error_of(response)["message"].endswith(f"：{name}"), (path, name, response.content)
                control = client.generic(method.upper(), url, json.dumps(valid), content_type="application/json",
                                         headers=auth)
                # The same body with a real boolean or integer passes validation (the view may still refuse it).
                assert control.status_code != 422 or not error_of(control)["message"].startswith("请求参数无效"), (
                    method, path, name, control.content)
                checked.add(name)
    assert {"granted", "personalised", "refuse", "uphold", "approve", "internal", "domestic", "consent",
            "hours"} <= checked, checked


@pytest.mark.parametrize("body", [
    {"title": "夜雨", "tags": ["a\u0000b"]},  # once a 500 on PostgreSQL (jsonb cannot hold NUL)
    {"title": "夜\u0000雨"},
    {"title": "夜雨\ud800"},
    {"title": "夜雨", "\u0000": 1},
])
def test_a_json_body_holding_text_no_database_can_store_is_refused(client: Client, make_user: Any, token_for: Any,
                                                                   body: dict[str, Any]) -> None:
    from lingjing.works.models import Work

    auth = {"Authorization": f"Bearer {token_for(make_user())}"}
    response = client.post("/api/v1/works", json.dumps(body), content_type="application/json", headers=auth)
    assert response.status_code == 400 and error_of(response)["code"] == "bad_request"
    assert not Work.objects.exists()


def test_query_text_with_nul_is_never_a_server_error(client: Client, make_user: Any, token_for: Any) -> None:
    import re
    import uuid

    from lingjing.api import api

    auth = {"Authorization": f"Bearer {token_for(make_user())}"}
    checked = 0
    for path, operations in api.get_openapi_schema()["paths"].items():
        operation = operations.get("get", {})
        names = [p["name"] for p in operation.get("parameters", [])
                 if p["in"] == "query" and p.get("schema", {}).get("type") == "string"]
        if not names:
            continue
        url = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
        response = client.get(url, dict.fromkeys(names, "夜\u0000雨"), headers=auth)
        assert response.status_code < 500, (path, response.status_code)
        checked += 1
    assert checked >= 3, checked
