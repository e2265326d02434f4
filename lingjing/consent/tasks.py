"""Background work of the consent app: material-change notification, analytics retention.

Tasks take ids, claim their work with a conditional UPDATE and are safe to run twice.
"""

from __future__ import annotations

from typing import Any

from django.tasks import task


@task(queue_name="notify")
def notify_policy_change(version_id: int) -> dict[str, int]:
    """Tell every active person about a material policy change before it takes effect (see ``notify``)."""
    from lingjing.consent.notify import run_policy_notification

    return run_policy_notification(version_id)


@task(queue_name="privacy")
def purge_analytics() -> dict[str, Any]:
    """Delete raw analytics events past retention and analytics keys past their day."""
    from lingjing.consent.analytics import purge_expired

    return purge_expired()
