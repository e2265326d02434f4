"""Notification tasks (queue ``notify``). They take ids and are safe to run twice."""

from __future__ import annotations

from django.tasks import task


@task(queue_name="notify")
def deliver(delivery_id: str) -> str:
    """Send one delivery (claimed first; a second run finds nothing to do). Answers its status."""
    from lingjing.notify.delivery import attempt

    return attempt(delivery_id)


@task(queue_name="notify")
def fan_out_announcement(announcement_id: int) -> int:
    """Put a due announcement into every active person's inbox. Answers the number of entries added."""
    from lingjing.notify.announcements import run_fanout

    return run_fanout(announcement_id)


@task(queue_name="notify")
def notify_tick() -> dict[str, int]:
    """The periodic sweep: publish due announcements and resend due deliveries (``lingjing notify run``)."""
    from lingjing.notify.announcements import publish_due
    from lingjing.notify.delivery import retry_due

    published = publish_due()
    counts = retry_due()
    return {"announcements": len(published), **counts}
