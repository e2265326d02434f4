"""Sending one delivery, retrying with back-off, and recording every outcome.

1. **Claim** (``claim_delivery``): one conditional UPDATE moves a ``pending`` or due ``retrying`` delivery to
   ``sending`` and counts the attempt. Of two workers holding the same id only one proceeds, so a delivery is
   never sent twice at the same time; a second run of the task finds nothing to claim.
2. **Send** outside any transaction (``channels.send``), so a slow provider never holds a database lock.
3. **Record** (``do_record_delivery_outcome``), with an audit row: ``sent``; or ``failed`` for a permanent
   failure or the last allowed attempt (``LINGJING_NOTIFY_MAX_ATTEMPTS``); else ``retrying`` with
   ``next_retry_at`` = now + ``LINGJING_NOTIFY_RETRY_BASE`` × 4^(attempts − 1) (1, 4, 16, 64 minutes with the
   defaults), capped at six hours. A backend that can defer (the database queue) gets the retry enqueued for that
   time right away.
4. **Sweep** (:func:`retry_due`, run by ``lingjing notify run`` from cron or a timer): due ``retrying`` rows,
   ``pending`` rows whose task never ran (an enqueue lost after commit) and ``sending`` rows whose worker died
   (claimed more than ``STALE_AFTER`` ago) are sent again. A worker killed after the provider accepted a message
   but before the outcome was recorded makes that message go out twice at most once more: the price of never
   losing a security notice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.tasks import TaskResultStatus
from django.utils import timezone

from lingjing.notify import channels
from lingjing.notify.actions import claim_delivery, do_record_delivery_outcome, reclaim_stale_delivery
from lingjing.notify.models import Delivery, DeliveryStatus

log = logging.getLogger("lingjing.notify")

MAX_BACKOFF = timedelta(hours=6)
STALE_AFTER = timedelta(minutes=10)
LOST_AFTER = timedelta(minutes=5)


def backoff(attempts: int) -> timedelta:
    """The wait before attempt ``attempts + 1``."""
    base = timedelta(seconds=settings.LINGJING_NOTIFY_RETRY_BASE)
    wait: timedelta = base * 4 ** max(0, attempts - 1)
    return min(MAX_BACKOFF, wait)


def attempt(delivery_id: str) -> str:
    """Claim, send and record one delivery; answers its status afterwards ("not_due" when nothing was claimed)."""
    delivery = claim_delivery(delivery_id)
    if delivery is None:
        return "not_due"
    try:
        channels.send(delivery)
    except channels.PermanentFailure as exc:
        return do_record_delivery_outcome(delivery, error=str(exc)[:200], permanent=True).status
    except Exception as exc:  # transient: the provider or the network; retried
        log.warning("delivery %s attempt %s failed: %s", delivery.pk, delivery.attempts, type(exc).__name__)
        error = f"{type(exc).__name__}: {exc}"[:200] if isinstance(exc, RuntimeError) else type(exc).__name__
        return do_record_delivery_outcome(delivery, error=error, permanent=False).status
    return do_record_delivery_outcome(delivery, error="", permanent=False).status


def due_ids(now: datetime | None = None, *, limit: int = 500) -> list[str]:
    now = now or timezone.now()
    rows = Delivery.objects.filter(
        Q(status=DeliveryStatus.RETRYING, next_retry_at__lte=now)
        | Q(status=DeliveryStatus.PENDING, created_at__lte=now - LOST_AFTER)
        | Q(status=DeliveryStatus.SENDING, claimed_at__lte=now - STALE_AFTER)
    ).order_by("created_at").values_list("pk", "status")[:limit]
    return [str(pk) for pk, _status in rows]


def retry_due(now: datetime | None = None, *, limit: int = 500) -> dict[str, int]:
    """Send every delivery that is due again (step 4). Answers counts by resulting status."""
    from lingjing.notify.tasks import deliver

    counts: dict[str, int] = {}
    for delivery_id in due_ids(now, limit=limit):
        reclaim_stale_delivery(delivery_id, older_than=(now or timezone.now()) - STALE_AFTER)
        result = deliver.enqueue(delivery_id)
        status = str(result.return_value) if result.status == TaskResultStatus.SUCCESSFUL else "queued"
        counts[status] = counts.get(status, 0) + 1
    return counts
