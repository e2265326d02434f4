"""Every write of customer service: ``do_<verb>_<noun>(..., *, acting_user)``, one durable transaction each with its
audit row. Audit entries carry ids, categories and counts; the words of a ticket never enter them.

Notifications to the person (received, reply, resolved) and to staff (assigned, overdue) go through the one
notification service in the same transaction, so a reply and its notice commit together.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from lingjing.core.workdays import deadline
from lingjing.notify.models import Category as NotifyCategory
from lingjing.notify.service import notify, notify_contact
from lingjing.security.audit import AuditEvent, record
from lingjing.support.access import is_agent
from lingjing.support.models import (
    CATEGORY_EN,
    RESOLUTION_EN,
    Attachment,
    Author,
    CannedReply,
    ContactKind,
    Conversion,
    Resolution,
    Ticket,
    TicketCategory,
    TicketMessage,
    TicketStatus,
)
from lingjing.support.uploads import Screenshot

TITLE_MAX = 120
BODY_MAX = 5000
NOTE_MAX = 2000


def due_working_days() -> int:
    return int(settings.LINGJING_SUPPORT_DUE_WORKING_DAYS)


def _clean_text(value: str, *, field: str, label: str, limit: int) -> str:
    text = (value or "").strip()
    if not text:
        raise ValidationError({field: [f"请填写{label}"]})
    if len(text) > limit:
        raise ValidationError({field: [f"{label}最多 {limit} 字"]})
    return text


def requester_url(ticket: Ticket) -> str:
    if ticket.is_visitor:
        from lingjing.support.links import visitor_link_path

        return visitor_link_path(ticket)
    return f"/support/{ticket.pk}/"


def agent_url(ticket: Ticket) -> str:
    return f"/support/agent/{ticket.pk}/"


def _local(value: dt.datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _tell_requester(ticket: Ticket, template: str, **extra: Any) -> None:
    """Notify the person who raised ``ticket`` (inbox and their channels, or the visitor's confirmed contact)."""
    context = {"ticket_ref": ticket.ref, "url": requester_url(ticket), "due": _local(ticket.due_at), **extra}
    if ticket.is_visitor:
        contact = ticket.contact or ""
        notify_contact(
            ticket.subject_ref,
            email=contact if ticket.contact_kind == ContactKind.EMAIL else "",
            phone=contact if ticket.contact_kind == ContactKind.PHONE else "",
            category=NotifyCategory.ACCOUNT, template=template, context=context, language=ticket.language,
        )
        return
    from django.contrib.auth import get_user_model

    person = get_user_model().objects.filter(pk=ticket.user_id or "").first()
    if person is not None:
        notify(person, NotifyCategory.ACCOUNT, template, context)


def _attach(ticket: Ticket, message: TicketMessage, screenshots: Sequence[tuple[str, Screenshot]]) -> int:
    for name, shot in screenshots:
        Attachment(ticket=ticket, message=message, subject_ref=ticket.subject_ref, file=name, width=shot.width,
                   height=shot.height, size=len(shot.png)).save(force_insert=True)
    return len(screenshots)


def _message(ticket: Ticket, body: str, *, author: Any, role: str, internal: bool = False) -> TicketMessage:
    row = TicketMessage(ticket=ticket, subject_ref=ticket.subject_ref, author=author, author_role=role,
                        internal=internal)
    row.body = body
    row.save(force_insert=True)
    return row


# --- opening ------------------------------------------------------------------------------------------------


def do_open_ticket(
    *,
    user: Any,
    category: str,
    title: str,
    body: str,
    contact_kind: str = "",
    contact: str = "",
    language: str = "zh-hans",
    screenshots: Sequence[tuple[str, Screenshot]] = (),
    acting_user: Any,
) -> Ticket:
    """Open a ticket.

    With an account (``user``): accepted at once, due 15 working days later, the person notified. A visitor
    (``user=None``) must leave a phone or email (normalised by the caller) and gets a key of their own
    (``v:<uuid>``); the ticket waits as ``unconfirmed`` until ``do_accept_ticket`` after the contact's code.
    """
    if category not in TicketCategory.values:
        raise ValidationError({"category": ["请选择问题类别"]})
    title = _clean_text(title, field="title", label="标题", limit=TITLE_MAX)
    body = _clean_text(body, field="body", label="问题描述", limit=BODY_MAX)
    visitor = user is None or not getattr(user, "is_authenticated", False)
    if contact_kind not in ContactKind.values:
        raise ValidationError({"contact_kind": ["未知的联系方式类型"]})
    if visitor and not (contact_kind and contact):
        raise ValidationError({"contact": ["请留下手机号码或电子邮箱，以便我们答复您"]})
    now = timezone.now()
    with transaction.atomic(durable=True):
        ticket = Ticket(
            subject_ref=f"v:{uuid.uuid4()}" if visitor else f"u:{user.pk}",
            category=category,
            status=TicketStatus.UNCONFIRMED if visitor else TicketStatus.OPEN,
            contact_kind=contact_kind if contact else "",
            language="en" if language.startswith("en") else "zh-hans",
            created_at=now,
            updated_at=now,
        )
        ticket.title = title
        ticket.contact = contact or None
        if not visitor:
            ticket.accepted_at = now
            ticket.due_at = deadline(now, due_working_days())
        ticket.save(force_insert=True)
        first = _message(ticket, body, author=None if visitor else user, role=Author.REQUESTER)
        count = _attach(ticket, first, screenshots)
        record(AuditEvent.SUPPORT_TICKET_OPENED, acting_user=acting_user, subject=ticket.subject_ref, obj=ticket,
               details={"category": category, "visitor": visitor, "screenshots": count,
                        "contact_kind": ticket.contact_kind})
        if not visitor:
            _tell_requester(ticket, "support.received")
    return ticket


def do_accept_ticket(ticket: Ticket, *, acting_user: Any = None) -> Ticket:
    """A visitor proved control of the contact: the ticket is accepted and its deadline starts."""
    now = timezone.now()
    with transaction.atomic(durable=True):
        row = Ticket.objects.select_for_update().get(pk=ticket.pk)
        if row.status != TicketStatus.UNCONFIRMED:
            return row
        row.status = TicketStatus.OPEN
        row.contact_confirmed_at = row.accepted_at = row.updated_at = now
        row.due_at = deadline(now, due_working_days())
        row.save(update_fields=["status", "contact_confirmed_at", "accepted_at", "updated_at", "due_at"])
        record(AuditEvent.SUPPORT_TICKET_ACCEPTED, acting_user=acting_user, subject=row.subject_ref, obj=row,
               details={"contact_kind": row.contact_kind, "due_at": row.due_at.isoformat()})
        _tell_requester(row, "support.received")
    return row


# --- the conversation ---------------------------------------------------------------------------------------


def do_post_message(
    ticket: Ticket,
    body: str,
    *,
    as_agent: bool,
    internal: bool = False,
    screenshots: Sequence[tuple[str, Screenshot]] = (),
    acting_user: Any,
) -> TicketMessage:
    """Add to the conversation. The caller reached ``ticket`` through ``access_ticket``.

    The person writing reopens a resolved ticket (a new 15-working-day deadline). An agent's reply marks the ticket
    answered and notifies the person; an internal note (agents only) changes nothing the person sees.
    """
    text = _clean_text(body, field="body", label="内容", limit=NOTE_MAX if internal else BODY_MAX)
    if internal and not as_agent:
        raise PermissionDenied("只有客服可以添加内部备注")
    if as_agent and not is_agent(acting_user):
        raise PermissionDenied("没有处理客服工单的权限")
    now = timezone.now()
    with transaction.atomic(durable=True):
        row = Ticket.objects.select_for_update().get(pk=ticket.pk)
        if as_agent and row.assigned_to_id != getattr(acting_user, "pk", None):
            raise PermissionDenied("该工单未分配给您")
        if row.status == TicketStatus.UNCONFIRMED:
            raise ValidationError("工单尚未确认联系方式")
        author = acting_user if getattr(acting_user, "is_authenticated", False) else None
        message = _message(row, text, author=author, role=Author.AGENT if as_agent else Author.REQUESTER,
                           internal=internal)
        count = _attach(row, message, screenshots)
        fields = ["updated_at"]
        reopened = False
        if not as_agent:
            if row.status == TicketStatus.RESOLVED:
                reopened = True
                row.resolution, row.resolved_at, row.resolved_by = "", None, None
                row.resolution_note = None
                row.due_at = deadline(now, due_working_days())
                row.overdue_flagged_at = None
                fields += ["resolution", "resolved_at", "resolved_by", "resolution_note", "due_at",
                           "overdue_flagged_at"]
            row.status = TicketStatus.OPEN
            fields.append("status")
        elif not internal:
            row.status = TicketStatus.ANSWERED if row.status != TicketStatus.RESOLVED else row.status
            row.first_response_at = row.first_response_at or now
            fields += ["status", "first_response_at"]
        row.updated_at = now
        row.save(update_fields=fields)
        event = AuditEvent.SUPPORT_NOTE_ADDED if internal else AuditEvent.SUPPORT_MESSAGE_POSTED
        record(event, acting_user=acting_user, subject=row.subject_ref, obj=message,
               details={"ticket": str(row.pk), "by": "agent" if as_agent else "requester", "screenshots": count})
        if reopened:
            record(AuditEvent.SUPPORT_TICKET_REOPENED, acting_user=acting_user, subject=row.subject_ref, obj=row,
                   details={"due_at": row.due_at.isoformat() if row.due_at else None})
        if as_agent and not internal:
            _tell_requester(row, "support.reply")
    return message


# --- the agents' work ---------------------------------------------------------------------------------------


def do_assign_ticket(ticket: Ticket, assignee: Any, *, acting_user: Any) -> Ticket:
    """Claim (``assignee`` = the acting agent), hand over (needs ``support.assign_ticket``) or release (None).

    An agent never works a ticket they raised themselves.
    """
    from lingjing.support.access import can_assign_others

    if not is_agent(acting_user):
        raise PermissionDenied("没有处理客服工单的权限")
    if assignee is not None and not is_agent(assignee):
        raise ValidationError("只能分配给客服人员")
    if assignee is not None and ticket.subject_ref == f"u:{assignee.pk}":
        raise ValidationError("不能处理自己提交的工单")
    with transaction.atomic(durable=True):
        row = Ticket.objects.select_for_update().get(pk=ticket.pk)
        current = row.assigned_to_id
        self_claim = assignee is not None and assignee.pk == acting_user.pk and current is None
        self_release = assignee is None and current == acting_user.pk
        if not (self_claim or self_release or can_assign_others(acting_user)):
            raise PermissionDenied("该工单已由其他客服处理；转交需要主管分配权限")
        row.assigned_to = assignee
        row.assigned_at = timezone.now() if assignee is not None else None
        row.save(update_fields=["assigned_to", "assigned_at"])
        record(AuditEvent.SUPPORT_TICKET_ASSIGNED, acting_user=acting_user, subject=row.subject_ref, obj=row,
               details={"to": f"u:{assignee.pk}" if assignee is not None else None,
                        "from": f"u:{current}" if current else None})
        if assignee is not None and assignee.pk != acting_user.pk:
            notify(assignee, NotifyCategory.SERVICE, "support.assigned", {
                "ticket_ref": row.ref, "url": agent_url(row), "due": _local(row.due_at),
                "category": row.get_category_display(), "category_en": CATEGORY_EN.get(row.category, ""),
            })
    return row


def do_log_ticket_view(ticket: Ticket, *, acting_user: Any, what: str = "ticket") -> None:
    """Staff saw a ticket's personal data: one audit row (joins a caller's transaction when there is one)."""
    with transaction.atomic():
        record(AuditEvent.SUPPORT_TICKET_VIEWED, acting_user=acting_user, subject=ticket.subject_ref, obj=ticket,
               details={"what": what[:40]})


def do_resolve_ticket(ticket: Ticket, resolution: str, note: str, *, acting_user: Any) -> Ticket:
    """The resolution record: outcome, a note the person reads (sealed), who and when; the person is told."""
    if resolution not in Resolution.values:
        raise ValidationError({"resolution": ["请选择处理结果"]})
    text = _clean_text(note, field="note", label="处理说明", limit=NOTE_MAX)
    if not is_agent(acting_user):
        raise PermissionDenied("没有处理客服工单的权限")
    now = timezone.now()
    with transaction.atomic(durable=True):
        row = Ticket.objects.select_for_update().get(pk=ticket.pk)
        if row.assigned_to_id != acting_user.pk:
            raise PermissionDenied("该工单未分配给您")
        if row.status == TicketStatus.RESOLVED:
            raise ValidationError("工单已处理完毕")
        row.status, row.resolution, row.resolved_at, row.resolved_by = TicketStatus.RESOLVED, resolution, now, \
            acting_user
        row.resolution_note = text
        row.first_response_at = row.first_response_at or now
        row.updated_at = now
        row.save(update_fields=["status", "resolution", "resolved_at", "resolved_by", "resolution_note",
                                "first_response_at", "updated_at"])
        outcome = Resolution(resolution).label
        _message(row, f"处理结果：{outcome}\n{text}", author=acting_user, role=Author.SYSTEM)
        record(AuditEvent.SUPPORT_TICKET_RESOLVED, acting_user=acting_user, subject=row.subject_ref, obj=row,
               details={"resolution": resolution, "on_time": bool(row.due_at and now <= row.due_at),
                        "category": row.category})
        _tell_requester(row, "support.resolved", outcome=str(outcome), outcome_en=RESOLUTION_EN[resolution])
    return row


def do_record_conversion(
    ticket: Ticket, *, state: str, request_type: str, reference: str = "", acting_user: Any
) -> Ticket:
    """Mark a privacy-request ticket as handed to the rights-request machinery (or as waiting for it)."""
    if state not in (Conversion.PENDING, Conversion.CREATED):
        raise ValueError(state)
    with transaction.atomic(durable=True):
        row = Ticket.objects.select_for_update().get(pk=ticket.pk)
        row.conversion = state
        row.rights_request_type = request_type[:20]
        row.rights_request_ref = reference[:80]
        row.converted_at = timezone.now()
        row.updated_at = row.converted_at
        row.save(update_fields=["conversion", "rights_request_type", "rights_request_ref", "converted_at",
                                "updated_at"])
        kind = request_type or "类型待确认"
        text = (f"已转为个人信息权利请求（{kind}），编号 {reference}" if state == Conversion.CREATED
                else f"已记录转为个人信息权利请求（{kind}）的意图，待权利请求模块接收")
        _message(row, text, author=acting_user, role=Author.SYSTEM, internal=True)
        record(AuditEvent.SUPPORT_TICKET_CONVERTED, acting_user=acting_user, subject=row.subject_ref, obj=row,
               details={"state": state, "type": request_type, "reference": reference})
    return row


def do_flag_overdue(ticket: Ticket, *, now: dt.datetime | None = None) -> bool:
    """Flag one ticket past its deadline (once) and alert its agent (or every agent when nobody has it) and, for
    complaints and rights requests, the privacy officers."""
    from lingjing.support.models import OFFICER_CATEGORIES
    from lingjing.support.overdue import alert_recipients

    at = now or timezone.now()
    with transaction.atomic(durable=True):
        row = Ticket.objects.select_for_update(of=("self",)).select_related("assigned_to").get(pk=ticket.pk)
        if (row.overdue_flagged_at is not None or row.due_at is None or row.due_at >= at
                or row.status not in (TicketStatus.OPEN, TicketStatus.ANSWERED)):
            return False
        row.overdue_flagged_at = at
        row.save(update_fields=["overdue_flagged_at"])
        people = alert_recipients(row)
        record(AuditEvent.SUPPORT_TICKET_OVERDUE, actor="system", subject=row.subject_ref, obj=row,
               details={"category": row.category, "due_at": row.due_at.isoformat(),
                        "alerted": [f"u:{p.pk}" for p in people],
                        "privacy_officer": row.category in OFFICER_CATEGORIES})
        context = {"ticket_ref": row.ref, "url": agent_url(row), "due": _local(row.due_at),
                   "category": row.get_category_display(), "category_en": CATEGORY_EN.get(row.category, ""),
                   "assignee": str(row.assigned_to) if row.assigned_to is not None else ""}
        for person in people:
            notify(person, NotifyCategory.SERVICE, "support.overdue", context)
    return True


def do_save_canned_reply(reply: CannedReply, *, acting_user: Any) -> CannedReply:
    if not is_agent(acting_user):
        raise PermissionDenied("没有维护快捷回复的权限")
    if not (reply.title or "").strip() or not (reply.body_zh or "").strip():
        raise ValidationError("请填写名称和中文内容")
    with transaction.atomic(durable=True):
        creating = reply.pk is None
        if creating:
            reply.created_by = acting_user
        reply.updated_at = timezone.now()
        reply.save()
        record(AuditEvent.SUPPORT_CANNED_REPLY_SAVED, acting_user=acting_user, obj=reply,
               details={"created": creating, "active": reply.active, "category": reply.category})
    return reply


def do_purge_unconfirmed(*, older_than: dt.datetime) -> int:
    """Delete visitors' tickets whose contact was never confirmed, their screenshots and their visitor keys."""
    from django.core.files.storage import default_storage

    from lingjing.security.crypto import shred_subject

    purged = 0
    while True:
        with transaction.atomic(durable=True):
            rows = list(Ticket.objects.select_for_update().filter(
                status=TicketStatus.UNCONFIRMED, created_at__lt=older_than).values_list("pk", "subject_ref")[:200])
            if not rows:
                break
            ids = [pk for pk, _ in rows]
            files = list(Attachment.objects.filter(ticket_id__in=ids).values_list("file", flat=True))
            Ticket.objects.filter(pk__in=ids).delete()
            for name in files:
                default_storage.delete(name)
            record(AuditEvent.SUPPORT_UNCONFIRMED_PURGED, actor="system", details={"tickets": len(ids)})
        for _, subject in rows:
            if subject.startswith("v:"):
                shred_subject(subject, reason="unconfirmed support ticket")
        purged += len(rows)
    return purged
