"""Access chokepoints of customer service.

``access_ticket`` is the only way pages and the API reach a ticket:

* the person who raised it (signed in as ``u:<uuid>``, or a visitor whose session holds the ticket after
  confirming the contact or opening the link mailed to it) reads it, internal notes excluded;
* an agent (staff with ``support.handle_ticket``) reads it **only while it is assigned to them**; any other agent
  gets 403 (they see the queue's non-personal columns, never a title, a message or a contact). Every such read is
  written to the audit log (``support.ticket_viewed``) before the page shows anything;
* everybody else gets 404.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from lingjing.support.models import Attachment, CannedReply, Ticket, TicketStatus

VISITOR_SESSION_KEY = "support_tickets"
PENDING_SESSION_KEY = "support_pending"


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


def is_agent(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active and user.is_staff
                and user.has_perm("support.handle_ticket"))


def can_assign_others(user: Any) -> bool:
    return is_agent(user) and bool(user.has_perm("support.assign_ticket"))


def session_tickets(session: SessionBase | None) -> list[str]:
    if session is None:
        return []
    return [str(t) for t in session.get(VISITOR_SESSION_KEY, [])]


def remember_ticket(session: SessionBase, ticket_id: Any) -> None:
    """Let this browser session read a visitor's ticket (after the code, or via the mailed link)."""
    held = session_tickets(session)
    if str(ticket_id) not in held:
        session[VISITOR_SESSION_KEY] = [*held, str(ticket_id)][-20:]


@dataclass(frozen=True)
class TicketAccess:
    ticket: Ticket
    as_agent: bool


def my_tickets(user: Any, session: SessionBase | None = None) -> QuerySet[Ticket]:
    """The tickets of the signed-in person, or those this visitor's session holds."""
    accepted = Ticket.objects.exclude(status=TicketStatus.UNCONFIRMED)
    if getattr(user, "is_authenticated", False):
        return accepted.filter(subject_ref=f"u:{user.pk}").order_by("-updated_at")
    ids = [pk for pk in (_uuid(t) for t in session_tickets(session)) if pk]
    return accepted.filter(pk__in=ids, subject_ref__startswith="v:").order_by("-updated_at")


def is_requester(user: Any, ticket: Ticket, session: SessionBase | None = None) -> bool:
    if ticket.status == TicketStatus.UNCONFIRMED:
        return False
    if getattr(user, "is_authenticated", False) and ticket.subject_ref == f"u:{user.pk}":
        return True
    return ticket.is_visitor and str(ticket.pk) in session_tickets(session)


def access_ticket(
    user: Any, ticket_id: Any, *, write: bool = False, session: SessionBase | None = None, audit: bool = True,
    what: str = "ticket",
) -> TicketAccess:
    """The ticket for its requester or its assigned agent (audited); 403 for other agents; 404 for the rest.

    ``audit=False`` is for the live page's poll, which shows nothing personal until it calls
    :func:`lingjing.support.actions.do_log_ticket_view` itself.
    """
    pk = _uuid(ticket_id)
    ticket = Ticket.objects.select_related("assigned_to").filter(pk=pk).first() if pk else None
    if ticket is None:
        raise Http404("工单不存在")
    if is_requester(user, ticket, session):
        return TicketAccess(ticket, as_agent=False)
    if is_agent(user) and ticket.status != TicketStatus.UNCONFIRMED:
        if ticket.assigned_to_id != user.pk:
            raise PermissionDenied("该工单未分配给您，不能查看其内容。请先在队列中领取或请主管分配。")
        if audit:
            from lingjing.support.actions import do_log_ticket_view

            do_log_ticket_view(ticket, acting_user=user, what=what)
        return TicketAccess(ticket, as_agent=True)
    raise Http404("工单不存在")


def access_pending_ticket(session: SessionBase, ticket_id: Any) -> Ticket:
    """A visitor's ticket waiting for its contact code, for the session that created it only."""
    pk = _uuid(ticket_id)
    if pk is None or str(pk) != str(session.get(PENDING_SESSION_KEY, "")):
        raise Http404("工单不存在")
    ticket = Ticket.objects.filter(pk=pk, status=TicketStatus.UNCONFIRMED).first()
    if ticket is None:
        raise Http404("工单不存在")
    return ticket


def access_ticket_by_link(session: SessionBase, token: str) -> Ticket:
    """The ticket named by a valid visitor link; this session may read it from now on."""
    from lingjing.support.links import read_visitor_token

    found = read_visitor_token(token)
    pk = _uuid(found[0]) if found else None
    ticket = (Ticket.objects.filter(pk=pk, subject_ref=found[1]).exclude(status=TicketStatus.UNCONFIRMED).first()
              if found and pk else None)
    if ticket is None:
        raise Http404("链接无效或已过期")
    remember_ticket(session, ticket.pk)
    return ticket


def access_queue_ticket(user: Any, ticket_id: Any) -> Ticket:
    """A ticket of the queue for an agent who may claim it: its non-personal columns only are meant to be used."""
    if not is_agent(user):
        raise PermissionDenied("没有处理客服工单的权限")
    pk = _uuid(ticket_id)
    ticket = Ticket.objects.exclude(status=TicketStatus.UNCONFIRMED).filter(pk=pk).first() if pk else None
    if ticket is None:
        raise Http404("工单不存在")
    return ticket


def access_attachment(access: TicketAccess, attachment_id: Any) -> Attachment:
    """A screenshot of a ticket already reached through ``access_ticket``."""
    pk = _uuid(attachment_id)
    row = Attachment.objects.filter(pk=pk, ticket=access.ticket).select_related("message").first() if pk else None
    if row is None or (row.message is not None and row.message.internal and not access.as_agent):
        raise Http404("附件不存在")
    return row


def queue(user: Any) -> QuerySet[Ticket]:
    """The agents' queue: accepted tickets, oldest deadline first."""
    if not is_agent(user):
        raise PermissionDenied("没有处理客服工单的权限")
    return (Ticket.objects.exclude(status=TicketStatus.UNCONFIRMED).select_related("assigned_to")
            .order_by("due_at", "created_at"))


def canned_replies(category: str = "") -> QuerySet[CannedReply]:
    rows = CannedReply.objects.filter(active=True)
    if category:
        from django.db.models import Q

        rows = rows.filter(Q(category="") | Q(category=category))
    return rows.order_by("title")
