from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from lingjing.consent.models import PolicyVersion

pytestmark = pytest.mark.django_db


def test_report_purge_check_and_publish() -> None:
    out = io.StringIO()
    call_command("consent", "report", "--days", "3", stdout=out)
    assert json.loads(out.getvalue())["min_group"] == 5
    out = io.StringIO()
    call_command("consent", "purge", stdout=out)
    assert "events_deleted" in json.loads(out.getvalue())
    out = io.StringIO()
    call_command("consent", "policy-check", stdout=out)
    assert "matches" in out.getvalue()
    call_command("consent", "publish", "--summary", "测试", stdout=io.StringIO())
    assert PolicyVersion.objects.get(number=2).notify_state == ""
