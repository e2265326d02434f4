"""Turning a privacy-request ticket into a rights request (policy 五; L1).

``convert_ticket_to_rights_request(ticket, *, acting_user, request_type="")`` hands the ticket to the rights-request
machinery when it is installed: the module ``lingjing.privacy.requests`` with a function

    create_from_support_ticket(ticket, *, request_type: str, acting_user) -> <rights request with .pk>

(it reads the person from ``ticket.subject_ref`` — ``u:<uuid>``, or ``v:<uuid>`` for a visitor whose identity it
must verify — and owns the request's own acknowledgement and deadline). The ticket is then marked ``created`` with
the request's id.

Until that module exists (or when it has no such function), nothing is pretended: the ticket is marked
``pending`` with the requested type, an internal note and an audit row say so, and the agent keeps answering it as
a ticket (its own 15-working-day deadline still runs). ``replay_pending_conversions()`` (``lingjing support
convert-pending``) hands every pending ticket over once the module is there.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError

from lingjing.support.access import is_agent
from lingjing.support.actions import do_record_conversion
from lingjing.support.models import Conversion, Ticket, TicketCategory

HOOK_MODULE = "lingjing.privacy.requests"
HOOK_NAME = "create_from_support_ticket"
REQUEST_TYPES = ("access", "copy", "correction", "deletion", "restriction", "withdraw_consent", "cancel_account",
                 "transfer", "explanation")


def rights_request_hook() -> Callable[..., Any] | None:
    try:
        module = importlib.import_module(HOOK_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name not in (HOOK_MODULE, HOOK_MODULE.rsplit(".", 1)[0]):
            raise
        return None
    hook = getattr(module, HOOK_NAME, None)
    return hook if callable(hook) else None


def convert_ticket_to_rights_request(ticket: Ticket, *, acting_user: Any, request_type: str = "") -> Ticket:
    ticket = Ticket.objects.get(pk=ticket.pk)  # the assignment and conversion as they stand now
    if ticket.category != TicketCategory.PRIVACY:
        raise ValidationError("只有“个人信息权利请求”类工单可以转为权利请求")
    if request_type and request_type not in REQUEST_TYPES:
        raise ValidationError(f"未知的权利请求类型：{request_type}")
    if acting_user is not None and (not is_agent(acting_user) or ticket.assigned_to_id != acting_user.pk):
        raise PermissionDenied("只有处理该工单的客服可以转交")
    if ticket.conversion == Conversion.CREATED:
        raise ValidationError("该工单已转为权利请求")
    hook = rights_request_hook()
    if hook is None:
        return do_record_conversion(ticket, state=Conversion.PENDING, request_type=request_type,
                                    acting_user=acting_user)
    created = hook(ticket, request_type=request_type, acting_user=acting_user)
    return do_record_conversion(ticket, state=Conversion.CREATED, request_type=request_type,
                                reference=str(getattr(created, "pk", "")), acting_user=acting_user)


def replay_pending_conversions() -> int:
    """Hand every ``pending`` ticket to the rights-request module, once it exists. Answers how many went."""
    hook = rights_request_hook()
    if hook is None:
        return 0
    done = 0
    for ticket in Ticket.objects.filter(conversion=Conversion.PENDING).order_by("converted_at"):
        created = hook(ticket, request_type=ticket.rights_request_type, acting_user=None)
        do_record_conversion(ticket, state=Conversion.CREATED, request_type=ticket.rights_request_type,
                             reference=str(getattr(created, "pk", "")), acting_user=None)
        done += 1
    return done
