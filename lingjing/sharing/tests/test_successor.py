"""Merger or transfer of the business: the data map and obligations, and the successor's acceptance."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from lingjing.security.audit_models import AuditEntry
from lingjing.sharing.models import SuccessorReport
from lingjing.sharing.tests.conftest import grant

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("sharing", *args, stdout=out)
    return out.getvalue()


def test_the_report_holds_the_data_map_and_obligations_and_no_personal_data(alice: Any, tmp_path: Path) -> None:
    grant(alice, "recipient:deepseek")
    output = _run("successor-report", "--successor", "星海科技有限公司", "--out", str(tmp_path))
    report = SuccessorReport.objects.get()
    files = sorted(tmp_path.iterdir())
    assert [f.suffix for f in files] == [".json", ".md"]
    raw = files[0].read_bytes()
    assert hashlib.sha256(raw).hexdigest() == report.digest
    assert report.digest in output
    doc = json.loads(raw)
    models = {m["model"] for m in doc["data_map"]}
    assert {"accounts.User", "sharing.SharingRecord", "decisions.Decision"} <= models
    user_fields = next(m for m in doc["data_map"] if m["model"] == "accounts.User")["fields"]
    phone = next(f for f in user_fields if f["field"] == "phone")
    assert phone["sealed"] and phone["category"] == "identity.phone" and phone["retention"]
    assert doc["consents_in_force"]["recipient:deepseek"] == 1
    assert {r["slug"] for r in doc["recipients"]} >= {"deepseek", "openai"}
    assert doc["policy"]["number"] >= 1
    assert any("第二十二条" in line for line in doc["obligations"]["zh"])
    text = raw.decode()
    assert alice.phone not in text and str(alice.pk) not in text
    assert "星海科技有限公司" in files[1].read_text()


def test_the_successor_accepts_exactly_this_report(db: Any, tmp_path: Path) -> None:
    _run("successor-report", "--successor", "星海科技有限公司", "--out", str(tmp_path))
    report = SuccessorReport.objects.get()
    with pytest.raises(CommandError):
        _run("accept-successor-report", str(report.pk), "--by", "张三", "--digest", "0" * 64)
    _run("accept-successor-report", str(report.pk), "--by", "张三（法定代表人）", "--digest", report.digest)
    report.refresh_from_db()
    assert report.accepted_by_name == "张三（法定代表人）" and report.accepted_at is not None
    assert "继续受本隐私政策约束" in report.acceptance_statement
    assert AuditEntry.objects.filter(event="sharing.successor_accepted", object_id=str(report.pk)).exists()
    with pytest.raises(CommandError):
        _run("accept-successor-report", str(report.pk), "--by", "李四", "--digest", report.digest)
