"""Retention: every registry rule enforced by an idempotent, chunked purge (``lingjing retention run``)."""

from __future__ import annotations

import datetime as dt
import io
import os
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from lingjing.privacy import retention
from lingjing.secops.models import SECURITY_LOG_DAYS, EventKind, RetentionRun, SecurityEvent
from lingjing.secops.tests.conftest import ALICE_PHONE, BOB_PHONE, PASSWORD, login_api, make_member
from lingjing.security.audit_models import AuditEntry

pytestmark = pytest.mark.django_db


def _populate(alice: Any, bob: Any, officer: Any) -> dict[str, Any]:
    """Rows in every corner the purge has to reach: sign-ins, codes, sessions, decisions, sealed audit details,
    the security log, an incident drill, analytics, an export package, a pending child, an erased person."""
    from lingjing.consent.models import AnalyticsEvent, AnalyticsSecret
    from lingjing.privacy.engines import erase_person
    from lingjing.secops.actions import do_grant_staff_access
    from lingjing.secops.drill import run_drill

    web = Client(REMOTE_ADDR="203.0.113.80")
    web.post("/accounts/login/", {"tab": "password", "action": "login", "phone": ALICE_PHONE, "password": PASSWORD})
    login_api(Client(), ALICE_PHONE, password=PASSWORD)
    login_api(Client(), BOB_PHONE, password="wrong password")
    Client().post("/api/v1/auth/sms-code", {"phone": ALICE_PHONE, "purpose": "login"},
                  content_type="application/json")
    do_grant_staff_access(officer, alice, purpose="incident", reason="核查异常登录", acting_user=officer)
    run_drill(acting_user=officer, people=2, touched=1)
    today = timezone.localdate()
    AnalyticsEvent.objects.create(day=today, kind="pageview", route="/", pseudonym="x" * 32)
    AnalyticsSecret.objects.create(day=today, secret="s" * 64)
    from lingjing.privacy.requests.models import RightsRequest

    package = Path(settings.EXPORTS_DIR) / "copies" / "copy-1.zip"  # an operator's export, kept 7 days
    package.parent.mkdir(parents=True, exist_ok=True)
    package.write_bytes(b"PK")
    copy = Path(settings.EXPORTS_DIR) / "copy-alice.zip"  # a rights request's copy package, its link 7 days
    copy.write_bytes(b"PK")
    RightsRequest.objects.create(user=alice, type="copy", due_at=timezone.now(), package_name=copy.name,
                                 package_expires_at=timezone.now() + dt.timedelta(days=7))
    kid = make_member("+8613912357777", "小孩", birth_date=today.replace(year=today.year - 9),
                      guardian_phone="+8613912357778")
    erase_person(bob.pk)
    return {"package": package, "copy": copy, "kid": kid}


