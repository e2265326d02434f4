"""The consent API (API-CONTRACT.md rows GET /privacy/consents, PUT /privacy/consents/{purpose})."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from django.test import Client

from lingjing.consent.models import ConsentReceipt
from lingjing.consent.service import has_consent

pytestmark = pytest.mark.django_db


def _bearer(user: Any) -> dict[str, str]:
    from lingjing.accounts.models import ApiToken, hash_token

    raw = secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, token_hash=hash_token(raw))
    return {"Authorization": f"Bearer {raw}"}


def test_consents_need_a_signed_in_caller() -> None:
    response = Client().get("/api/v1/privacy/consents")
    assert response.status_code == 401
    assert set(response.json()["error"]) == {"code", "message"}


def test_list_then_grant_and_withdraw_with_receipts(alice: Any) -> None:
    client, auth = Client(), _bearer(alice)
    items = client.get("/api/v1/privacy/consents", headers=auth).json()["items"]
    keys = {i["purpose"] for i in items}
    assert {"search_history", "personalised_recommendation", "analytics", "marketing", "email_tracking",
            "public_disclosure"} <= keys
    assert all(i["granted"] is False and i["updated_at"] is None for i in items)

    response = client.put("/api/v1/privacy/consents/search_history", {"granted": True},
                          content_type="application/json", headers=auth)
    assert response.status_code == 200
    body = response.json()
    assert body["purpose"] == "search_history" and body["granted"] is True
    assert ConsentReceipt.objects.filter(pk=body["receipt_id"], user=alice, method="api").exists()
    assert has_consent(alice, "search_history")

    response = client.put("/api/v1/privacy/consents/search_history", {"granted": False},
                          content_type="application/json", headers=auth)
    assert response.status_code == 200 and not has_consent(alice, "search_history")
    item = next(i for i in client.get("/api/v1/privacy/consents", headers=auth).json()["items"]
                if i["purpose"] == "search_history")
    assert item["granted"] is False and item["updated_at"]

    receipt = client.get(f"/api/v1/privacy/consents/receipts/{response.json()['receipt_id']}", headers=auth).json()
    assert receipt["purposes"][0]["purpose"] == "search_history" and receipt["purposes"][0]["granted"] is False
    assert receipt["controller"]["name"] and receipt["policy_version"] == 1


def test_unknown_purpose_and_bad_body(alice: Any) -> None:
    client, auth = Client(), _bearer(alice)
    response = client.put("/api/v1/privacy/consents/nope", {"granted": True}, content_type="application/json",
                          headers=auth)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    response = client.put("/api/v1/privacy/consents/analytics", {"granted": "maybe"},
                          content_type="application/json", headers=auth)
    assert response.status_code == 422


def test_receipts_are_private(alice: Any, bob: Any) -> None:
    client = Client()
    receipt_id = client.put("/api/v1/privacy/consents/marketing", {"granted": True},
                            content_type="application/json", headers=_bearer(alice)).json()["receipt_id"]
    response = client.get(f"/api/v1/privacy/consents/receipts/{receipt_id}", headers=_bearer(bob))
    assert response.status_code == 404
    web = Client()
    web.force_login(bob)
    assert web.get(f"/privacy/consents/receipts/{receipt_id}.json").status_code == 404
    web.force_login(alice)
    download = web.get(f"/privacy/consents/receipts/{receipt_id}.json")
    assert download.status_code == 200 and "attachment" in download["Content-Disposition"]
    assert download.json()["receipt_id"] == receipt_id


def test_openapi_lists_the_contract_rows() -> None:
    paths = Client().get("/api/v1/openapi.json").json()["paths"]
    assert "get" in paths["/api/v1/privacy/consents"]
    assert "put" in paths["/api/v1/privacy/consents/{purpose}"]


def test_receipt_list_answers_beside_the_purpose_route(alice: Any, bob: Any) -> None:
    # GET /consents/receipts once answered 405: PUT /consents/{purpose} was registered first and took the path.
    client = Client()
    mine = client.put("/api/v1/privacy/consents/marketing", {"granted": True}, content_type="application/json",
                      headers=_bearer(alice)).json()["receipt_id"]
    theirs = client.put("/api/v1/privacy/consents/analytics", {"granted": True}, content_type="application/json",
                        headers=_bearer(bob)).json()["receipt_id"]
    response = client.get("/api/v1/privacy/consents/receipts", headers=_bearer(alice))
    assert response.status_code == 200
    ids = {item["id"] for item in response.json()["items"]}
    assert mine in ids and theirs not in ids
    assert client.put("/api/v1/privacy/consents/receipts", {"granted": True}, content_type="application/json",
                      headers=_bearer(alice)).status_code == 405
