"""Children's data: approved and logged staff access, guardian rights, deletion of unconsented data, the yearly
report (policy 六; PIPL art. 28, 31)."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.test import Client, TestCase
from django.utils import timezone

from lingjing.children.actions import do_decide_child_access, do_request_child_access
from lingjing.children.models import ChildAccessLog, ChildrenReport, UnconsentedChild
from lingjing.core.outbox import read_jsonl
from lingjing.security.audit_models import AuditEntry
from lingjing.sharing.tests.conftest import child_birth, make_user

pytestmark = pytest.mark.django_db

ASK = ("children.add_childaccessrequest",)
APPROVE = ("children.approve_childaccessrequest",)
GUARDIAN_PHONE = "+8613900139000"


@pytest.fixture
def kid(db: Any) -> Any:
    from lingjing.accounts.actions import do_confirm_guardian, do_register_user
    from lingjing.accounts.models import GuardianConsent

    user = do_register_user(phone="+8613700137001", nickname="小雨", birth_date=dt.date.fromisoformat(child_birth(10)),
                            guardian_phone=GUARDIAN_PHONE)
    do_confirm_guardian(GuardianConsent.objects.get(child=user).pk, guardian_phone=GUARDIAN_PHONE)
    user.refresh_from_db()
    return user


@pytest.fixture
def agent(db: Any) -> Any:
    return make_user("agent", staff=True, perms=ASK)


@pytest.fixture
def officer(db: Any) -> Any:
    return make_user("officer", staff=True, perms=APPROVE)


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _last_code() -> str:
    match = re.search(r"\d{6}", read_jsonl("sms.jsonl")[-1]["text"])
    assert match is not None
    return match.group(0)


def _verify(client: Client, url: str) -> None:
    client.post(url, {"action": "send"})
    assert client.post(url, {"action": "verify", "code": _last_code()}).status_code == 302


def test_staff_without_approval_cannot_open_a_childs_record(kid: Any, agent: Any, alice: Any) -> None:
    url = f"/children/staff/child/{kid.pk}/"
    assert _client(agent).get(url).status_code == 403
    assert _client(alice).get(url).status_code == 404
    assert Client().get(url).status_code == 302  # to sign-in
    assert _client(agent).get(f"/api/v1/children/{kid.pk}/record").status_code == 403
    assert not ChildAccessLog.objects.exists()


def test_with_a_second_members_approval_the_record_opens_and_every_opening_is_logged(
    kid: Any, agent: Any, officer: Any
) -> None:
    req = do_request_child_access(kid, purpose="处理工单 #1024：监护人反映昵称被冒用", hours=2, acting_user=agent)
    with pytest.raises(PermissionDenied):
        do_decide_child_access(req, approve=True, note="", acting_user=agent)
    helper = make_user("helper", staff=True, perms=ASK + APPROVE)
    with pytest.raises(PermissionDenied):  # asking is not approving: only the asker's own approval opens
        do_decide_child_access(req, approve=True, note="", acting_user=make_user("peer", staff=True, perms=ASK))
    do_decide_child_access(req, approve=True, note="用途明确", acting_user=officer)
    client = _client(agent)
    url = f"/children/staff/child/{kid.pk}/"
    assert "身份验证" in client.get(url).content.decode()  # a fresh verification first
    assert not ChildAccessLog.objects.exists()
    _verify(client, url)
    page = client.get(url)
    assert page.status_code == 200
    assert "小雨" in page.content.decode() and "监护人信息" in page.content.decode()
    client.get(url)
    logs = list(ChildAccessLog.objects.filter(child=kid).order_by("at"))
    assert len(logs) == 2
    assert logs[0].staff == agent and logs[0].purpose.startswith("处理工单 #1024") and logs[0].grant == req
    opened = AuditEntry.objects.filter(event="child.record_opened", subject=f"u:{kid.pk}", actor=f"u:{agent.pk}")
    assert opened.count() == 2
    assert _client(officer).get(url).status_code == 403  # approving does not open it for the approver
    assert _client(helper).get(url).status_code == 403
    with time_machine.travel(timezone.now() + dt.timedelta(hours=3)):
        late = _client(agent)
        assert late.get(url).status_code == 403


def test_access_requests_through_the_pages(kid: Any, agent: Any, officer: Any) -> None:
    asked = _client(agent).post("/children/staff/", {"child": str(kid.pk), "purpose": "核实监护人申诉", "hours": 1})
    assert asked.status_code == 302
    url = asked["Location"]
    assert _client(agent).post(url, {"decision": "approve", "note": ""}).status_code == 403  # no right to decide
    assert _client(officer).post(url, {"decision": "approve", "note": "同意"}).status_code == 302
    assert "查看该儿童的个人信息" in _client(agent).get(url).content.decode()


def test_guardian_sees_corrects_and_deletes_the_childs_data(kid: Any) -> None:
    from lingjing.accounts.guardian import GUARDIAN_PROVEN_KEY as GUARDIAN_SESSION_KEY

    guardian = Client()
    assert "去验证监护人手机号" in guardian.get("/children/guardian/").content.decode()
    guardian.post("/accounts/guardian/", {"action": "send_code", "phone": GUARDIAN_PHONE})
    guardian.post("/accounts/guardian/", {"action": "verify", "code": _last_code()})
    assert GUARDIAN_SESSION_KEY in guardian.session
    home = guardian.get("/children/guardian/").content.decode()
    match = re.search(r"/children/guardian/([0-9a-f-]{36})/", home)
    assert match is not None
    url = match.group(0)
    page = guardian.get(url).content.decode()
    assert "小雨" in page and "出生日期" in page
    assert AuditEntry.objects.filter(event="child.guardian_viewed", subject=f"u:{kid.pk}").exists()
    assert guardian.post(url, {"action": "correct", "nickname": "小雨点", "birth_date": ""}).status_code == 302
    kid.refresh_from_db()
    assert kid.nickname == "小雨点"
    assert Client().get(url).status_code == 404  # another browser, no proof
    assert guardian.post(url, {"action": "delete"}).status_code == 302
    kid.refresh_from_db()
    assert kid.status == "erased"


def test_a_birth_date_correction_revealing_an_unconsented_child_starts_deletion(alice: Any) -> None:
    alice.birth_date = child_birth(12)
    with TestCase.captureOnCommitCallbacks(execute=True):
        alice.save(update_fields=["birth_date"])
    alice.refresh_from_db()
    assert alice.status == "erased"
    found = UnconsentedChild.objects.get(child=alice)
    assert (found.trigger, found.status) == ("birth_date_changed", "deleted")
    assert AuditEntry.objects.filter(event="child.unconsented_found", subject=f"u:{alice.pk}").exists()


def test_a_child_with_a_guardians_consent_or_an_adult_is_left_alone(kid: Any, bob: Any) -> None:
    kid.birth_date = child_birth(11)
    bob.birth_date = "1985-02-02"
    with TestCase.captureOnCommitCallbacks(execute=True):
        kid.save(update_fields=["birth_date"])
        bob.save(update_fields=["birth_date"])
    kid.refresh_from_db()
    bob.refresh_from_db()
    assert kid.status == "active" and bob.status == "active"
    assert not UnconsentedChild.objects.exists()


def test_the_yearly_report_counts_childrens_processing(kid: Any, agent: Any, officer: Any, tmp_path: Path) -> None:
    from lingjing.sharing.gate import disclose

    req = do_request_child_access(kid, purpose="处理工单 #7", hours=1, acting_user=agent)
    do_decide_child_access(req, approve=True, note="", acting_user=officer)
    from lingjing.children.access import access_child_record

    access_child_record(agent, kid.pk)
    disclose(kid, "aliyun-sms", ["identity.phone"], "notify")
    year = timezone.localdate().year
    out = io.StringIO()
    call_command("children", "report", "--year", str(year), "--out", str(tmp_path), stdout=out)
    counts = json.loads((tmp_path / f"children-report-{year}.json").read_text())
    assert counts["child_accounts"] == 1
    assert counts["guardian"]["requested"] == 1 and counts["guardian"]["confirmed"] == 1
    assert counts["staff"] == {"requests": 1, "approved": 1, "rejected": 0, "accesses": 1, "distinct_staff": 1}
    assert counts["disclosures"]["total"] == 1 and counts["disclosures"]["by_recipient"] == {"aliyun-sms": 1}
    markdown = (tmp_path / f"children-report-{year}.md").read_text()
    assert f"{year} 年度儿童个人信息处理合规报告" in markdown and "小雨" not in markdown
    assert ChildrenReport.objects.get(year=year).counts == counts
