"""Staff access: no decryption without a stated purpose, the console gate (TOTP, training), session limits."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.utils import timezone

from lingjing.secops.actions import do_acknowledge_training, do_grant_staff_access
from lingjing.secops.models import StaffAccessGrant
from lingjing.secops.staff import TRAINING_VERSION, PurposeRequired, staff_read_personal
from lingjing.secops.tests.conftest import ALICE_PHONE, PASSWORD, browser, make_member, make_staff, totp_code
from lingjing.security.audit_models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def gate_on(settings: Any) -> None:
    settings.LINGJING_CONSOLE_GATE = True


def _enter_console(client: Client, user: Any) -> None:
    """Pass the gate: the authenticator's code, then the training acknowledgement."""
    client.post("/secops/gate/", {"totp": totp_code(user), "next": "/console/"})
    client.post("/secops/gate/", {"confirm": "on", "next": "/console/"})


def test_staff_without_the_purpose_prompt_cannot_decrypt(alice: Any, agent: Any, officer: Any, carol: Any) -> None:
    from unittest import mock

    with mock.patch("lingjing.security.crypto.open_sealed", side_effect=AssertionError("decrypted")), \
            pytest.raises(PurposeRequired):
        staff_read_personal(agent, alice, "support")
    with pytest.raises(PermissionDenied):  # no right to read at all, grant or not
        staff_read_personal(make_staff("内容审核甲", "content_moderator"), alice, "support")

    grant = do_grant_staff_access(agent, alice, purpose="support", reason="工单 #2041 核实绑定手机号",
                                  reference="#2041", acting_user=agent)
    records = staff_read_personal(agent, alice, "support")
    values = {(r["model"], r["field"]): r["value"] for r in records}
    assert values[("accounts.User", "phone")] == ALICE_PHONE
    assert {r["category"] for r in records} <= {"identity.phone", "identity.account", "profile.nickname",
                                                 "profile.avatar", "identity.email", "support.message",
                                                 "support.contact"}
    assert ("accounts.User", "birth_date") not in values  # support has no need for the birth date

    with pytest.raises(PurposeRequired):  # the grant is for one purpose, one person, one staff member
        staff_read_personal(agent, alice, "fraud")
    with pytest.raises(PurposeRequired):
        staff_read_personal(agent, carol, "support")
    with pytest.raises(PurposeRequired):
        staff_read_personal(officer, alice, "support")
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=31)), pytest.raises(PurposeRequired):
        staff_read_personal(agent, alice, "support")

    grant.refresh_from_db()
    assert grant.reads == 1 and "accounts.User.phone" in grant.fields_viewed and grant.reason.startswith("工单")
    read = AuditEntry.objects.get(event="staff.personal_read")
    assert read.actor == f"u:{agent.pk}" and read.subject == f"u:{alice.pk}"
    assert "accounts.User.phone" in read.details["fields"] and read.details["purpose"] == "support"
    granted = AuditEntry.objects.get(event="staff.access_granted")
    assert "工单" not in str(granted.details) and granted.sealed  # the reason is sealed under alice's key


def test_the_purpose_form_needs_a_reason_and_fresh_verification(alice: Any, agent: Any) -> None:
    client = browser(agent)
    url = f"/secops/people/{alice.pk}/"
    masked = client.get(url).content.decode()
    assert ALICE_PHONE[3:] not in masked and "爱丽丝" in masked
    assert ALICE_PHONE[3:] not in client.get(f"{url}?purpose=support").content.decode()
    refused = client.post(url, {"purpose": "support", "reason": "核实", "reference": "#1"})
    assert "身份验证" in refused.content.decode() and not StaffAccessGrant.objects.exists()
    short = client.post(url, {"purpose": "support", "reason": "看", "code": totp_code(agent)})
    assert "请写明具体用途" in short.content.decode()
    done = client.post(url, {"purpose": "support", "reason": "工单 #2041 核实手机号", "reference": "#2041",
                             "code": totp_code(agent, offset=1)})
    assert done.status_code == 302 and done["Location"].endswith("?purpose=support")
    shown = client.get(done["Location"]).content.decode()
    assert ALICE_PHONE in shown and "本次查看已记录" in shown
    assert browser(make_member("+8613912359999", "路人")).get(url).status_code == 404
    assert client.get(f"/secops/people/?q={ALICE_PHONE}")["Location"] == url


def test_a_childs_data_also_needs_the_second_approval(agent: Any) -> None:
    kid = make_member("+8613912358888", "小雨", birth_date=timezone.localdate().replace(year=2016, month=1, day=1),
                      guardian_phone="+8613912358889")
    do_grant_staff_access(agent, kid, purpose="support", reason="监护人来电核实", acting_user=agent)
    with pytest.raises(PermissionDenied, match="另一名工作人员审批"):
        staff_read_personal(agent, kid, "support")


def test_grants_are_only_for_oneself_and_never_for_ones_own_data(alice: Any, agent: Any, officer: Any) -> None:
    with pytest.raises(PermissionDenied):
        do_grant_staff_access(agent, alice, purpose="support", reason="替同事申请", acting_user=officer)
    with pytest.raises(PermissionDenied):
        do_grant_staff_access(agent, agent, purpose="support", reason="看看自己的", acting_user=agent)
    with pytest.raises(PermissionDenied):
        do_grant_staff_access(alice, agent, purpose="support", reason="普通用户", acting_user=alice)


