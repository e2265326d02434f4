"""Access chokepoints of the security-operations pages: staff with the matching permission, 404 for anyone else."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.http import Http404

from lingjing.secops.models import Incident, IncidentAnnouncement


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


def is_staff_with(user: Any, perm: str) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_staff and user.has_perm(perm))


def require_staff(user: Any, perm: str) -> None:
    if not is_staff_with(user, perm):
        raise Http404("内容不存在")


def access_incident(user: Any, incident_id: Any, *, write: bool = False) -> Incident:
    require_staff(user, "secops.change_incident" if write else "secops.view_incident")
    pk = _uuid(incident_id)
    incident = Incident.objects.filter(pk=pk).first() if pk else None
    if incident is None:
        raise Http404("内容不存在")
    return incident


def access_person(staff: Any, user_id: Any) -> Any:
    """A person a staff member with ``secops.read_personal`` may look at (masked until a purpose is stated)."""
    require_staff(staff, "secops.read_personal")
    pk = _uuid(user_id)
    person = get_user_model().objects.filter(pk=pk).exclude(status="erased").first() if pk else None
    if person is None:
        raise Http404("内容不存在")
    return person


def public_announcement(ref: str) -> IncidentAnnouncement:
    """The announcement of a real (not drill) incident, for everyone."""
    row = (IncidentAnnouncement.objects.select_related("incident")
           .filter(incident__ref=ref, incident__drill=False).first())
    if row is None:
        raise Http404("内容不存在")
    return row
