"""Background work of security operations (django.tasks). Each task takes ids and is safe to run twice."""

from __future__ import annotations

from typing import Any

from django.tasks import task


@task(queue_name="privacy")
def run_retention() -> dict[str, Any]:
    """The daily retention purge (``lingjing retention run`` does the same in the foreground)."""
    from lingjing.privacy.retention import run

    report = run()
    return {"total": report.total, "removed": report.removed, "cleared": report.cleared, "extra": report.extra}


@task(queue_name="notify")
def handle_incident(incident_id: str, acting_user_id: str | None = None) -> dict[str, Any]:
    """Compute the affected people, tell them, announce when needed, track deliveries (``drill.handle``)."""
    from lingjing.accounts.models import User
    from lingjing.secops.drill import handle
    from lingjing.secops.models import Incident

    incident = Incident.objects.filter(pk=incident_id).first()
    if incident is None:
        return {"status": "missing"}
    acting_user = User.objects.filter(pk=acting_user_id).first() if acting_user_id else None
    done = handle(incident, acting_user=acting_user)
    return {"affected": done.affected, "notified": done.notified, "unreachable": done.unreachable,
            "announcement": done.announcement}
