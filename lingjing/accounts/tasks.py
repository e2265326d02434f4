"""Account housekeeping tasks (django.tasks). Each is safe to run twice: work is claimed by conditional updates."""

from __future__ import annotations

from django.tasks import task


@task(queue_name="privacy")
def purge_expired_pending_children() -> int:
    """Delete the data of children under 14 whose guardian did not confirm within the expiry (default 7 days)."""
    from lingjing.accounts.guardian import purge_expired_pending_children as purge

    return purge()


@task(queue_name="default")
def purge_stale_codes() -> int:
    """Delete one-time code rows older than a day (they are useless after 5 minutes; kept a day for rate review)."""
    from lingjing.accounts.maintenance import purge_stale_codes as purge

    return purge()
