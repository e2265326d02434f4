"""Customer-service API, mounted at ``/api/v1/support``: a signed-in person's tickets and conversation; and the agents'
queue and work. (Visitors without an account use the ``/support/new`` page, which confirms their contact.)"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest
from ninja import File, Form, Query, Router, Schema
from ninja.files import UploadedFile
from ninja.responses import Status
from pydantic import StrictBool

from lingjing.api import AUTH, ApiError
from lingjing.core import ratelimit
from lingjing.core.ratelimit import Limit
from lingjing.support.access import access_queue_ticket, access_ticket, my_tickets, queue
from lingjing.support.actions import do_assign_ticket, do_open_ticket, do_post_message, do_resolve_ticket
from lingjing.support.convert import convert_ticket_to_rights_request
from lingjing.support.models import Ticket, TicketMessage, TicketStatus
from lingjing.support.uploads import ScreenshotRejected, discard, prepare

PREFIX = "/support"
router = Router(tags=["support"], auth=AUTH)
TICKET_LIMIT = Limit("support:ticket:user:day", 20, 86400)
MESSAGE_LIMIT = Limit("support:message:subject:hour", 30, 3600, sliding=True)


class TicketIn(Schema):
    category: str
    title: str
    body: str


class MessageIn(Schema):
    body: str


class AgentMessageIn(Schema):
    body: str
    internal: StrictBool = False


class TicketResolveIn(Schema):
    resolution: str
    note: str


class ConvertIn(Schema):
    request_type: str = ""


class AttachmentOut(Schema):
    id: str
    url: str
    width: int
    height: int


class MessageOut(Schema):
    id: str
    role: str
    internal: bool
    body: str
    created_at: dt.datetime
    attachments: list[AttachmentOut]


class TicketOut(Schema):
    id: str
    ref: str
    category: str
    status: str
    title: str
    created_at: dt.datetime
    updated_at: dt.datetime
    due_at: dt.datetime | None
    resolution: str
    resolution_note: str
    conversion: str


class TicketDetail(TicketOut):
    messages: list[MessageOut]


class QueueItem(Schema):
    id: str
    ref: str
    category: str
    status: str
    accepted_at: dt.datetime | None
    due_at: dt.datetime | None
    assigned_to: str | None
    overdue: bool


class QueueIn(Schema):
    view: str = "unassigned"


def _guard[T](call: Callable[[], T]) -> T:
    try:
        return call()
    except Http404:
        raise ApiError(404, "not_found", "工单不存在") from None
    except PermissionDenied as exc:
        raise ApiError(403, "forbidden", str(exc) or "没有权限") from None
    except ValidationError as exc:
        text = ("；".join(m for errors in exc.message_dict.values() for m in errors) if hasattr(exc, "error_dict")
                else "；".join(exc.messages))
        raise ApiError(422, "invalid_request", text) from None


def _limit(limit: Limit, key: str) -> None:
    try:
        decision = ratelimit.hit(limit, key)
    except ratelimit.LimiterUnavailable:
        raise ApiError(503, "unavailable", "服务暂时不可用，请稍后再试") from None
    if not decision.allowed:
        raise ApiError(429, "rate_limited", "提交过于频繁，请稍后再试",
                       headers={"Retry-After": str(decision.retry_after)})


def _ticket_out(t: Ticket) -> dict[str, Any]:
    return {"id": str(t.pk), "ref": t.ref, "category": t.category, "status": t.status, "title": t.title or "",
            "created_at": t.created_at, "updated_at": t.updated_at, "due_at": t.due_at,
            "resolution": t.resolution, "resolution_note": t.resolution_note or "", "conversion": t.conversion}


def _detail(t: Ticket, *, as_agent: bool) -> dict[str, Any]:
    rows = TicketMessage.objects.filter(ticket=t).prefetch_related("attachments")
    if not as_agent:
        rows = rows.filter(internal=False)
    msgs = [
        {"id": str(m.pk), "role": m.author_role, "internal": m.internal, "body": m.body or "",
         "created_at": m.created_at,
         "attachments": [{"id": str(a.pk), "url": f"/support/{t.pk}/attachments/{a.pk}", "width": a.width,
                          "height": a.height} for a in m.attachments.all()]}
        for m in rows
    ]
    return {**_ticket_out(t), "messages": msgs}


# --- people -------------------------------------------------------------------------------------------------


@router.get("/tickets", response=list[TicketOut], summary="我的工单")
def list_tickets(request: HttpRequest) -> list[dict[str, Any]]:
    return [_ticket_out(t) for t in my_tickets(request.user)[:200]]


@router.post("/tickets", response={201: TicketDetail}, summary="提交工单")
def create_ticket(request: HttpRequest, payload: TicketIn) -> Status[dict[str, Any]]:
    _limit(TICKET_LIMIT, str(request.user.pk))
    lang = "en" if getattr(request, "LANGUAGE_CODE", "zh-hans").startswith("en") else "zh-hans"
    ticket = _guard(lambda: do_open_ticket(user=request.user, category=payload.category, title=payload.title,
                                           body=payload.body, language=lang, acting_user=request.user))
    return Status(201, _detail(ticket, as_agent=False))


@router.get("/tickets/{ticket_id}", response=TicketDetail, summary="工单与对话")
def get_ticket(request: HttpRequest, ticket_id: str) -> dict[str, Any]:
    access = _guard(lambda: access_ticket(request.user, ticket_id))
    return _detail(access.ticket, as_agent=access.as_agent)


@router.post("/tickets/{ticket_id}/messages", response={201: MessageOut}, summary="回复工单")
def post_message(request: HttpRequest, ticket_id: str, payload: MessageIn) -> Status[dict[str, Any]]:
    access = _guard(lambda: access_ticket(request.user, ticket_id, write=True))
    if access.as_agent:
        raise ApiError(403, "forbidden", "客服请使用 /support/agent/tickets/{id}/messages")
    _limit(MESSAGE_LIMIT, access.ticket.subject_ref)
    message = _guard(lambda: do_post_message(access.ticket, payload.body, as_agent=False, acting_user=request.user))
    return Status(201, {"id": str(message.pk), "role": message.author_role, "internal": False,
                        "body": message.body or "", "created_at": message.created_at, "attachments": []})


@router.post("/tickets/{ticket_id}/screenshots", response={201: MessageOut}, summary="上传截图（multipart）")
def post_screenshots(
    request: HttpRequest, ticket_id: str, files: File[list[UploadedFile]], body: Form[str] = "（截图）"
) -> Status[dict[str, Any]]:
    access = _guard(lambda: access_ticket(request.user, ticket_id, write=True))
    if access.as_agent:
        raise ApiError(403, "forbidden", "客服请在工作台上传截图")
    _limit(MESSAGE_LIMIT, access.ticket.subject_ref)
    try:
        stored = prepare(list(files))
    except ScreenshotRejected as exc:
        raise ApiError(422, "invalid_image", str(exc)) from None
    try:
        message = _guard(lambda: do_post_message(access.ticket, body, as_agent=False, screenshots=stored,
                                                 acting_user=request.user))
    except Exception:
        discard([name for name, _ in stored])
        raise
    detail = _detail(access.ticket, as_agent=False)
    return Status(201, next(m for m in detail["messages"] if m["id"] == str(message.pk)))


# --- agents -------------------------------------------------------------------------------------------------


@router.get("/agent/queue", response=list[QueueItem], summary="（客服）工单队列：不含个人信息")
def agent_queue(request: HttpRequest, q: Query[QueueIn]) -> list[dict[str, Any]]:
    from django.utils import timezone

    rows = _guard(lambda: queue(request.user))
    open_states = [TicketStatus.OPEN, TicketStatus.ANSWERED]
    if q.view == "mine":
        rows = rows.filter(assigned_to_id=request.user.pk, status__in=open_states)
    elif q.view == "unassigned":
        rows = rows.filter(assigned_to__isnull=True, status__in=open_states)
    elif q.view == "overdue":
        rows = rows.filter(status__in=open_states, due_at__lt=timezone.now())
    now = timezone.now()
    return [
        {"id": str(t.pk), "ref": t.ref, "category": t.category, "status": t.status, "accepted_at": t.accepted_at,
         "due_at": t.due_at, "assigned_to": f"u:{t.assigned_to_id}" if t.assigned_to_id else None,
         "overdue": bool(t.due_at and t.is_open and t.due_at < now)}
        for t in rows[:200]
    ]


@router.post("/agent/tickets/{ticket_id}/claim", response=TicketOut, summary="（客服）领取工单")
def agent_claim(request: HttpRequest, ticket_id: str) -> dict[str, Any]:
    ticket = _guard(lambda: access_queue_ticket(request.user, ticket_id))
    claimed = _guard(lambda: do_assign_ticket(ticket, request.user, acting_user=request.user))
    return _ticket_out(claimed)


@router.get("/agent/tickets/{ticket_id}", response=TicketDetail, summary="（客服）查看分配给我的工单（记入审计）")
def agent_ticket(request: HttpRequest, ticket_id: str) -> dict[str, Any]:
    access = _guard(lambda: access_ticket(request.user, ticket_id))
    if not access.as_agent:
        raise ApiError(403, "forbidden", "没有处理客服工单的权限")
    return _detail(access.ticket, as_agent=True)


@router.post("/agent/tickets/{ticket_id}/messages", response={201: MessageOut}, summary="（客服）回复或内部备注")
def agent_message(request: HttpRequest, ticket_id: str, payload: AgentMessageIn) -> Status[dict[str, Any]]:
    access = _guard(lambda: access_ticket(request.user, ticket_id, write=True))
    if not access.as_agent:
        raise ApiError(403, "forbidden", "没有处理客服工单的权限")
    message = _guard(lambda: do_post_message(access.ticket, payload.body, as_agent=True, internal=payload.internal,
                                             acting_user=request.user))
    return Status(201, {"id": str(message.pk), "role": message.author_role, "internal": message.internal,
                        "body": message.body or "", "created_at": message.created_at, "attachments": []})


@router.post("/agent/tickets/{ticket_id}/resolve", response=TicketOut, summary="（客服）记录处理结果")
def agent_resolve(request: HttpRequest, ticket_id: str, payload: TicketResolveIn) -> dict[str, Any]:
    access = _guard(lambda: access_ticket(request.user, ticket_id, write=True))
    if not access.as_agent:
        raise ApiError(403, "forbidden", "没有处理客服工单的权限")
    return _ticket_out(_guard(lambda: do_resolve_ticket(access.ticket, payload.resolution, payload.note,
                                                        acting_user=request.user)))


@router.post("/agent/tickets/{ticket_id}/convert", response=TicketOut, summary="（客服）转为个人信息权利请求")
def agent_convert(request: HttpRequest, ticket_id: str, payload: ConvertIn) -> dict[str, Any]:
    access = _guard(lambda: access_ticket(request.user, ticket_id, write=True))
    if not access.as_agent:
        raise ApiError(403, "forbidden", "没有处理客服工单的权限")
    return _ticket_out(_guard(lambda: convert_ticket_to_rights_request(
        access.ticket, acting_user=request.user, request_type=payload.request_type)))
