"""Every write of the security-operations app: ``do_<verb>_<noun>(..., *, acting_user)``, one durable transaction
each, with its audit row inside it. Views, the API, tasks and commands call these.

Audit details hold ids, counts, codes and category names only; a staff member's free-text reason for reading a
person's data is sealed under that person's key (``personal=``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from lingjing.secops import pseudonyms
from lingjing.secops.models import (
    AccessPurpose,
    AffectedPerson,
    DrillSubject,
    EventKind,
    Incident,
    IncidentAnnouncement,
    IncidentNotice,
    IncidentReport,
    IncidentStatus,
    ReportStage,
    SecurityEvent,
    StaffAccessGrant,
    TrainingAcknowledgement,
)
from lingjing.security.audit import AuditEvent, record

# --- risk control -------------------------------------------------------------------------------------------


def do_record_sign_in_assessment(result: Any, *, user: Any, event: SecurityEvent | None, method: str) -> str | None:
    """Log a sign-in assessment: the security-log entry of a step-up or block, and the automated decision about
    the account (``decisions.record_decision``). Answers the decision's id (None without an account)."""
    from lingjing.decisions.service import record_decision
    from lingjing.secops.risk import DECISION_OUTCOME, RULE_VERSION, thresholds

    with transaction.atomic(durable=True):
        if event is not None:
            event.save(force_insert=True)
            record(AuditEvent.RISK_SIGN_IN_ASSESSED, actor="system", subject=user.subject if user is not None else "",
                   details={"outcome": result.outcome, "score": result.score, "points": result.points})
        if user is None:
            return None
        decision = record_decision(
            user, "risk",
            outcome=DECISION_OUTCOME[result.outcome], rule_version=RULE_VERSION,
            explanation_zh=result.explanation("zh"), explanation_en=result.explanation("en"),
            inputs={"score": result.score, "signals": result.counts, "thresholds": list(thresholds()),
                    "method": method[:16]},
            significant=False, object_ref="sign-in",
        )
    return str(decision.pk)


def do_log_sms_refusal(e164: str, ip: str, limit_name: str) -> None:
    """An SMS code request refused by a limit: a possible pumping or enumeration run (signal ``sms_anomaly``)."""
    from lingjing.accounts.models import User
    from lingjing.core.ratelimit import ip_group, ip_network_label
    from lingjing.security.crypto import blind_index

    index = blind_index(e164)
    user = User.objects.filter(phone_index=index).only("id").first()
    with transaction.atomic(durable=True):
        SecurityEvent.objects.create(
            kind=EventKind.SMS_LIMITED, detail=limit_name[:64], outcome="refused",
            actor_key=pseudonyms.actor_key(user, index),
            ip_key=pseudonyms.pseudonym("ip", ip_group(ip)), net_key=pseudonyms.pseudonym("net", ip_network_label(ip)),
        )
        record(AuditEvent.RISK_EVENT_LOGGED, actor="system", subject=user.subject if user is not None else "",
               details={"kind": EventKind.SMS_LIMITED.value, "limit": limit_name[:64]})


def do_log_request_refusal(request: Any, *, kind: str, limit_name: str, user_key: str) -> None:
    """A request refused by a rate limit (logged once a minute per key). For a signed-in account whose own rate
    was impossible or which scraped in bulk, the refusal is also an automated decision about it."""
    from lingjing.accounts.models import User
    from lingjing.decisions.service import record_decision
    from lingjing.secops.risk import channel_of

    ip_key, net_key = pseudonyms.source_keys(request)
    user = None
    if user_key.startswith("u:"):
        user = User.objects.filter(pk=user_key[2:]).first()
    elif user_key.startswith("t:"):
        from lingjing.accounts.models import ApiToken

        token = ApiToken.objects.filter(token_hash=user_key[2:]).select_related("user").first()
        user = token.user if token is not None else None
    with transaction.atomic(durable=True):
        SecurityEvent.objects.create(
            kind=kind, channel=channel_of(request), detail=limit_name[:64], outcome="refused",
            actor_key=pseudonyms.account_key(user.pk) if user is not None else "", ip_key=ip_key, net_key=net_key,
        )
        record(AuditEvent.RISK_EVENT_LOGGED, actor="system", subject=user.subject if user is not None else "",
               details={"kind": kind, "limit": limit_name[:64]})
        if user is not None and kind != EventKind.RATE_LIMITED:
            label = {"impossible_rate": ("请求速率超出正常使用的可能", "requests faster than any person makes them"),
                     "bulk_scraping": ("短时间内读取了大量内容，疑似批量抓取", "bulk reading typical of scraping")}
            zh, en = label.get(kind, ("请求频率超限", "too many requests"))
            record_decision(
                user, "risk", outcome="requests_limited", rule_version="risk-requests-1",
                explanation_zh=f"{zh}（限额 {limit_name}），已暂时拒绝该账号的请求，稍后自动恢复。",
                explanation_en=f"{en} (limit {limit_name}); the account's requests are refused for a while.",
                inputs={"limit": limit_name, "kind": kind}, significant=False, object_ref="requests",
            )


