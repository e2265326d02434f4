"""Sharing API, mounted at ``/api/v1/sharing``: the person's sharing log and the public recipient registry.

Giving or withdrawing the separate consent for a recipient is ``PUT /api/v1/privacy/consents/{consent_key}``
(the consent app); the recipient's ``consent_key`` is in its entry here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import Http404, HttpRequest
from ninja import Query, Router, Schema

from lingjing.api import AUTH, ApiError, PageIn
from lingjing.sharing.access import access_recipient, access_sharing_record, my_sharing_records
from lingjing.sharing.policy import recipient_row, recipients_for_policy

PREFIX = "/sharing"
router = Router(tags=["sharing"])
PAGE_SIZE = 50


class RecipientRef(Schema):
    slug: str
    name: str
    country: str
    contact: str


class CategoryOut(Schema):
    id: str
    label: str


class SharingRecordOut(Schema):
    id: str
    at: dt.datetime
    recipient: RecipientRef
    purpose: str
    purpose_label: str
    legal_basis: str
    categories: list[CategoryOut]
    deidentified: dict[str, str]
    cross_border: bool
    status: str


class RecordPage(Schema):
    items: list[SharingRecordOut]
    next: int | None


class RecipientOut(Schema):
    slug: str
    name: str
    legal_name: str
    contact: str
    country: str
    kind: str
    role: str
    affiliate: bool
    purposes: list[str]
    purpose_labels: list[str]
    categories: list[str]
    category_labels: list[str]
    legal_basis: str
    legal_basis_label: str
    needs_consent: bool
    consent_key: str
    processing: str
    cross_border: bool
    rights: str
    deidentify: dict[str, str]
    mechanism: str
    mechanism_label: str


class RecipientList(Schema):
    items: list[RecipientOut]


def _lang(request: HttpRequest) -> str:
    return "en" if getattr(request, "LANGUAGE_CODE", "zh-hans").startswith("en") else "zh"


@router.get("/records", response=RecordPage, auth=AUTH, summary="我的对外提供记录")
def list_records(request: HttpRequest, q: Query[PageIn]) -> dict[str, Any]:
    page = max(1, q.page)
    start = (page - 1) * PAGE_SIZE
    rows = list(my_sharing_records(request.user)[start : start + PAGE_SIZE + 1])
    lang = _lang(request)
    return {
        "items": [r.to_dict(lang) for r in rows[:PAGE_SIZE]],
        "next": page + 1 if len(rows) > PAGE_SIZE else None,
    }


@router.get("/records/{record_id}", response=SharingRecordOut, auth=AUTH, summary="一条对外提供记录")
def get_record(request: HttpRequest, record_id: str) -> dict[str, Any]:
    try:
        row = access_sharing_record(request.user, record_id)
    except Http404:
        raise ApiError(404, "not_found", "记录不存在") from None
    return row.to_dict(_lang(request))


@router.get("/recipients", response=RecipientList, auth=None, summary="信息接收方名录")
def list_recipients(request: HttpRequest) -> dict[str, Any]:
    return {"items": recipients_for_policy(_lang(request))}


@router.get("/recipients/{slug}", response=RecipientOut, auth=None, summary="信息接收方详情")
def get_recipient(request: HttpRequest, slug: str) -> dict[str, Any]:
    try:
        row = access_recipient(slug)
    except Http404:
        raise ApiError(404, "not_found", "接收方不存在") from None
    return recipient_row(row, _lang(request))