def test_the_console_needs_totp_and_a_current_training(gate_on: None, officer: Any) -> None:
    client = browser(officer)
    first = client.get("/console/")
    assert first.status_code == 302 and first["Location"].startswith("/secops/gate/")
    assert "输入身份验证器动态码" in client.get(first["Location"]).content.decode()
    wrong = client.post("/secops/gate/", {"totp": "000000", "next": "/console/"})
    assert "动态码错误" in wrong.content.decode()
    client.post("/secops/gate/", {"totp": totp_code(officer), "next": "/console/"})
    training = client.get("/console/")
    assert training.status_code == 302
    page = client.get(training["Location"]).content.decode()
    assert "隐私与安全培训" in page and "4 小时内" in page
    client.post("/secops/gate/", {"confirm": "on", "next": "/console/"})
    assert client.get("/console/").status_code == 200
    ack = AuditEntry.objects.get(event="staff.training_acknowledged")
    assert ack.details == {"version": TRAINING_VERSION} and ack.subject == f"u:{officer.pk}"
    # a year later the acknowledgement has lapsed (the TOTP proof of this session still holds)
    with time_machine.travel(timezone.now() + dt.timedelta(days=366)):
        again = browser(officer)
        again.post("/secops/gate/", {"totp": totp_code(officer), "next": "/console/"})
        assert again.get("/console/").status_code == 302
        do_acknowledge_training(officer, version=TRAINING_VERSION, acting_user=officer)
        assert again.get("/console/").status_code == 200


@pytest.mark.parametrize("desk", ["/support/agent/", "/privacy/requests/staff/", "/moderation/", "/children/staff/",
                                  "/privacy/decisions/reviews/", "/privacy/sharing/legal/", "/secops/"])
def test_every_staff_desk_is_behind_the_gate(gate_on: None, officer: Any, desk: str) -> None:
    """Not only the admin console: each desk that shows people's requests, tickets or content to staff."""
    response = browser(officer).get(desk)
    assert response.status_code == 302 and response["Location"].startswith("/secops/gate/"), desk


def test_staff_without_an_authenticator_are_sent_to_add_one(gate_on: None) -> None:
    newcomer = make_staff("新同事", "auditor", totp=False)
    client = browser(newcomer)
    page = client.get(client.get("/console/")["Location"]).content.decode()
    assert "请先添加身份验证器" in page and "/accounts/security/#totp" in page
    assert client.post("/secops/gate/", {"totp": "123456"}).status_code == 200
    assert client.get("/console/").status_code == 302


def test_members_never_see_the_gate_or_the_console(gate_on: None, alice: Any) -> None:
    client = browser(alice)
    assert client.get("/secops/gate/").status_code == 404
    assert client.get("/console/")["Location"].startswith("/console/login/")
    assert client.get("/secops/").status_code == 404


def test_staff_sessions_end_after_30_idle_minutes_and_after_12_hours(officer: Any, gate_on: None) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        client = browser(officer)
        _enter_console(client, officer)
        assert client.get("/console/").status_code == 200
        clock.shift(dt.timedelta(minutes=29))
        assert client.get("/console/").status_code == 200
        clock.shift(dt.timedelta(minutes=31))
        idle = client.get("/console/")
        assert idle.status_code == 302 and idle["Location"].startswith("/accounts/login/")
        assert "_auth_user_id" not in client.session
    assert AuditEntry.objects.filter(event="staff.session_expired", details__reason="idle").count() == 1

    with time_machine.travel(start, tick=False) as clock:
        busy = browser(officer)
        _enter_console(busy, officer)
        for _ in range(25):  # busy all day, a request every 29 minutes
            clock.shift(dt.timedelta(minutes=29))
            response = busy.get("/console/")
        assert response.status_code == 302
    assert AuditEntry.objects.filter(event="staff.session_expired", details__reason="absolute").count() == 1


def test_a_members_session_is_not_limited(alice: Any) -> None:
    with time_machine.travel(timezone.now(), tick=False) as clock:
        client = browser(alice)
        client.get("/accounts/profile/")
        clock.shift(dt.timedelta(hours=13))
        assert client.get("/accounts/profile/").status_code == 200


def test_staff_api_tokens_expire_like_sessions(officer: Any) -> None:
    from lingjing.secops.tests.conftest import login_api

    with time_machine.travel(timezone.now(), tick=False) as clock:
        token = login_api(Client(), officer.phone, password=PASSWORD, totp=totp_code(officer)).json()["token"]
        auth: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
        assert Client().get("/api/v1/me", **auth).status_code == 200
        clock.shift(dt.timedelta(minutes=31))
        expired = Client().get("/api/v1/me", **auth)
        assert expired.status_code == 401 and expired.json()["error"]["code"] == "session_expired"
        assert Client().get("/api/v1/me", **auth).json()["error"]["code"] == "invalid_token"


def test_the_person_page_shows_readable_values_under_chinese_labels(alice: Any, agent: Any, client: Client) -> None:
    do_grant_staff_access(agent, alice, purpose="support", reason="工单 #2042 核实账号状态", reference="#2042",
                          acting_user=agent)
    client.force_login(agent)
    page = client.get(f"/secops/people/{alice.pk}/?purpose=support").content.decode()
    assert "手机号码" in page and ALICE_PHONE in page and "爱丽丝" in page
    cells = re.findall(r"<tr><td>[^<]*</td><td>[^<]*</td><td>([^<]*)</td><td>([^<]*)</td></tr>", page)
    assert cells, page
    for label, shown in cells:
        assert re.search(r"[\u4e00-\u9fff]", label), label  # every datum named in Chinese
        assert shown not in ("True", "False", "None"), (label, shown)  # values as 是/否 and words, not Python
    shown = dict(cells)
    assert shown["状态"] == "正常"  # the choice's label, not its stored key
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", shown["注册时间"])  # local time, no offset