def test_moving_the_clock_past_every_limit_leaves_nothing_overdue_and_a_second_run_changes_nothing(
    alice: Any, bob: Any, officer: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from lingjing.accounts.models import ApiToken, SmsCode, User, UserSession
    from lingjing.decisions.models import Decision
    from lingjing.security.audit_chain import verify

    settings.LINGJING_RETENTION_EXPORT_DIRS = ["copies"]
    made = _populate(alice, bob, officer)
    entries = set(AuditEntry.objects.values_list("id", flat=True))
    assert AuditEntry.objects.exclude(sealed=None).exists()
    assert retention.overdue() == {}  # nothing is past its limit yet

    with time_machine.travel(timezone.now() + dt.timedelta(days=4 * 366), tick=False):
        before = retention.overdue()
        assert {"accounts.SmsCode", "accounts.ApiToken", "decisions.Decision", "secops.SecurityEvent",
                "security.AuditEntry", "sessions", "exports", "privacy.copy_packages", "consent.analytics",
                "accounts.pending_children"} <= set(before)
        with django_capture_on_commit_callbacks(execute=True):
            report = retention.run()
        assert retention.overdue() == {}
        again = retention.run()
        assert again.total == 0 and again.removed == again.cleared == again.extra == {} and not again.erasures

    assert report.removed["secops.SecurityEvent"] >= 4 and report.removed["accounts.SmsCode"] >= 1
    assert report.cleared["security.AuditEntry"] >= 1
    assert not SmsCode.objects.exists() and not ApiToken.objects.exists() and not UserSession.objects.exists()
    assert not Decision.objects.exists() and not SecurityEvent.objects.exists()
    # the audit chain keeps every row, without the personal details, and still verifies
    assert AuditEntry.objects.filter(event__in=["retention.purged"]).exists()
    assert entries <= set(AuditEntry.objects.values_list("id", flat=True))
    assert not AuditEntry.objects.exclude(sealed=None).exists()
    assert verify().ok
    assert not made["package"].exists() and not made["copy"].exists()
    assert User.objects.get(pk=made["kid"].pk).status == "erased"
    alice.refresh_from_db()
    assert alice.phone == ALICE_PHONE and alice.status == "active"  # the account itself lives on
    runs = list(RetentionRun.objects.order_by("started_at"))
    assert len(runs) == 2 and runs[0].total == report.total and runs[1].total == 0


def test_the_security_log_is_kept_six_months_and_then_purged(alice: Any) -> None:
    login_api(Client(), ALICE_PHONE, password="wrong password")
    start = timezone.now()
    with time_machine.travel(start + dt.timedelta(days=183), tick=False):
        retention.run()
        assert SecurityEvent.objects.filter(kind=EventKind.SIGN_IN_FAILED).count() == 1
    with time_machine.travel(start + dt.timedelta(days=SECURITY_LOG_DAYS, minutes=1), tick=False):
        report = retention.run()
    assert report.removed.get("secops.SecurityEvent") == 1 and not SecurityEvent.objects.exists()


def test_kept_rows_of_an_erased_person_go_when_the_hold_ends(alice: Any, bob: Any) -> None:
    from lingjing.consent.actions import do_set_consent
    from lingjing.consent.models import ConsentRecord, Method
    from lingjing.privacy.engines import erase_person

    login_api(Client(), BOB_PHONE, password=PASSWORD)
    do_set_consent(bob, "marketing", True, method=Method.SETTINGS, acting_user=bob)
    assert ConsentRecord.objects.filter(user=bob).exists()
    erase_person(bob.pk)
    kept = AuditEntry.objects.filter(subject=f"u:{bob.pk}").count()
    with time_machine.travel(timezone.now() + dt.timedelta(days=1096), tick=False):
        overdue = retention.overdue()
        assert overdue["consent.ConsentRecord"] >= 1  # held 1,095 days after the erasure, then purged
        assert "decisions.Decision" not in overdue  # held 1,098 days
        retention.run()
        assert retention.overdue() == {}
    assert not ConsentRecord.objects.filter(user=bob).exists()
    assert AuditEntry.objects.filter(subject=f"u:{bob.pk}").count() == kept  # pseudonymous chain rows stay


def test_a_dry_run_counts_without_changing_anything(alice: Any) -> None:
    login_api(Client(), ALICE_PHONE, password="wrong password")
    with time_machine.travel(timezone.now() + dt.timedelta(days=400), tick=False):
        dry = retention.run(dry_run=True)
        assert dry.removed.get("secops.SecurityEvent") == 1 and dry.total >= 1
        assert SecurityEvent.objects.count() == 1
        assert retention.overdue()
        out = io.StringIO()
        call_command("retention", "run", "--dry-run", stdout=out)
        assert "would remove" in out.getvalue() and "secops.SecurityEvent" in out.getvalue()
        with pytest.raises(CommandError, match="past their retention"):
            call_command("retention", "status", stdout=io.StringIO())
        call_command("retention", "run", stdout=io.StringIO())
        call_command("retention", "status", stdout=out)
    assert "nothing past its retention" in out.getvalue()


def test_chunks_commit_separately_and_a_crash_loses_only_the_chunk_in_flight(alice: Any, monkeypatch: Any) -> None:
    for _ in range(5):
        login_api(Client(), ALICE_PHONE, password="wrong password")
    original = retention._apply
    calls = {"n": 0}

    def crash_on_second_chunk(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")
        return original(*args, **kwargs)

    with time_machine.travel(timezone.now() + dt.timedelta(days=200), tick=False):
        monkeypatch.setattr(retention, "_apply", crash_on_second_chunk)
        with pytest.raises(RuntimeError):
            retention.run(chunk=2)
        assert SecurityEvent.objects.count() == 3  # the first chunk of two committed
        monkeypatch.setattr(retention, "_apply", original)
        report = retention.run(chunk=2)
        assert report.removed["secops.SecurityEvent"] == 3 and not SecurityEvent.objects.exists()
        assert AuditEntry.objects.filter(event="retention.purged", details__model="secops.SecurityEvent").count() == 3


def test_every_rule_is_enforceable_in_the_project(db: None) -> None:
    """A ``created`` rule needs a column to count from; only the engines' test-only models lack one."""
    assert all(label.startswith("privacy_testapp.") for label in retention.unenforceable())
    assert retention.uncleared_fields() == []
    labels = {rule.label for rule in retention.rules()}
    assert {"secops.SecurityEvent", "accounts.SmsCode", "security.AuditEntry", "decisions.Decision"} <= labels


def test_the_retention_task_runs_the_purge(alice: Any) -> None:
    from lingjing.secops.tasks import run_retention

    login_api(Client(), ALICE_PHONE, password="wrong password")
    with time_machine.travel(timezone.now() + dt.timedelta(days=200), tick=False):
        result = run_retention.enqueue()
    assert result.return_value["removed"]["secops.SecurityEvent"] == 1
    assert os.environ.get("LINGJING_ENV") == "test"
