"""The periodic work of rights requests: ``run_due()`` (the ``run_due`` task; ``lingjing privacy run-due``).

1. Overdue: every open request past its deadline is flagged once and the privacy officers are alerted
   (``do_flag_overdue``); requests waiting for the requester are paused and never flagged.
2. Cancellations whose undo window has ended, and sagas left unfinished, run (``saga.run_due_cancellations``).
3. Copy packages past their 7 days are deleted (``do_expire_package``).
4. Deletion notices to recipients due for a (re)try are sent (``propagation.deliver_due``).
5. Copies and transfers whose worker died (claimed more than an hour ago, nothing recorded) are enqueued again.

Every part is idempotent, so running it twice, or from two places, does no harm.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from lingjing.privacy.requests.models import RequestStatus, RequestType, RightsRequest

STALE = dt.timedelta(hours=1)


def flag_overdue(now: dt.datetime) -> int:
    from lingjing.privacy.actions import do_flag_overdue

    ids = list(RightsRequest.objects.filter(
        status__in=[RequestStatus.RECEIVED, RequestStatus.IN_PROGRESS], due_at__lt=now,
        overdue_flagged_at__isnull=True,
    ).order_by("due_at").values_list("pk", flat=True)[:1000])
    return sum(1 for pk in ids if do_flag_overdue(RightsRequest.objects.get(pk=pk), now=now))


def expire_packages(now: dt.datetime) -> int:
    from lingjing.privacy.actions import do_expire_package

    ids = list(RightsRequest.objects.filter(package_expires_at__lte=now, package_deleted_at__isnull=True)
               .exclude(package_name="").values_list("pk", flat=True)[:1000])
    return sum(1 for pk in ids if do_expire_package(RightsRequest.objects.get(pk=pk)))


def requeue_stale(now: dt.datetime) -> int:
    from lingjing.privacy.requests import tasks

    count = 0
    stale = RightsRequest.objects.filter(status=RequestStatus.IN_PROGRESS, updated_at__lt=now - STALE)
    for pk in stale.filter(type=RequestType.COPY, package_name="").values_list("pk", flat=True)[:100]:
        tasks.build_copy.enqueue(str(pk))
        count += 1
    for pk in stale.filter(type=RequestType.TRANSFER, transfer__status="pending").values_list("pk", flat=True)[:100]:
        tasks.push_transfer.enqueue(str(pk))
        count += 1
    return count


def run_due(now: dt.datetime | None = None) -> dict[str, Any]:
    from lingjing.privacy.requests import propagation
    from lingjing.privacy.requests.saga import run_due_cancellations

    at = now or timezone.now()
    return {
        "overdue_flagged": flag_overdue(at),
        "cancellations_finished": run_due_cancellations(at),
        "packages_deleted": expire_packages(at),
        "notices": propagation.deliver_due(now=at),
        "requeued": requeue_stale(at),
    }
