"""The link mailed (or texted) to a visitor: opening it lets that browser read their ticket.

A signed token (``django.core.signing``, salted, valid ``LINK_DAYS``) naming the ticket and its visitor subject;
a token for a ticket whose subject changed (it cannot) or was deleted opens nothing.
"""

from __future__ import annotations

from django.core import signing

from lingjing.support.models import Ticket

SALT = "lingjing.support.visitor-link"
LINK_DAYS = 90


def visitor_token(ticket: Ticket) -> str:
    return signing.dumps({"t": str(ticket.pk), "s": ticket.subject_ref}, salt=SALT, compress=True)


def visitor_link_path(ticket: Ticket) -> str:
    return f"/support/v/{visitor_token(ticket)}"


def read_visitor_token(token: str) -> tuple[str, str] | None:
    """(ticket id, subject) of a valid token, else None."""
    try:
        data = signing.loads(token, salt=SALT, max_age=LINK_DAYS * 86400)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    return str(data.get("t", "")), str(data.get("s", ""))
