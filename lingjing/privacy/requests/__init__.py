"""Rights requests: access, copy, correction, deletion, restriction, consent withdrawal, cancellation, transfer and
explanation (policy 五; PIPL art. 44–50; NDR art. 21–25). See ``docs/subsystems/rights-requests.md``.

Layout: ``models.py`` (requests, events, proxies, restrictions, transfers, the erasure saga, deletion notices),
``deadlines.py`` (15 working days, paused while waiting for the requester), ``restriction.py`` (``is_restricted``),
``package.py`` (the streamed copy package), ``transfer.py`` (handshake and push over HTTPS), ``saga.py``
(cancellation after the grace period), ``propagation.py`` (telling recipients to delete), ``scoped.py``
(registry-driven correction and category deletion), ``explain.py``, ``metrics.py``, ``notices.py``,
``due.py`` (the periodic work: ``run_due``), ``tasks.py``, ``middleware.py`` (accounts in their grace period).
The writes are in ``lingjing/privacy/actions.py``, the access checks in ``lingjing/privacy/access.py``, the API in
``lingjing/privacy/api.py`` and the pages in ``lingjing/privacy/views/``.

This package's top level is imported while Django loads models, so it imports nothing itself.
"""

from __future__ import annotations

from typing import Any


def create_from_support_ticket(ticket: Any, *, request_type: str, acting_user: Any) -> Any:
    """The customer-service hand-over (``lingjing.support.convert``): a rights request from a privacy ticket."""
    from lingjing.privacy.actions import do_create_request_from_ticket

    return do_create_request_from_ticket(ticket, request_type=request_type, acting_user=acting_user)


def run_due_cancellations() -> int:
    """Run every cancellation whose grace period has ended (called by ``run_due`` and ``lingjing privacy run-due``)."""
    from lingjing.privacy.requests.saga import run_due_cancellations as run

    return run()
