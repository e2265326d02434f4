"""Incident handling: who is affected, and the reports to the regulator.

Affected people (:func:`compute_affected`)
------------------------------------------
An incident names the systems (app labels) and the categories of personal data involved. The registry says which
models of those systems hold those categories (:func:`models_involved`); then:

* scope ``stored`` (the data at rest was exposed): everyone with a row of those models whose category fields hold
  a value and whose data existed by the end of the incident window (the row's retention clock). Erased accounts
  are left out: their rows were deleted or anonymised, and their keys destroyed;
* scope ``touched`` (only what was read or changed): everyone the audit log names as the subject of an entry
  about a row of those models within the incident window. People erased since cannot be told individually and
  are counted as unreachable.

Drill incidents only ever consider drill accounts (:class:`~lingjing.secops.models.DrillSubject`); real incidents
never consider them.

Reports (:func:`build_report`)
------------------------------
国家网络安全事件报告管理办法 (in force from 1 November 2025): an operator reports a 较大 (serious) or graver
incident to the provincial cyberspace administration within 4 hours of discovering it; PIPL art. 57 asks for the
regulator to be told of any personal-information incident at once. So the initial report is drafted as soon as the
incident is recorded, due 4 hours (``LINGJING_INCIDENT_REPORT_HOURS``) after discovery whenever the incident is
serious or graver or involves personal data; a general incident without personal data has no deadline. After
handling ends, the summary report (cause, measures, harm, accountability, remediation, lessons) is due within
30 days (``LINGJING_INCIDENT_SUMMARY_DAYS``). Drafts are regenerated from the current facts until submitted.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from lingjing.privacy.registry import CATEGORIES, Declaration, declarations
from lingjing.secops.models import (
    AffectedPerson,
    DrillSubject,
    Incident,
    IncidentKind,
    IncidentLevel,
    IncidentNotice,
    IncidentScope,
    NoticeStatus,
    ReportStage,
)

SERIOUS_OR_GRAVER = (IncidentLevel.EXTRAORDINARY, IncidentLevel.MAJOR, IncidentLevel.SERIOUS)

# Reference thresholds of the grading guide for personal information leaked (people): a suggestion shown in the
# draft; the security officer decides the level.
LEVEL_BY_PEOPLE: tuple[tuple[int, IncidentLevel], ...] = (
    (100_000_000, IncidentLevel.EXTRAORDINARY),
    (10_000_000, IncidentLevel.MAJOR),
    (1_000_000, IncidentLevel.SERIOUS),
)


def suggested_level(people: int) -> IncidentLevel:
    return next((level for floor, level in LEVEL_BY_PEOPLE if people >= floor), IncidentLevel.GENERAL)


def system_choices() -> list[tuple[str, str]]:
    """Apps that hold personal data, as (label, verbose name)."""
    return [(label, str(apps.get_app_config(label).verbose_name)) for label in settings.LINGJING_PERSONAL_DATA_APPS
            if apps.is_installed(apps.get_app_config(label).name)]


def validate_incident(values: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    if values.get("kind") not in IncidentKind.values:
        errors["kind"] = ["请选择事件类型"]
    if values.get("level") not in IncidentLevel.values:
        errors["level"] = ["请选择事件级别"]
    if values.get("scope", IncidentScope.STORED) not in IncidentScope.values:
        errors["scope"] = ["请选择影响范围"]
    unknown = [c for c in values.get("categories", []) if c not in CATEGORIES]
    if unknown:
        errors["categories"] = [f"未知的个人信息类别：{'、'.join(unknown)}"]
    known_apps = {label for label, _ in system_choices()}
    bad = [s for s in values.get("systems", []) if s not in known_apps]
    if bad:
        errors["systems"] = [f"未知的系统：{'、'.join(bad)}"]
    start, end, found = values.get("occurred_from"), values.get("occurred_to"), values.get("discovered_at")
    if start and end and start > end:
        errors["occurred_to"] = ["结束时间不能早于开始时间"]
    if start and found and found < start:
        errors["discovered_at"] = ["发现时间不能早于发生时间"]
    for name in ("title", "summary", "impact", "measures"):
        if name in values and not str(values[name]).strip():
            errors[name] = ["必填"]
    if errors:
        raise ValidationError(errors)


# --- affected people ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Involved:
    decl: Declaration
    fields: tuple[str, ...]  # the fields holding the incident's categories
    categories: tuple[str, ...]


def models_involved(systems: Iterable[str], categories: Iterable[str]) -> list[Involved]:
    """Declarations of the named systems (all when none) with a subject path and fields of the categories."""
    wanted, in_systems = set(categories), set(systems)
    found = []
    for decl in declarations():
        if not (decl.subject or decl.subject_ref):
            continue
        if in_systems and decl.model._meta.app_label not in in_systems:
            continue
        names = tuple(n for n, pd in decl.fields.items() if pd.category in wanted)
        if names:
            cats = tuple(sorted({decl.fields[n].category for n in names}))
            found.append(Involved(decl, names, cats))
    return found


def _holding(decl: Declaration, names: Iterable[str]) -> Q:
    """Rows where at least one of the fields holds a value."""
    from django.db import models as dj

    from lingjing.security.crypto import SealedField

    q = Q(pk__in=[])
    for name in names:
        f = decl.model._meta.get_field(name)
        cond = Q(**{f"{f.attname}__isnull": False})  # type: ignore[union-attr]
        if isinstance(f, dj.CharField | dj.TextField) and not isinstance(f, SealedField):
            cond &= ~Q(**{f.attname: ""})
        q |= cond
    return q


def _subjects_of(decl: Declaration, rows: Any) -> Iterator[uuid.UUID]:
    if decl.subject == "self":
        yield from rows.values_list("pk", flat=True).iterator(chunk_size=2000)
    elif decl.subject:
        column = f"{decl.subject}_id"
        yield from (v for v in rows.exclude(**{f"{column}__isnull": True}).values_list(column, flat=True)
                    .distinct().iterator(chunk_size=2000))
    elif decl.subject_ref:
        for ref in rows.values_list(decl.subject_ref, flat=True).distinct().iterator(chunk_size=2000):
            if ref and ref.startswith("u:"):
                try:
                    yield uuid.UUID(ref[2:])
                except ValueError:
                    continue


@dataclass
class AffectedResult:
    people: dict[Any, tuple[set[str], set[str]]] = field(default_factory=dict)  # user id -> (sources, categories)
    unreachable: int = 0

    def add(self, uid: Any, source: str, categories: Iterable[str]) -> None:
        sources, cats = self.people.setdefault(uid, (set(), set()))
        sources.add(source)
        cats.update(categories)


def compute_affected(incident: Incident) -> AffectedResult:
    """The people the incident involves (module docstring). Nothing is written."""
    from lingjing.accounts.models import User, UserStatus
    from lingjing.privacy.retention import clock_of
    from lingjing.security.audit_models import AuditEntry

    result = AffectedResult()
    involved = models_involved(incident.systems, incident.categories)
    if incident.scope == IncidentScope.STORED:
        for item in involved:
            rows = item.decl.model._base_manager.filter(_holding(item.decl, item.fields))
            clock = clock_of(item.decl.model)
            if len(clock) == 1:
                rows = rows.filter(**{f"{clock[0]}__lte": incident.occurred_to})
            for uid in _subjects_of(item.decl, rows):
                result.add(uid, f"registry:{item.decl.label}", item.categories)
    else:
        by_type = {item.decl.model._meta.label_lower: item for item in involved}
        entries = (
            AuditEntry.objects.filter(at__gte=incident.occurred_from, at__lte=incident.occurred_to,
                                      object_type__in=list(by_type), subject__startswith="u:")
            .values_list("object_type", "subject").distinct()
        )
        for object_type, subject in entries.iterator(chunk_size=2000):
            try:
                uid = uuid.UUID(subject[2:])
            except ValueError:
                continue
            item = by_type[object_type]
            result.add(uid, f"audit:{item.decl.label}", item.categories)
    drill_ids = set(DrillSubject.objects.values_list("user_id", flat=True))
    if incident.drill:
        result.people = {uid: v for uid, v in result.people.items() if uid in drill_ids}
    else:
        result.people = {uid: v for uid, v in result.people.items() if uid not in drill_ids}
    erased = set(
        User.objects.filter(pk__in=list(result.people), status=UserStatus.ERASED).values_list("pk", flat=True)
    )
    if incident.scope == IncidentScope.STORED:
        result.people = {uid: v for uid, v in result.people.items() if uid not in erased}
    else:
        result.unreachable = len(erased)
    return result


def refresh_affected(incident: Incident, *, acting_user: Any) -> int:
    """Compute and store the affected people; the drafts are refreshed with the new counts."""
    from lingjing.secops.actions import do_redraft_reports, do_store_affected

    result = compute_affected(incident)
    added = do_store_affected(incident, result.people, unreachable=result.unreachable, acting_user=acting_user)
    do_redraft_reports(incident, acting_user=acting_user)
    return added


# --- reports ------------------------------------------------------------------------------------------------


def report_due(incident: Incident, stage: ReportStage) -> dt.datetime | None:
    if stage == ReportStage.SUMMARY:
        end = incident.closed_at or timezone.now()
        return end + dt.timedelta(days=settings.LINGJING_INCIDENT_SUMMARY_DAYS)
    if incident.level in SERIOUS_OR_GRAVER or incident.categories:
        return incident.discovered_at + dt.timedelta(hours=settings.LINGJING_INCIDENT_REPORT_HOURS)
    return None


def notice_counts(incident: Incident) -> dict[str, Any]:
    notices = IncidentNotice.objects.filter(incident=incident)
    told = notices.exclude(status=NoticeStatus.UNREACHABLE).values("person_id").distinct().count()
    by_channel: dict[str, dict[str, int]] = {}
    for channel, status in notices.values_list("channel", "status"):
        by_channel.setdefault(channel, {}).setdefault(status, 0)
        by_channel[channel][status] += 1
    return {"people_told": told, "by_channel": by_channel}


def _local(at: dt.datetime) -> str:
    """Beijing time, as a regulator reads it: ``2026-11-29 18:23``."""
    return timezone.localtime(at).strftime("%Y-%m-%d %H:%M")


def build_report(incident: Incident, stage: ReportStage) -> dict[str, Any]:
    """The draft: structured content (kept with the report) and its text (Chinese, the regulator's language)."""
    from lingjing.secops.models import IncidentAnnouncement

    categories = list(incident.categories)
    sensitive = [c for c in categories if CATEGORIES[c].sensitive]
    systems = dict(system_choices())
    affected = AffectedPerson.objects.filter(incident=incident).count()
    announcement = IncidentAnnouncement.objects.filter(incident=incident).first()
    content = {
        "stage": stage.value,
        "ref": incident.ref,
        "drill": incident.drill,
        "controller": settings.LINGJING_CONTROLLER["name"],
        "contact": settings.LINGJING_SECURITY_CONTACT,
        "title": incident.title,
        "kind": incident.get_kind_display(),
        "level": incident.get_level_display(),
        "suggested_level": suggested_level(affected).label,
        "discovered_at": _local(incident.discovered_at),
        "occurred_from": _local(incident.occurred_from),
        "occurred_to": _local(incident.occurred_to),
        "systems": [systems.get(s, s) for s in incident.systems],
        "categories": [CATEGORIES[c].label.zh for c in categories],
        "sensitive_categories": [CATEGORIES[c].label.zh for c in sensitive],
        "affected": affected,
        "unreachable": incident.unreachable_count,
        "affected_computed": incident.affected_computed_at is not None,
        "notices": notice_counts(incident),
        "announcement": bool(announcement),
        "summary": incident.summary,
        "impact": incident.impact,
        "measures": incident.measures,
        "advice": incident.advice,
        "cause": incident.cause,
        "status": incident.get_status_display(),
        "closed_at": _local(incident.closed_at) if incident.closed_at else "",
    }
    due = report_due(incident, stage)
    content["due_at"] = _local(due) if due else ""
    template = "secops/report_initial.txt" if stage == ReportStage.INITIAL else "secops/report_summary.txt"
    text = render_to_string(template, {"c": content})
    return {"due_at": due, "content": content, "text": text.strip() + "\n"}
