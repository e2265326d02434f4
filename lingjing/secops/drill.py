"""Incident handling, end to end, in one call: for drills (``lingjing incident drill``) and for real incidents.

:func:`handle` runs the steps an incident needs after it is recorded:

1. compute the affected people (registry and audit log) and store them;
2. refresh the initial regulator report (4-hour clock from discovery);
3. send the PIPL art. 57 notice to each affected person on every channel they have;
4. publish the public announcement when some cannot be told individually, or when there are too many to tell one
   by one (``LINGJING_INCIDENT_INDIVIDUAL_MAX``);
5. track the deliveries.

:func:`run_drill` makes synthetic people (:class:`~lingjing.secops.models.DrillSubject`, reserved test numbers,
marked as drill accounts), lets a simulated intruder sign in to some of them inside the incident window, records a
drill incident (every text marked 【演练】), runs :func:`handle` — which for a drill considers drill accounts only,
so no real person is ever counted or told — closes it and drafts the 30-day summary. The drafts are written to
``EXPORTS_DIR/incidents/<ref>/`` as well.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from lingjing.secops.models import (
    AffectedPerson,
    DrillSubject,
    Incident,
    IncidentKind,
    IncidentLevel,
    IncidentNotice,
    IncidentScope,
)

DRILL_PHONES = tuple(f"+861380000{9001 + n:04d}" for n in range(9))  # the reserved demo range (accounts.demo)


@dataclass
class Handled:
    incident: Incident
    affected: int = 0
    notified: int = 0
    unreachable: int = 0
    announcement: bool = False
    deliveries_tracked: int = 0


def handle(incident: Incident, *, acting_user: Any) -> Handled:
    """Steps 1–5 of the module docstring. Safe to run again: people already told are not told twice."""
    from lingjing.secops.actions import (
        do_publish_incident_announcement,
        do_redraft_reports,
        do_send_incident_notice,
    )
    from lingjing.secops.incidents import refresh_affected
    from lingjing.secops.notices import reached, track

    refresh_affected(incident, acting_user=acting_user)
    incident.refresh_from_db()
    result = Handled(incident, affected=incident.affected_count)
    too_many = incident.affected_count > settings.LINGJING_INCIDENT_INDIVIDUAL_MAX
    unreachable = incident.unreachable_count if too_many else 0
    if not too_many:
        for person in AffectedPerson.objects.filter(incident=incident).order_by("created_at", "pk").iterator():
            rows = do_send_incident_notice(incident, person, acting_user=acting_user)
            if not rows:
                rows = list(IncidentNotice.objects.filter(incident=incident, person_id=person.person_id))
            if reached(rows):
                result.notified += 1
            else:
                unreachable += 1
    result.unreachable = unreachable
    if too_many or unreachable:
        reason = ("受影响人数过多，逐一告知难以实现" if too_many
                  else f"{unreachable} 人无法通过站外渠道逐一告知")
        do_publish_incident_announcement(incident, reason=reason, acting_user=acting_user)
        result.announcement = True
    result.deliveries_tracked = track(incident)
    do_redraft_reports(incident, acting_user=acting_user)
    return result


@dataclass
class DrillResult:
    incident: Incident
    drill_people: list[Any]
    touched: list[Any]
    handled: Handled
    files: list[Path] = field(default_factory=list)


def drill_people(count: int, *, acting_user: Any) -> list[Any]:
    """The synthetic accounts drills use (created once, through the accounts app's actions)."""
    from lingjing.accounts.actions import do_register_user
    from lingjing.accounts.models import User
    from lingjing.secops.actions import do_add_drill_subject

    people = []
    for n, phone in enumerate(DRILL_PHONES[:count]):
        user = User.objects.get_by_phone(phone)
        if user is None:
            user = do_register_user(phone=phone, nickname=f"演练账号{n + 1}", birth_date=dt.date(1990, 1, 1))
        elif not DrillSubject.objects.filter(user=user).exists() and user.nickname != f"演练账号{n + 1}":
            continue  # the number belongs to someone else's account: never use it
        do_add_drill_subject(user, acting_user=acting_user)
        people.append(user)
    return people


def _intrude(people: list[Any]) -> None:
    """The simulated incident: an intruder signs in to these accounts and leaves (both audited)."""
    from lingjing.accounts.actions import do_create_api_token, do_revoke_session
    from lingjing.accounts.models import ApiToken, hash_token

    for user in people:
        raw = do_create_api_token(user, method="drill")
        token = ApiToken.objects.get(token_hash=hash_token(raw))
        do_revoke_session(user, token.pk, acting_user=user)


def write_files(incident: Incident) -> list[Path]:
    directory = Path(settings.EXPORTS_DIR) / "incidents" / incident.ref
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for report in incident.reports.all():
        path = directory / f"{report.stage}-report.txt"
        path.write_text(report.text, encoding="utf-8")
        written.append(path)
    return written


def run_drill(*, acting_user: Any = None, people: int = 3, touched: int = 2) -> DrillResult:
    """A full incident drill on synthetic accounts (module docstring)."""
    from lingjing.secops.actions import do_close_incident, do_record_incident

    if not 1 <= touched <= people <= len(DRILL_PHONES):
        raise ValueError(f"need 1 <= touched <= people <= {len(DRILL_PHONES)}")
    accounts = drill_people(people, acting_user=acting_user)
    start = timezone.now()  # the window holds the intrusion only, not the drill accounts' creation
    _intrude(accounts[:touched])
    end = timezone.now()
    incident = do_record_incident(
        acting_user=acting_user, drill=True,
        title="【演练】账号被未授权登录", kind=IncidentKind.ATTACK, level=IncidentLevel.SERIOUS,
        scope=IncidentScope.TOUCHED, systems=["accounts"], categories=["identity.phone", "device.session"],
        discovered_at=end, occurred_from=start, occurred_to=end,
        summary="【演练】攻击者利用撞库获得的凭据登录了部分账号，可查看账号绑定的手机号（脱敏）与登录设备信息。",
        impact="可能导致手机号被用于诈骗短信或电话，登录设备信息泄露。",
        measures="已撤销相关登录会话，重置受影响账号的登录状态，并加强登录风险控制。",
        advice="请修改密码，开启身份验证器，警惕冒充平台的短信和电话。",
        remedies="如因本事件受到损失，请联系客服，我们将协助处理并依法承担相应责任。",
        cause="【演练】外部泄露的密码被用于撞库。",
    )
    handled = handle(incident, acting_user=acting_user)
    do_close_incident(incident, acting_user=acting_user)
    incident.refresh_from_db()
    result = DrillResult(incident, accounts, accounts[:touched], handled)
    result.files = write_files(incident)
    return result


def overdue_reports(now: dt.datetime | None = None) -> list[Any]:
    """Reports past their deadline and not submitted (drills included, marked)."""
    from lingjing.secops.models import IncidentReport

    at = now or timezone.now()
    return list(IncidentReport.objects.filter(due_at__lt=at, submitted_at__isnull=True).select_related("incident")
                .order_by("due_at"))
