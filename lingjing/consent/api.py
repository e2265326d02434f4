"""Consent API, mounted at ``/api/v1/privacy`` (API-CONTRACT.md)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import StrictBool

from lingjing.api import AUTH, ApiError
from lingjing.consent.access import access_receipt
from lingjing.consent.actions import do_set_consent
from lingjing.consent.models import ConsentState, Method, Purpose
from lingjing.consent.receipts import receipt_document

PREFIX = "/privacy"
router = Router(tags=["consent"], auth=AUTH)


class ConsentItem(Schema):
    purpose: str
    granted: bool
    updated_at: dt.datetime | None
    title: str
    kind: str


class ConsentList(Schema):
    items: list[ConsentItem]


class ConsentIn(Schema):
    granted: StrictBool


class ConsentOut(Schema):
    purpose: str
    granted: bool
    updated_at: dt.datetime
    receipt_id: uuid.UUID


class ReceiptSummary(Schema):
    id: uuid.UUID
    at: dt.datetime
    method: str
    policy_version: int | None
    purposes: list[dict[str, Any]]


class ReceiptList(Schema):
    items: list[ReceiptSummary]


def _lang(request: HttpRequest) -> str:
    return "en" if getattr(request, "LANGUAGE_CODE", "zh-hans").startswith("en") else "zh"


@router.get("/consents", response=ConsentList, summary="我的同意")
def list_consents(request: HttpRequest) -> dict[str, Any]:
    user: Any = request.user
    states = {s.purpose_id: s for s in ConsentState.objects.filter(user_id=user.pk)}
    lang = _lang(request)
    items = []
    for purpose in Purpose.objects.filter(active=True).prefetch_related("notices"):
        state = states.get(purpose.pk)
        notices = sorted(purpose.notices.all(), key=lambda n: -n.version)
        items.append({
            "purpose": purpose.key,
            "granted": bool(state and state.granted),
            "updated_at": state.updated_at if state else None,
            "title": notices[0].title(lang) if notices else purpose.key,
            "kind": purpose.kind,
        })
    return {"items": items}


@router.get("/consents/receipts", response=ReceiptList, summary="同意回执")
def list_receipts(request: HttpRequest) -> dict[str, Any]:
    from lingjing.consent.models import ConsentReceipt

    user: Any = request.user
    rows = ConsentReceipt.objects.filter(user_id=user.pk).order_by("-at")[:200]
    return {"items": [
        {"id": r.pk, "at": r.at, "method": r.method, "policy_version": r.policy_version, "purposes": r.purposes}
        for r in rows
    ]}


@router.get("/consents/receipts/{receipt_id}", summary="下载同意回执（JSON）")
def get_receipt(request: HttpRequest, receipt_id: uuid.UUID) -> dict[str, Any]:
    try:
        receipt = access_receipt(request.user, receipt_id)
    except Exception as exc:
        raise ApiError(404, "not_found", "回执不存在") from exc
    return receipt_document(receipt)


# Registered after the fixed ``/consents/receipts`` paths: routes resolve in registration order, and
# ``{purpose}`` (any text) would otherwise take ``receipts`` and answer its GET with 405.
@router.put("/consents/{purpose}", response=ConsentOut, summary="同意或撤回")
def put_consent(request: HttpRequest, purpose: str, payload: ConsentIn) -> dict[str, Any]:
    if not Purpose.objects.filter(key=purpose, active=True).exists():
        raise ApiError(404, "not_found", "没有这个同意目的")
    receipt = do_set_consent(request.user, purpose, payload.granted, method=Method.API, request=request,
                             acting_user=request.user)
    return {"purpose": purpose, "granted": payload.granted, "updated_at": receipt.at, "receipt_id": receipt.pk}
