"""Customer-service tasks. They take no personal data and are safe to run twice."""

from __future__ import annotations

from datetime import timedelta

from django.tasks import task
from django.utils import timezone

UNCONFIRMED_HOURS = 24


@task(queue_name="default")
def flag_overdue_tickets() -> int:
    """Flag tickets past their 15-working-day deadline and alert agents and privacy officers."""
    from lingjing.support.overdue import flag_overdue

    return len(flag_overdue())


@task(queue_name="default")
def purge_unconfirmed_tickets() -> int:
    """Delete visitors' tickets whose contact was not confirmed within a day."""
    from lingjing.support.actions import do_purge_unconfirmed

    return do_purge_unconfirmed(older_than=timezone.now() - timedelta(hours=UNCONFIRMED_HOURS))
