"""The presented API token is looked up once per request (accounts.bearer): by the cancellation-window gate, the
staff token expiry and the API's authentication together."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from lingjing.accounts.actions import do_create_api_token
from lingjing.accounts.tests.conftest import bearer

pytestmark = pytest.mark.django_db


def _token_selects(client: Client, path: str, token: str) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path, **bearer(token))
    selects = [q["sql"] for q in ctx.captured_queries
               if q["sql"].lstrip().upper().startswith("SELECT") and "accounts_apitoken" in q["sql"]]
    return response.status_code, len(selects)


@pytest.mark.parametrize("path", ["/api/v1/me", "/api/v1/privacy/consents"])
def test_an_api_call_looks_up_its_token_once(alice: Any, api: Client, path: str) -> None:
    token = do_create_api_token(alice, method="code")
    assert _token_selects(api, path, token) == (200, 1)


def test_an_unknown_or_revoked_token_is_still_refused_after_one_lookup(alice: Any, api: Client) -> None:
    from lingjing.accounts.actions import do_revoke_session
    from lingjing.accounts.models import ApiToken, hash_token

    assert _token_selects(api, "/api/v1/me", "not-a-token") == (401, 1)
    token = do_create_api_token(alice, method="code")
    do_revoke_session(alice, ApiToken.objects.get(token_hash=hash_token(token)).pk, acting_user=alice)
    assert _token_selects(api, "/api/v1/me", token) == (401, 1)


def test_the_memo_follows_the_token_presented(alice: Any, rf: Any) -> None:
    from lingjing.accounts.bearer import forget_presented_token, presented_token

    token = do_create_api_token(alice, method="code")
    request = rf.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer  {token} ")
    with CaptureQueriesContext(connection) as ctx:
        row = presented_token(request)
        assert presented_token(request) is row and presented_token(request, f" {token}") is row
    assert len(ctx.captured_queries) == 1 and row is not None and row.user.pk == alice.pk
    assert presented_token(request, "another") is None  # a different token: looked up on its own
    forget_presented_token(request)
    with CaptureQueriesContext(connection) as ctx:
        assert presented_token(request) == row
    assert len(ctx.captured_queries) == 1
    assert presented_token(rf.get("/api/v1/me")) is None