# --- incidents ----------------------------------------------------------------------------------------------

def _next_ref(drill: bool, now: dt.datetime) -> str:
    prefix = f"{'DRILL' if drill else 'SEC'}-{timezone.localtime(now):%Y%m%d}-"
    taken = Incident.objects.filter(ref__startswith=prefix).count()
    return f"{prefix}{taken + 1:03d}"


def do_record_incident(*, acting_user: Any, drill: bool = False, **values: Any) -> Incident:
    """Record an incident; the initial regulator report is drafted in the same transaction (the 4-hour clock
    starts at the discovery time)."""
    from lingjing.secops.incidents import build_report, validate_incident

    validate_incident(values)
    now = timezone.now()
    with transaction.atomic(durable=True):
        incident = Incident(drill=drill, created_by=acting_user if getattr(acting_user, "pk", None) else None,
                            created_at=now, updated_at=now, ref=_next_ref(drill, now), **values)
        incident.save(force_insert=True)
        record(AuditEvent.INCIDENT_RECORDED, acting_user=acting_user, obj=incident,
               details={"ref": incident.ref, "kind": incident.kind, "level": incident.level, "drill": drill,
                        "systems": list(incident.systems), "categories": list(incident.categories)})
        _save_report(incident, ReportStage.INITIAL, build_report(incident, ReportStage.INITIAL), acting_user)
    return incident


def _save_report(incident: Incident, stage: ReportStage, draft: Mapping[str, Any], acting_user: Any) -> IncidentReport:
    """Create or refresh a draft (a submitted report is never rewritten)."""
    report = IncidentReport.objects.filter(incident=incident, stage=stage).first()
    if report is not None and report.submitted_at is not None:
        return report
    if report is None:
        report = IncidentReport(incident=incident, stage=stage)
    report.due_at = draft["due_at"]
    report.content = draft["content"]
    report.text = draft["text"]
    report.drafted_at = timezone.now()
    report.save()
    record(AuditEvent.INCIDENT_REPORT_DRAFTED, acting_user=acting_user, obj=report,
           details={"incident": incident.ref, "stage": stage.value,
                    "due_at": report.due_at.isoformat() if report.due_at else None})
    return report


def do_redraft_reports(incident: Incident, *, acting_user: Any) -> list[IncidentReport]:
    """Refresh every unsubmitted draft from the incident's current facts (affected counts, notices)."""
    from lingjing.secops.incidents import build_report

    with transaction.atomic(durable=True):
        return [
            _save_report(incident, ReportStage(r.stage), build_report(incident, ReportStage(r.stage)), acting_user)
            for r in incident.reports.filter(submitted_at__isnull=True)
        ]


def do_mark_report_submitted(report: IncidentReport, *, acting_user: Any) -> IncidentReport:
    """The security officer confirms the report went to the regulator (the clock stops)."""
    if not (getattr(acting_user, "is_staff", False) and acting_user.has_perm("secops.submit_report")):
        raise PermissionDenied("没有报送监管报告的权限")
    with transaction.atomic(durable=True):
        locked = IncidentReport.objects.select_for_update().select_related("incident").get(pk=report.pk)
        if locked.submitted_at is not None:
            return locked
        locked.submitted_at = timezone.now()
        locked.submitted_by = acting_user
        locked.save(update_fields=["submitted_at", "submitted_by"])
        record(AuditEvent.INCIDENT_REPORT_SUBMITTED, acting_user=acting_user, obj=locked,
               details={"incident": locked.incident.ref, "stage": locked.stage,
                        "late": bool(locked.due_at and locked.submitted_at > locked.due_at)})
    return locked


