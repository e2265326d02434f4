"""Answer deadlines: every accepted ticket is due 15 working days after it was accepted (App认定方法 for complaints;
the help page promises the same for every question, sooner than the policy's 30 days, C9.1).

``flag_overdue`` (run by ``lingjing support overdue`` hourly, or the ``flag_overdue_tickets`` task) flags each
unresolved ticket past its deadline once and alerts:

* the assigned agent, or every agent when nobody has claimed it yet;
* for complaints and privacy-request tickets, every privacy officer as well.

Working days come from ``lingjing.core.workdays`` (mainland holidays and make-up workdays), so a complaint received
before National Day is not flagged during the holiday week.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from lingjing.support.models import OFFICER_CATEGORIES, Ticket, TicketStatus


def _group_members(name: str) -> list[Any]:
    return list(get_user_model().objects.filter(groups__name=name, is_staff=True).order_by("pk"))


def alert_recipients(ticket: Ticket) -> list[Any]:
    people: dict[Any, Any] = {}
    if ticket.assigned_to is not None:
        people[ticket.assigned_to.pk] = ticket.assigned_to
    else:
        for agent in _group_members("support_agent"):
            people.setdefault(agent.pk, agent)
    if ticket.category in OFFICER_CATEGORIES:
        for officer in _group_members("privacy_officer"):
            people.setdefault(officer.pk, officer)
    return [p for p in people.values() if f"u:{p.pk}" != ticket.subject_ref]


def overdue_candidates(now: dt.datetime) -> list[str]:
    return [str(pk) for pk in Ticket.objects.filter(
        status__in=[TicketStatus.OPEN, TicketStatus.ANSWERED], due_at__lt=now, overdue_flagged_at__isnull=True,
    ).order_by("due_at").values_list("pk", flat=True)[:1000]]


def flag_overdue(now: dt.datetime | None = None) -> list[str]:
    """Flag and alert every newly overdue ticket; answers their ids."""
    from lingjing.support.actions import do_flag_overdue

    at = now or timezone.now()
    flagged = []
    for pk in overdue_candidates(at):
        ticket = Ticket.objects.get(pk=pk)
        if do_flag_overdue(ticket, now=at):
            flagged.append(pk)
    return flagged
