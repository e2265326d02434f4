"""Children API for staff tools, mounted at ``/api/v1/children``: access requests, their approval by a second
member of staff, and opening a child's record under a live approval (logged; needs a fresh verification)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest
from ninja import Router, Schema
from ninja.responses import Status
from pydantic import StrictBool, StrictInt

from lingjing.api import AUTH, ApiError
from lingjing.children.access import access_child_record, access_request, active_grant
from lingjing.children.actions import do_decide_child_access, do_request_child_access
from lingjing.children.models import ChildAccessRequest

PREFIX = "/children"
router = Router(tags=["children"], auth=AUTH)


class AccessIn(Schema):
    child_id: str
    purpose: str
    hours: StrictInt = 4


class DecideIn(Schema):
    approve: StrictBool
    note: str = ""


class AccessOut(Schema):
    id: str
    child_id: str | None
    status: str
    hours: int
    expires_at: dt.datetime | None


class ChildRecordOut(Schema):
    child_id: str
    grant_id: str
    expires_at: dt.datetime
    data: dict[str, Any]


def _out(req: ChildAccessRequest) -> dict[str, Any]:
    return {"id": str(req.pk), "child_id": str(req.child_id) if req.child_id else None, "status": req.status,
            "hours": req.hours, "expires_at": req.expires_at}


def _invalid(exc: ValidationError) -> ApiError:
    text = "；".join(m for errors in exc.message_dict.values() for m in errors) if hasattr(exc, "error_dict") \
        else "；".join(exc.messages)
    return ApiError(422, "invalid_request", text)


def _staff(request: HttpRequest) -> Any:
    user: Any = request.user
    if not user.is_staff:
        raise ApiError(404, "not_found", "内容不存在")
    return user


@router.post("/access-requests", response={201: AccessOut}, summary="（工作人员）申请查看儿童个人信息")
def create_request(request: HttpRequest, payload: AccessIn) -> Status[dict[str, Any]]:
    user = _staff(request)
    try:
        child = get_user_model().objects.filter(pk=payload.child_id).first()
    except ValidationError:
        child = None
    if child is None:
        raise ApiError(404, "not_found", "账号不存在")
    try:
        req = do_request_child_access(child, purpose=payload.purpose, hours=payload.hours, acting_user=user)
    except PermissionDenied as exc:
        raise ApiError(403, "forbidden", str(exc)) from None
    except ValidationError as exc:
        raise _invalid(exc) from None
    return Status(201, _out(req))


@router.post("/access-requests/{request_id}/decision", response=AccessOut, summary="（工作人员）审批查看申请")
def decide_request(request: HttpRequest, request_id: str, payload: DecideIn) -> dict[str, Any]:
    user = _staff(request)
    try:
        req = access_request(user, request_id)
        return _out(do_decide_child_access(req, approve=payload.approve, note=payload.note, acting_user=user))
    except Http404:
        raise ApiError(404, "not_found", "申请不存在") from None
    except PermissionDenied as exc:
        raise ApiError(403, "forbidden", str(exc)) from None
    except ValidationError as exc:
        raise _invalid(exc) from None


@router.get("/{child_id}/record", response=ChildRecordOut, summary="（工作人员）在有效审批下查看儿童个人信息")
def child_record(request: HttpRequest, child_id: str) -> dict[str, Any]:
    from lingjing.accounts.stepup import is_recently_verified
    from lingjing.privacy.engines.export import export_person

    user = _staff(request)
    try:
        child = get_user_model().objects.filter(pk=child_id).first()
    except ValidationError:
        child = None
    if child is None:
        raise ApiError(404, "not_found", "内容不存在")
    if active_grant(user, child.pk) is None:
        raise ApiError(403, "forbidden", "查看儿童个人信息须先提交用途说明，并经另一名工作人员审批（限时有效）")
    if not is_recently_verified(request):
        raise ApiError(403, "verification_required", "此操作需要先完成身份验证：请获取短信验证码并输入")
    try:
        child, grant = access_child_record(user, child.pk, action="api.view")
    except Http404:
        raise ApiError(404, "not_found", "内容不存在") from None
    except PermissionDenied as exc:
        raise ApiError(403, "forbidden", str(exc)) from None
    assert grant.expires_at is not None
    return {"child_id": str(child.pk), "grant_id": str(grant.pk), "expires_at": grant.expires_at,
            "data": export_person(child)}