def do_store_affected(
    incident: Incident, people: Mapping[Any, tuple[Iterable[str], Iterable[str]]], *, unreachable: int,
    acting_user: Any,
) -> int:
    """Store the computed affected people (``user id -> (sources, categories)``). Recomputing only adds: a person
    once told about an incident stays on its record. Answers how many rows were added."""
    now = timezone.now()
    added = 0
    with transaction.atomic(durable=True):
        locked = Incident.objects.select_for_update().get(pk=incident.pk)
        known = set(AffectedPerson.objects.filter(incident=locked).values_list("person_id", flat=True))
        batch = [
            AffectedPerson(incident=locked, person_id=uid, sources=sorted(set(src)), categories=sorted(set(cats)),
                           created_at=now)
            for uid, (src, cats) in people.items()
            if uid not in known
        ]
        AffectedPerson.objects.bulk_create(batch, batch_size=1000)
        added = len(batch)
        locked.affected_count = AffectedPerson.objects.filter(incident=locked).count()
        locked.unreachable_count = unreachable
        locked.affected_computed_at = now
        locked.updated_at = now
        locked.save(update_fields=["affected_count", "unreachable_count", "affected_computed_at", "updated_at"])
        record(AuditEvent.INCIDENT_AFFECTED_COMPUTED, acting_user=acting_user, obj=locked,
               details={"incident": locked.ref, "added": added, "affected": locked.affected_count,
                        "unreachable": unreachable})
        incident.affected_count, incident.unreachable_count = locked.affected_count, unreachable
        incident.affected_computed_at = now
    return added


def do_send_incident_notice(incident: Incident, affected: AffectedPerson, *, acting_user: Any) -> list[IncidentNotice]:
    """Tell one affected person (PIPL art. 57) on every channel they have. Idempotent: a person already told
    is not told twice. The notice text and the deliveries commit together with their audit row."""
    from lingjing.secops.notices import send_to_person

    with transaction.atomic(durable=True):
        if IncidentNotice.objects.filter(incident=incident, person_id=affected.person_id).exists():
            return []
        rows = send_to_person(incident, affected)
        IncidentNotice.objects.bulk_create(rows)
        record(AuditEvent.INCIDENT_NOTICE_SENT, acting_user=acting_user,
               subject=f"u:{affected.person_id}" if affected.person_id else "", obj=incident,
               details={"incident": incident.ref, "drill": incident.drill,
                        "channels": {r.channel: r.status for r in rows}})
    return rows


def do_track_deliveries(incident: Incident, updates: Mapping[Any, tuple[str, str, Any]]) -> int:
    """Copy the outcome of outward deliveries (``notice id -> (status, error, sent_at)``) onto the notices."""
    if not updates:
        return 0
    with transaction.atomic(durable=True):
        for notice_id, (status, error, sent_at) in updates.items():
            IncidentNotice.objects.filter(pk=notice_id).update(status=status, error=error[:64], sent_at=sent_at)
        record(AuditEvent.INCIDENT_DELIVERY_TRACKED, actor="system", obj=incident,
               details={"incident": incident.ref, "updated": len(updates)})
    return len(updates)


def do_publish_incident_announcement(incident: Incident, *, reason: str, acting_user: Any) -> IncidentAnnouncement:
    """Publish the public announcement (the fallback when telling each person is impractical).

    1. Record it on the incident (its public page ``/security/incidents/<ref>`` shows it from then on).
    2. Put it on the site through the ``notify`` app's announcements (banner and every inbox), in that app's own
       transaction; calling again retries a step 2 that did not happen. A drill's announcement never goes live.
    """
    from lingjing.secops.notices import announcement_text, publish_announcement

    with transaction.atomic(durable=True):
        row = IncidentAnnouncement.objects.filter(incident=incident).first()
        if row is None:
            row = IncidentAnnouncement(incident=incident, reason=reason[:120], **announcement_text(incident))
            row.save(force_insert=True)
            record(AuditEvent.INCIDENT_ANNOUNCEMENT_PUBLISHED, acting_user=acting_user, obj=incident,
                   details={"incident": incident.ref, "drill": incident.drill, "reason": reason[:120], "live": False})
    if incident.drill or row.announcement_ref:
        return row
    ref = publish_announcement(row, acting_user=acting_user)
    if ref:
        with transaction.atomic(durable=True):
            IncidentAnnouncement.objects.filter(pk=row.pk).update(announcement_ref=ref)
            record(AuditEvent.INCIDENT_ANNOUNCEMENT_PUBLISHED, acting_user=acting_user, obj=incident,
                   details={"incident": incident.ref, "live": True, "announcement": ref})
        row.announcement_ref = ref
    return row


def do_close_incident(incident: Incident, *, acting_user: Any) -> IncidentReport:
    """Handling is over: the 30-day summary report's clock starts; its draft is written at once."""
    from lingjing.secops.incidents import build_report

    with transaction.atomic(durable=True):
        locked = Incident.objects.select_for_update().get(pk=incident.pk)
        if locked.status != IncidentStatus.CLOSED:
            locked.status = IncidentStatus.CLOSED
            locked.closed_at = timezone.now()
            locked.updated_at = locked.closed_at
            locked.save(update_fields=["status", "closed_at", "updated_at"])
            record(AuditEvent.INCIDENT_CLOSED, acting_user=acting_user, obj=locked, details={"incident": locked.ref})
        report = _save_report(locked, ReportStage.SUMMARY, build_report(locked, ReportStage.SUMMARY), acting_user)
    incident.status, incident.closed_at = locked.status, locked.closed_at
    return report


