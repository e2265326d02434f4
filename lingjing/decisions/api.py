"""Decisions API, mounted at ``/api/v1/decisions``: the person's automated decisions with explanations, review
requests, the refusal switch; and the staff review queue."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest
from ninja import Query, Router, Schema
from ninja.responses import Status
from pydantic import StrictBool

from lingjing.api import AUTH, ApiError, PageIn
from lingjing.decisions.access import access_decision, access_review, my_decisions, open_reviews
from lingjing.decisions.actions import do_request_review, do_resolve_review, do_set_automation_choice
from lingjing.decisions.models import AutomationChoice, DecisionKind

PREFIX = "/decisions"
router = Router(tags=["decisions"], auth=AUTH)
PAGE_SIZE = 50


class DecisionOut(Schema):
    id: str
    kind: str
    kind_label: str
    outcome: str
    inputs: dict[str, Any]
    rule_version: str
    explanation: str
    made_at: dt.datetime
    solely_automated: bool
    significant: bool
    object_ref: str
    status: str
    status_label: str
    effective: bool


class DecisionPage(Schema):
    items: list[DecisionOut]
    next: int | None


class ReviewIn(Schema):
    reason: str


class ReviewOut(Schema):
    id: str
    decision_id: str
    origin: str
    status: str
    created_at: dt.datetime
    resolution: str


class ChoiceIn(Schema):
    refuse: StrictBool


class ChoiceOut(Schema):
    kind: str
    refuse: bool


class ChoiceList(Schema):
    items: list[ChoiceOut]


class ReviewResolveIn(Schema):
    uphold: StrictBool
    reason: str


def _lang(request: HttpRequest) -> str:
    return "en" if getattr(request, "LANGUAGE_CODE", "zh-hans").startswith("en") else "zh"


def _invalid(exc: ValidationError) -> ApiError:
    if hasattr(exc, "error_dict"):
        text = "；".join(m for errors in exc.message_dict.values() for m in errors)
    else:
        text = "；".join(exc.messages)
    return ApiError(422, "invalid_request", text)


def _review_out(review: Any) -> dict[str, Any]:
    return {"id": str(review.pk), "decision_id": str(review.decision_id), "origin": review.origin,
            "status": review.status, "created_at": review.created_at, "resolution": review.resolution}


@router.get("", response=DecisionPage, summary="关于我的自动化决策")
def list_decisions(request: HttpRequest, q: Query[PageIn]) -> dict[str, Any]:
    page = max(1, q.page)
    start = (page - 1) * PAGE_SIZE
    rows = list(my_decisions(request.user)[start : start + PAGE_SIZE + 1])
    lang = _lang(request)
    return {"items": [d.to_dict(lang) for d in rows[:PAGE_SIZE]], "next": page + 1 if len(rows) > PAGE_SIZE else None}


@router.get("/choices", response=ChoiceList, summary="拒绝仅由自动化作出的决定：当前设置")
def list_choices(request: HttpRequest) -> dict[str, Any]:
    user: Any = request.user
    refused = set(AutomationChoice.objects.filter(user_id=user.pk, refuse=True).values_list("kind", flat=True))
    return {"items": [{"kind": k, "refuse": k in refused} for k in DecisionKind.values]}


@router.put("/choices/{kind}", response=ChoiceOut, summary="拒绝或恢复仅由自动化作出的决定")
def set_choice(request: HttpRequest, kind: str, payload: ChoiceIn) -> dict[str, Any]:
    if kind not in DecisionKind.values:
        raise ApiError(404, "not_found", "未知的决策类型")
    choice = do_set_automation_choice(request.user, kind, refuse=payload.refuse, acting_user=request.user)
    return {"kind": choice.kind, "refuse": choice.refuse}


@router.get("/reviews", response=list[ReviewOut], summary="（工作人员）待处理的复核")
def staff_reviews(request: HttpRequest) -> list[dict[str, Any]]:
    try:
        return [_review_out(r) for r in open_reviews(request.user)[:200]]
    except PermissionDenied:
        raise ApiError(403, "forbidden", "没有处理决策复核的权限") from None


@router.post("/reviews/{review_id}/resolve", response=ReviewOut, summary="（工作人员）维持或撤销决定")
def staff_resolve(request: HttpRequest, review_id: str, payload: ReviewResolveIn) -> dict[str, Any]:
    try:
        review = access_review(request.user, review_id, write=True)
        done = do_resolve_review(review, uphold=payload.uphold, reason=payload.reason, acting_user=request.user)
    except PermissionDenied as exc:
        raise ApiError(403, "forbidden", str(exc) or "没有权限") from None
    except Http404:
        raise ApiError(404, "not_found", "复核不存在") from None
    except ValidationError as exc:
        raise _invalid(exc) from None
    return _review_out(done)


@router.get("/{decision_id}", response=DecisionOut, summary="一项决定及其说明")
def get_decision(request: HttpRequest, decision_id: str) -> dict[str, Any]:
    try:
        return access_decision(request.user, decision_id).to_dict(_lang(request))
    except Http404:
        raise ApiError(404, "not_found", "决定不存在") from None


@router.post("/{decision_id}/review", response={201: ReviewOut}, summary="申请人工复核")
def request_review(request: HttpRequest, decision_id: str, payload: ReviewIn) -> Status[dict[str, Any]]:
    try:
        decision = access_decision(request.user, decision_id)
        review = do_request_review(decision, reason=payload.reason, acting_user=request.user)
    except Http404:
        raise ApiError(404, "not_found", "决定不存在") from None
    except ValidationError as exc:
        raise _invalid(exc) from None
    return Status(201, _review_out(review))
