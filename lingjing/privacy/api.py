"""Rights-request API, mounted at ``/api/v1/privacy`` (API-CONTRACT.md, privacy rows).

The consent app mounts its own router at the same prefix (``/privacy/consents``); the paths do not overlap.

* ``GET /privacy/my-data`` — every personal datum held about the caller, grouped by registry category (each with
  purposes, legal basis and retention), from the registry-driven export engine. Audited as a disclosure.
* ``POST /privacy/requests`` ``{"type", "verification_code"?, ...}`` → 201 ``{"id", "type", "status", "due_at"}``;
  ``copy``, ``transfer`` and ``cancel_account`` need a fresh ``verify`` code (or a step-up still running).
* ``GET /privacy/requests`` / ``GET /privacy/requests/{id}`` (``download_url`` once a copy is ready) /
  ``POST /privacy/requests/{id}/cancel`` (withdraw; undo a cancellation in its window; lift a restriction) /
  ``GET /privacy/requests/{id}/download?token=`` (the zip) / ``GET /privacy/requests/{id}/explanation`` /
  ``POST /privacy/requests/{id}/retry`` (a transfer whose endpoint failed) / ``GET /privacy/requests/metrics``
  (public figures, no sign-in).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest
from ninja import Router, Schema
from ninja.responses import Status
from pydantic import StrictBool

from lingjing.api import AUTH, ApiError
from lingjing.privacy.access import Viewer, access_rights_request, visible_requests
from lingjing.privacy.actions import (
    DuplicateRequest,
    Requester,
    correction_details,
    do_record_access,
    do_record_download,
    do_record_my_data_view,
    do_retry_transfer,
    do_withdraw_request,
    submit_request,
)
from lingjing.privacy.requests import downloads, explain
from lingjing.privacy.requests.models import (
    NEEDS_FRESH_VERIFICATION,
    Channel,
    RequestStatus,
    RequestType,
    RightsRequest,
)

PREFIX = "/privacy"
router = Router(tags=["privacy"], auth=AUTH)


class CorrectionIn(Schema):
    model: str
    field: str
    object_id: str
    value: str


class RequestIn(Schema):
    type: str
    verification_code: str | None = None
    details: str = ""
    deletion_ground: str = ""
    categories: list[str] = []
    purposes: list[str] = []
    works: str | None = None
    decision_id: str | None = None
    recipient: str | None = None
    endpoint: str | None = None
    domestic: StrictBool = False
    consent: StrictBool = False
    corrections: list[CorrectionIn] = []


class RequestOut(Schema):
    id: uuid.UUID
    reference: str
    type: str
    type_label: str
    status: str
    status_label: str
    received_at: dt.datetime
    due_at: dt.datetime
    closed_at: dt.datetime | None
    download_url: str | None = None
    refusal_ground: str | None = None
    refusal_ground_label: str | None = None
    refusal_reason: str | None = None
    fee_fen: int = 0
    fee_paid: bool = False
    grace_until: dt.datetime | None = None
    handshake_token: str | None = None
    transfer_status: str | None = None
    result: dict[str, Any] = {}


class RequestList(Schema):
    items: list[RequestOut]


def _lang(request: HttpRequest) -> str:
    return "en" if getattr(request, "LANGUAGE_CODE", "zh-hans").startswith("en") else "zh"


def request_out(req: RightsRequest, lang: str = "zh") -> dict[str, Any]:
    transfer = getattr(req, "transfer", None) if req.type == RequestType.TRANSFER else None
    return {
        "id": req.pk,
        "reference": req.reference,
        "type": req.type,
        "type_label": req.type_label(lang),
        "status": req.status,
        "status_label": req.status_label(lang),
        "received_at": req.received_at,
        "due_at": req.due_at,
        "closed_at": req.closed_at,
        "download_url": downloads.api_url(req),
        "refusal_ground": req.refusal_ground or None,
        "refusal_ground_label": req.refusal_ground_label(lang) or None,
        "refusal_reason": (req.refusal_reason or None) if req.status == RequestStatus.REFUSED else None,
        "fee_fen": req.fee_fen,
        "fee_paid": req.fee_paid_at is not None,
        "grace_until": req.grace_until,
        "handshake_token": (transfer.token or None) if transfer is not None and transfer.status == "pending" else None,
        "transfer_status": transfer.status if transfer is not None else None,
        "result": {k: v for k, v in req.result.items() if k != "per_category"},
    }


def _viewer(request: HttpRequest) -> Viewer:
    return Viewer(user=request.user, phone_index=None, guardian_index=None)


def _messages(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "；".join(m for errors in exc.message_dict.values() for m in errors)
    return "；".join(exc.messages)


def _get(request: HttpRequest, request_id: uuid.UUID, *, write: bool = False) -> RightsRequest:
    try:
        return access_rights_request(_viewer(request), request_id, write=write)
    except Http404:
        raise ApiError(404, "not_found", "请求不存在") from None


@router.get("/my-data", summary="我们持有的关于您的全部个人信息（按类别）")
def my_data(request: HttpRequest) -> dict[str, Any]:
    from lingjing.privacy.engines.export import export_person

    data = export_person(request.user, lang=_lang(request))
    do_record_my_data_view(request.user, records=sum(len(c["items"]) for c in data.values()), channel="api",
                           acting_user=request.user)
    return data


@router.get("/requests/metrics", auth=None, summary="权利请求处理情况（公开统计）")
def request_metrics(request: HttpRequest) -> dict[str, Any]:
    from lingjing.privacy.requests.metrics import public_metrics

    figures = public_metrics()
    return {key: {"rows": value["rows"], "totals": value["totals"]} for key, value in figures.items()}


@router.get("/requests", response=RequestList, summary="我的权利请求")
def list_requests(request: HttpRequest) -> dict[str, Any]:
    rows = visible_requests(_viewer(request)).select_related("transfer")[:200]
    return {"items": [request_out(r, _lang(request)) for r in rows]}


def _params(payload: RequestIn) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if payload.categories:
        params["categories"] = payload.categories
    if payload.purposes:
        params["purposes"] = payload.purposes
    if payload.works:
        params["works"] = payload.works
    if payload.decision_id:
        params["decision_id"] = payload.decision_id
    if payload.type == RequestType.TRANSFER:
        params.update({"recipient": payload.recipient or "", "endpoint": payload.endpoint or "",
                       "domestic": payload.domestic, "consent": payload.consent})
        if payload.endpoint:
            params["mode"] = "endpoint"
    if payload.corrections:
        params["items"] = [c.model_dump() for c in payload.corrections]
    return params


@router.post("/requests", response={201: RequestOut}, summary="提交个人信息权利请求")
def create_request(request: HttpRequest, payload: RequestIn) -> Status[dict[str, Any]]:
    from lingjing.accounts.stepup import VerificationRequired, require_recent_verification

    user: Any = request.user
    if payload.type not in RequestType.values:
        raise ApiError(422, "invalid_request", f"未知的请求类型：{payload.type}")
    verification = "session"
    if payload.type in NEEDS_FRESH_VERIFICATION:
        try:
            require_recent_verification(request, code=payload.verification_code)
        except VerificationRequired as exc:
            raise exc.as_api_error() from None
        verification = "step_up"
    token = getattr(request, "api_token", None)
    requester = Requester(
        channel=Channel.API, verification=verification, acting_user=user,
        keep_token_id=token.pk if token is not None else None,
        keep_session_key=str(request.session.session_key or "") if token is None and hasattr(request, "session")
        else "",
    )
    params = _params(payload)
    details = payload.details
    if payload.type == RequestType.CORRECTION and payload.corrections:
        details = correction_details([c.model_dump() for c in payload.corrections], payload.details)
    try:
        req = submit_request(user, payload.type, requester=requester, params=params, details=details,
                             deletion_ground=payload.deletion_ground, transfer_endpoint=payload.endpoint or "")
    except DuplicateRequest as exc:
        raise ApiError(409, exc.code, exc.message,
                       headers={"Location": f"/api/v1/privacy/requests/{exc.existing.pk}"}) from None
    except ValidationError as exc:
        raise ApiError(422, "invalid_request", _messages(exc)) from None
    except PermissionDenied as exc:
        raise ApiError(403, "verification_required", str(exc)) from None
    req = _get(request, req.pk)
    if req.type == RequestType.ACCESS:
        # The API answer to an access request is GET /privacy/my-data; asking for it is the disclosure.
        from lingjing.privacy.engines.export import export_person

        data = export_person(user, lang=_lang(request))
        req = do_record_access(req, records=sum(len(c["items"]) for c in data.values()), categories=list(data),
                               acting_user=user)
    return Status(201, request_out(req, _lang(request)))


@router.get("/requests/{request_id}", response=RequestOut, summary="一个权利请求的状态")
def get_request(request: HttpRequest, request_id: uuid.UUID) -> dict[str, Any]:
    return request_out(_get(request, request_id), _lang(request))


@router.post("/requests/{request_id}/cancel", response=RequestOut, summary="撤销请求（注销冷静期内撤销注销；解除限制）")
def cancel_request(request: HttpRequest, request_id: uuid.UUID) -> dict[str, Any]:
    req = _get(request, request_id, write=True)
    try:
        done = do_withdraw_request(req, acting_user=request.user)
    except ValidationError as exc:
        raise ApiError(409, "invalid_state", _messages(exc)) from None
    return request_out(_get(request, done.pk), _lang(request))


@router.post("/requests/{request_id}/retry", response=RequestOut, summary="重试转移")
def retry_transfer(request: HttpRequest, request_id: uuid.UUID) -> dict[str, Any]:
    req = _get(request, request_id, write=True)
    try:
        do_retry_transfer(req, acting_user=request.user)
    except ValidationError as exc:
        raise ApiError(409, "invalid_state", _messages(exc)) from None
    return request_out(_get(request, req.pk), _lang(request))


@router.get("/requests/{request_id}/download", summary="下载个人信息副本（zip）")
def download(request: HttpRequest, request_id: uuid.UUID, token: str = "") -> FileResponse:
    from lingjing.privacy.requests.package import open_package

    req = _get(request, request_id)
    if not downloads.token_ok(req, token):
        raise ApiError(404, "not_found", "下载链接无效或已过期")
    do_record_download(req, acting_user=request.user)
    return FileResponse(open_package(req.package_name), as_attachment=True, filename=downloads.filename(req),
                        content_type="application/zip")


@router.get("/requests/{request_id}/explanation", summary="自动化决策与处理规则的解释")
def explanation(request: HttpRequest, request_id: uuid.UUID) -> dict[str, Any]:
    req = _get(request, request_id)
    if req.type != RequestType.EXPLANATION:
        raise ApiError(404, "not_found", "该请求不是解释说明请求")
    lang = _lang(request)
    return {
        "decisions": explain.decision_explanations(req.user, decision_id=req.params.get("decision_id"), lang=lang),
        "processing_rules": explain.processing_rules(req.user, lang=lang),
    }