def do_add_drill_subject(user: Any, *, acting_user: Any) -> DrillSubject:
    with transaction.atomic(durable=True):
        row, created = DrillSubject.objects.get_or_create(user=user)
        if created:
            record(AuditEvent.INCIDENT_DRILL_SUBJECT_ADDED, acting_user=acting_user, subject=user.subject, obj=row)
    return row


# --- staff access -------------------------------------------------------------------------------------------


def do_grant_staff_access(
    staff: Any, subject_user: Any, *, purpose: str, reason: str, reference: str = "", acting_user: Any,
) -> StaffAccessGrant:
    """A staff member states why they need to see one person's data; the grant lasts
    ``LINGJING_STAFF_ACCESS_MINUTES``. Only staff with ``secops.read_personal`` may ask, never about themselves."""
    if acting_user is None or acting_user.pk != staff.pk:
        raise PermissionDenied("只能为自己申请查看权限")
    if not (staff.is_staff and staff.has_perm("secops.read_personal")):
        raise PermissionDenied("没有查看个人信息的权限")
    if staff.pk == subject_user.pk:
        raise PermissionDenied("请通过隐私中心查看自己的个人信息")
    if purpose not in AccessPurpose.values:
        raise ValidationError({"purpose": ["请选择查看用途"]})
    text = (reason or "").strip()
    if len(text) < 4:
        raise ValidationError({"reason": ["请写明具体用途（例如工单号和需要核实的内容）"]})
    now = timezone.now()
    with transaction.atomic(durable=True):
        grant = StaffAccessGrant(
            staff=staff, subject=subject_user, purpose=purpose, reference=reference.strip()[:64], granted_at=now,
            expires_at=now + dt.timedelta(minutes=settings.LINGJING_STAFF_ACCESS_MINUTES),
        )
        grant.reason = text[:1000]
        grant.save(force_insert=True)
        record(AuditEvent.STAFF_ACCESS_GRANTED, acting_user=acting_user, subject=subject_user.subject, obj=grant,
               details={"purpose": purpose, "reference": grant.reference,
                        "minutes": settings.LINGJING_STAFF_ACCESS_MINUTES},
               personal={"reason": grant.reason})
    return grant


def do_log_personal_read(grant: StaffAccessGrant, *, fields: list[str], records: int, acting_user: Any) -> None:
    """Record what a staff member just saw under a grant (fields, count), in the grant and the audit log."""
    with transaction.atomic(durable=True):
        locked = StaffAccessGrant.objects.select_for_update().get(pk=grant.pk)
        locked.fields_viewed = sorted(set(locked.fields_viewed) | set(fields))
        locked.save(update_fields=["fields_viewed"])
        StaffAccessGrant.objects.filter(pk=grant.pk).update(reads=F("reads") + 1)
        record(AuditEvent.STAFF_PERSONAL_READ, acting_user=acting_user, subject=f"u:{locked.subject_id}", obj=locked,
               details={"purpose": locked.purpose, "fields": sorted(set(fields)), "records": records})


def do_acknowledge_training(staff: Any, *, version: str, acting_user: Any) -> TrainingAcknowledgement:
    if acting_user is None or acting_user.pk != staff.pk:
        raise PermissionDenied("培训确认只能由本人完成")
    with transaction.atomic(durable=True):
        row = TrainingAcknowledgement.objects.create(staff=staff, version=version)
        record(AuditEvent.STAFF_TRAINING_ACKNOWLEDGED, acting_user=acting_user, subject=staff.subject, obj=row,
               details={"version": version})
    return row


def do_verify_console(staff: Any, *, step: int, acting_user: Any) -> None:
    """A staff member proved their authenticator code to open the console (the time step is claimed once)."""
    from lingjing.accounts.actions import _claim_totp_step

    with transaction.atomic(durable=True):
        _claim_totp_step(staff, step)
        record(AuditEvent.STAFF_CONSOLE_VERIFIED, acting_user=acting_user, subject=staff.subject,
               details={"method": "totp"})


def do_record_staff_session_expiry(staff: Any, *, reason: str) -> None:
    with transaction.atomic(durable=True):
        record(AuditEvent.STAFF_SESSION_EXPIRED, actor="system", subject=staff.subject, details={"reason": reason})
