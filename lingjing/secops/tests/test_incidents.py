"""Incidents: affected people from the registry and the audit log, regulator drafts with their clocks, PIPL art. 57
notices on every channel with delivery tracking, the public announcement, and the drill."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone

from lingjing.core.outbox import read_jsonl
from lingjing.secops.actions import do_mark_report_submitted, do_record_incident
from lingjing.secops.drill import handle, run_drill
from lingjing.secops.incidents import compute_affected, models_involved
from lingjing.secops.models import (
    AffectedPerson,
    DrillSubject,
    IncidentAnnouncement,
    IncidentNotice,
    NoticeStatus,
    ReportStage,
)
from lingjing.secops.tests.conftest import browser
from lingjing.security.audit_models import AuditEntry

pytestmark = pytest.mark.django_db


def _facts(**extra: Any) -> dict[str, Any]:
    now = timezone.now()
    facts: dict[str, Any] = {
        "title": "登录服务异常访问", "kind": "attack", "level": "serious", "scope": "stored",
        "systems": ["accounts"], "categories": ["identity.phone"],
        "discovered_at": now, "occurred_from": now - dt.timedelta(hours=2), "occurred_to": now,
        "summary": "数据库只读副本被未授权访问。", "impact": "手机号可能被用于骚扰或诈骗。",
        "measures": "已关闭副本的外部访问并轮换凭据。",
    }
    facts.update(extra)
    return facts


def _notified_numbers() -> set[str]:
    return {m["to"] for m in read_jsonl("sms.jsonl") if "安全事件" in m.get("text", "")}


def test_an_incident_drill_produces_the_regulator_draft_and_notifies_exactly_the_affected(
    alice: Any, bob: Any, officer: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):  # the notify worker sends after commit
        result = run_drill(acting_user=officer, people=3, touched=2)
    incident = result.incident
    assert incident.drill and incident.ref.startswith("DRILL-")
    touched = {u.pk for u in result.touched}
    assert set(AffectedPerson.objects.filter(incident=incident).values_list("person_id", flat=True)) == touched
    assert result.handled.affected == 2 and result.handled.notified == 2 and not result.handled.announcement

    # notices: exactly the two people the intruder reached, on every channel they have, marked as a drill
    notices = IncidentNotice.objects.filter(incident=incident)
    assert {n.person_id for n in notices} == touched
    assert {(n.channel, n.status, n.error) for n in notices} == {
        ("inbox", NoticeStatus.SENT, ""), ("sms", NoticeStatus.SENT, ""),  # SMS: the development outbox only
        ("email", NoticeStatus.UNREACHABLE, "drill_outward_suppressed")}
    phones = {u.phone for u in result.touched}
    assert _notified_numbers() == phones
    texts = [m["text"] for m in read_jsonl("sms.jsonl") if m["to"] in phones and "安全事件" in m["text"]]
    assert all("【演练】" in t and "手机号码" in t for t in texts)
    from lingjing.notify.models import Notification

    inbox = Notification.objects.filter(user_id__in=touched, template="security.incident")
    assert inbox.count() == 2 and all("【演练】" in (n.body or "") for n in inbox)
    assert not Notification.objects.filter(user__in=[alice, bob, result.drill_people[2]]).exists()

    # the regulator drafts: the initial report due 4 hours after discovery, the 30-day summary after closing
    initial = incident.reports.get(stage=ReportStage.INITIAL)
    assert initial.due_at is not None
    assert abs((initial.due_at - incident.discovered_at) - dt.timedelta(hours=4)) < dt.timedelta(seconds=1)
    for needle in ("【演练，非真实事件，请勿报送】", "网络安全事件报告（初次报告）", "网络攻击事件", "较大",
                   "受影响的个人：2 人", "已告知 2 人", "手机号码", "发现后 4 小时内"):
        assert needle in initial.text, needle
    summary = incident.reports.get(stage=ReportStage.SUMMARY)
    assert incident.closed_at is not None and summary.due_at == incident.closed_at + dt.timedelta(days=30)
    assert "总结报告" in summary.text and "处置结束后 30 日内" in summary.text
    assert {p.name for p in result.files} == {"initial-report.txt", "summary-report.txt"}
    assert DrillSubject.objects.count() == 3
    audit = set(AuditEntry.objects.filter(object_id=str(incident.pk)).values_list("event", flat=True))
    assert {"incident.recorded", "incident.affected_computed", "incident.notice_sent", "incident.closed"} <= audit


def test_a_second_drill_reuses_the_drill_accounts_and_tells_nobody_twice(officer: Any) -> None:
    first = run_drill(acting_user=officer, people=2, touched=1)
    handle(first.incident, acting_user=officer)  # handling again sends nothing new
    assert IncidentNotice.objects.filter(incident=first.incident).values("person").distinct().count() == 1
    second = run_drill(acting_user=officer, people=2, touched=2)
    assert {u.pk for u in second.drill_people} == {u.pk for u in first.drill_people}
    assert second.handled.notified == 2


def test_stored_scope_finds_everyone_holding_the_categories_and_never_drill_accounts(
    alice: Any, bob: Any, officer: Any
) -> None:
    run_drill(acting_user=officer, people=1, touched=1)
    incident = do_record_incident(acting_user=officer, **_facts())
    found = compute_affected(incident)
    people = set(found.people)
    assert {alice.pk, bob.pk, officer.pk} <= people
    assert not people & set(DrillSubject.objects.values_list("user_id", flat=True))
    sources, categories = found.people[alice.pk]
    assert "registry:accounts.User" in sources and categories == {"identity.phone"}
    labels = {item.decl.label for item in models_involved(["accounts"], ["identity.phone"])}
    assert labels == {"accounts.User", "accounts.SmsCode"}


def test_touched_scope_uses_the_audit_window_and_counts_the_erased_as_unreachable(
    alice: Any, bob: Any, carol: Any, officer: Any
) -> None:
    from lingjing.accounts.actions import do_update_profile
    from lingjing.privacy.engines import erase_person

    start = timezone.now()
    do_update_profile(alice, nickname="爱丽丝二号", acting_user=alice)
    do_update_profile(bob, nickname="鲍勃二号", acting_user=bob)
    end = timezone.now()
    do_update_profile(carol, nickname="卡罗尔二号", acting_user=carol)  # after the window
    erase_person(bob.pk)
    incident = do_record_incident(acting_user=officer, **_facts(
        scope="touched", categories=["profile.nickname"], occurred_from=start, occurred_to=end, discovered_at=end))
    done = handle(incident, acting_user=officer)
    assert set(AffectedPerson.objects.filter(incident=incident).values_list("person_id", flat=True)) == {
        alice.pk, bob.pk}
    assert done.notified == 1 and done.unreachable == 1 and done.announcement
    bob_notice = IncidentNotice.objects.get(incident=incident, person=bob)
    assert bob_notice.status == NoticeStatus.UNREACHABLE and bob_notice.error == "no_account"
    announcement = IncidentAnnouncement.objects.get(incident=incident)
    assert announcement.announcement_ref  # live on the site through the notify app
    assert "1 人无法通过站外渠道逐一告知" in announcement.reason
    public = browser().get(f"/security/incidents/{incident.ref}").content.decode()
    assert "发生了什么" in public and "昵称" in public and "联系我们" in public


def test_an_unsubmitted_report_becomes_overdue_after_four_hours(officer: Any) -> None:
    incident = do_record_incident(acting_user=officer, **_facts())
    report = incident.reports.get(stage=ReportStage.INITIAL)
    assert not report.overdue()
    with time_machine.travel(timezone.now() + dt.timedelta(hours=4, minutes=1)):
        assert report.overdue()
        with pytest.raises(CommandError, match="1 report"):
            call_command("incident", "status", stdout=io.StringIO())
        page = browser(officer).get(f"/secops/incidents/{incident.pk}/").content.decode()
        assert "已超时" in page
        do_mark_report_submitted(report, acting_user=officer)
        out = io.StringIO()
        call_command("incident", "status", stdout=out)
    report.refresh_from_db()
    assert report.submitted_at is not None and not report.overdue()
    assert AuditEntry.objects.get(event="incident.report_submitted").details["late"] is True


def test_a_general_incident_without_personal_data_has_no_clock(officer: Any) -> None:
    incident = do_record_incident(acting_user=officer, **_facts(level="general", categories=[]))
    report = incident.reports.get(stage=ReportStage.INITIAL)
    assert report.due_at is None and "不要求限时报告" in report.text


def test_the_officer_records_and_handles_an_incident_in_the_console(
    alice: Any, officer: Any, agent: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client = browser(officer)
    now = timezone.localtime()
    start, end = now.strftime("%Y-%m-%dT%H:%M"), (now + dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
    form = {"title": "短信验证码接口被刷", "kind": "attack", "level": "general", "scope": "stored",
            "systems": ["accounts"], "categories": ["identity.phone"], "discovered_at": end, "occurred_from": start,
            "occurred_to": end, "summary": "验证码接口遭到批量调用。", "impact": "可能暴露号码是否注册。",
            "measures": "已收紧频率限制。"}
    created = client.post("/secops/incidents/new", form)
    assert created.status_code == 302
    page = client.get(created["Location"]).content.decode()
    assert "截止时间" in page and "短信验证码接口被刷" in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(created["Location"], {"action": "handle"})
    assert alice.phone in _notified_numbers()
    sms = IncidentNotice.objects.get(person=alice, channel="sms")
    assert sms.status == NoticeStatus.PENDING and sms.delivery_ref  # handed to the notify worker
    assert "sent: " in client.get(created["Location"]).content.decode()  # the page tracks the deliveries
    sms.refresh_from_db()
    assert sms.status == NoticeStatus.SENT and sms.sent_at is not None
    assert browser(agent).get(created["Location"]).status_code == 404  # support agents do not handle incidents
    assert browser(agent).get("/secops/incidents/new").status_code == 404
    overview = client.get("/secops/").content.decode()
    assert "处置中的事件" in overview and "短信验证码接口被刷" in overview


def test_the_drill_command_prints_the_drill_and_its_deadlines(db: None) -> None:
    out = io.StringIO()
    call_command("incident", "drill", "--people", "2", "--touched", "1", stdout=out)
    text = out.getvalue()
    assert "1 affected of 2 drill accounts, 1 notified" in text and "due" in text and "initial-report.txt" in text
