"""The risk engine on sign-in: signals from the pseudonymised log, step-up then block, every outcome a decision."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from lingjing.decisions.models import Decision
from lingjing.secops.models import EventKind, SecurityEvent
from lingjing.secops.risk import SIGNALS, Assessment, score
from lingjing.secops.tests.conftest import ALICE_PHONE, PASSWORD, login_api
from lingjing.security.audit_models import AuditEntry

pytestmark = pytest.mark.django_db

ATTACKER = "203.0.113.7"
OWNER_ELSEWHERE = "198.51.100.9"


@pytest.fixture
def no_backoff(settings: Any) -> None:
    """The back-off of accounts.auth (5 failures lock for a minute) is moved out of the way, so every attempt of a
    burst reaches the credential check and the risk engine alone decides."""
    settings.LINGJING_LOGIN_FAILURES_BEFORE_LOCK = 1000
    settings.LINGJING_LOGIN_IP_FAILURES_BEFORE_LOCK = 1000


def _risk_decisions(user: Any) -> list[Decision]:
    """The person's risk decisions in the order they were made (the audit log's order)."""
    ids = AuditEntry.objects.filter(event="decision.recorded", subject=f"u:{user.pk}",
                                    details__kind="risk").order_by("seq").values_list("object_id", flat=True)
    by_id = {str(d.pk): d for d in Decision.objects.filter(subject=user, kind="risk")}
    return [by_id[i] for i in ids]


def _last_code(phone: str) -> str:
    from lingjing.core.outbox import read_jsonl

    for message in reversed(read_jsonl("sms.jsonl")):
        if message["to"] == phone:
            match = re.search(r"\b(\d{6})\b", message["text"])
            assert match
            return match.group(1)
    raise AssertionError("no code sent")


def test_a_burst_of_failed_sign_ins_triggers_step_up_then_block_each_logged_as_a_decision(
    alice: Any, no_backoff: None
) -> None:
    attacker = Client(REMOTE_ADDR=ATTACKER)
    answers = []
    with time_machine.travel(timezone.now(), tick=False):
        for _ in range(24):
            response = login_api(attacker, ALICE_PHONE, password="not the password")
            answers.append((response.status_code, response.json()["error"]["code"]))
        decisions = _risk_decisions(alice)
        outcomes = [d.outcome for d in decisions]
        # 4 points per failure on the account (at most 60) + 2 per failure from the source: 50 after 9 failures,
        # 100 after 20.
        assert outcomes == ["sign_in_allowed"] * 9 + ["sign_in_step_up"] * 11 + ["sign_in_blocked"] * 4
        assert answers[:20] == [(401, "invalid_credentials")] * 20
        assert answers[20:] == [(429, "risk_blocked")] * 4
        step_up, block = decisions[9], decisions[20]
        assert "该账号近 1 小时内有 9 次登录失败" in step_up.explanation_zh
        assert "需要进一步验证" in step_up.explanation_zh
        assert step_up.inputs["score"] == 54 and step_up.inputs["signals"]["account_failures"] == 9
        assert "暂时阻止登录" in block.explanation_zh and block.explanation_en.startswith("Sign-in risk score 100")
        assert all(d.rule_version == "risk-sign-in-1" and d.effective for d in decisions)

        # The attacker's address stays blocked, even with the right password (no credential is checked).
        blocked = login_api(attacker, ALICE_PHONE, password=PASSWORD)
        assert blocked.status_code == 429 and int(blocked["Retry-After"]) > 0
        # The owner, elsewhere, is not locked out: the password alone no longer signs in, an SMS code does.
        owner = Client(REMOTE_ADDR=OWNER_ELSEWHERE)
        challenged = login_api(owner, ALICE_PHONE, password=PASSWORD)
        assert challenged.status_code == 401 and challenged.json()["error"]["code"] == "step_up_required"
        assert "短信验证码" in challenged.json()["error"]["message"]
        owner.post("/api/v1/auth/sms-code", {"phone": ALICE_PHONE, "purpose": "login"},
                   content_type="application/json")
        signed_in = login_api(owner, ALICE_PHONE, code=_last_code(ALICE_PHONE))
        assert signed_in.status_code == 200 and signed_in.json()["token"]

    logged = SecurityEvent.objects.filter(kind__in=[EventKind.SIGN_IN_CHALLENGED, EventKind.SIGN_IN_BLOCKED])
    assert {e.outcome for e in logged} == {"step_up", "block"}


def test_the_step_up_of_the_web_sign_in_switches_to_the_code_tab(alice: Any, no_backoff: None,
                                                                  settings: Any) -> None:
    settings.LINGJING_RISK_STEP_UP_SCORE, settings.LINGJING_RISK_BLOCK_SCORE = 8, 1000
    page = Client(REMOTE_ADDR=ATTACKER)
    for _ in range(2):
        page.post("/accounts/login/", {"tab": "password", "action": "login", "phone": ALICE_PHONE, "password": "x" * 9})
    response = page.post("/accounts/login/", {"tab": "password", "action": "login", "phone": ALICE_PHONE,
                                              "password": PASSWORD})
    text = response.content.decode()
    assert response.status_code == 200 and "请改用短信验证码登录" in text
    assert response.context["tab"] == "code"
    assert "_auth_user_id" not in page.session


def test_devices_signed_in_are_listed_with_a_sign_out_button(alice: Any) -> None:
    web = Client(REMOTE_ADDR="203.0.113.30", HTTP_USER_AGENT="Mozilla/5.0 (Windows NT 10.0) Chrome/140.0")
    web.post("/accounts/login/", {"tab": "password", "action": "login", "phone": ALICE_PHONE, "password": PASSWORD})
    token = login_api(Client(REMOTE_ADDR="198.51.100.3"), ALICE_PHONE, password=PASSWORD).json()["token"]
    text = web.get("/accounts/security/history").content.decode()
    assert "Chrome · Windows" in text and text.count("退出该设备") == 2 and "198.51.100.0/24" in text
    api_device = next(s for s in web.get("/api/v1/me/sessions").json() if s["kind"] == "api")
    web.post("/accounts/security/", {"action": "revoke", "session": api_device["id"]})
    assert Client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_the_security_log_is_pseudonymised(alice: Any, no_backoff: None) -> None:
    client = Client(REMOTE_ADDR=ATTACKER, HTTP_USER_AGENT="Mozilla/5.0 (Windows NT 10.0) Chrome/140.0")
    login_api(client, ALICE_PHONE, password="wrong password")
    login_api(client, "+8613900000077", password="wrong password")
    login_api(client, ALICE_PHONE, password=PASSWORD)
    rows = list(SecurityEvent.objects.order_by("id").values())
    assert {r["kind"] for r in rows} == {EventKind.SIGN_IN_FAILED, EventKind.SIGN_IN_SUCCEEDED}
    text = json.dumps(rows, default=str)
    for secret in ("13912350001", "8613900000077", "203.0.113", str(alice.pk), "Chrome", "wrong password"):
        assert secret not in text
    failures = [r for r in rows if r["kind"] == EventKind.SIGN_IN_FAILED]
    assert failures[0]["actor_key"] != failures[1]["actor_key"]  # the account and the unknown number differ
    assert failures[0]["ip_key"] == failures[1]["ip_key"] and len(failures[0]["ip_key"]) == 32
    success = next(r for r in rows if r["kind"] == EventKind.SIGN_IN_SUCCEEDED)
    assert success["actor_key"] == failures[0]["actor_key"] and success["device_key"]


def test_an_unknown_number_is_logged_but_nobody_is_decided_about(db: None, no_backoff: None) -> None:
    client = Client(REMOTE_ADDR=ATTACKER)
    for _ in range(12):
        login_api(client, "+8613900000088", password="guess-guess")
    assert not Decision.objects.exists()
    assert SecurityEvent.objects.filter(kind=EventKind.SIGN_IN_CHALLENGED, outcome="step_up").exists()


def test_a_new_device_adds_to_the_score_but_alone_signs_in(alice: Any) -> None:
    home = Client(REMOTE_ADDR="203.0.113.20", HTTP_USER_AGENT="Mozilla/5.0 (Macintosh; Mac OS X) Safari/605")
    assert login_api(home, ALICE_PHONE, password=PASSWORD).status_code == 200
    assert login_api(home, ALICE_PHONE, password=PASSWORD).status_code == 200
    travel = Client(REMOTE_ADDR="192.0.2.50", HTTP_USER_AGENT="Mozilla/5.0 (Linux; Android 14) Chrome/140.0")
    assert login_api(travel, ALICE_PHONE, password=PASSWORD).status_code == 200
    decisions = _risk_decisions(alice)
    assert [d.inputs["signals"].get("new_device") for d in decisions] == [0, 0, 1]
    assert decisions[-1].inputs["score"] == 25 and "首次在此设备或网络上登录" in decisions[-1].explanation_zh


def test_refused_sms_requests_raise_the_sign_in_risk(alice: Any, settings: Any) -> None:
    settings.LINGJING_SMS_PER_NUMBER_HOUR = 1
    settings.LINGJING_SMS_COOLDOWN = 1
    client = Client(REMOTE_ADDR=ATTACKER)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for _ in range(4):
            traveller.shift(2)
            client.post("/api/v1/auth/sms-code", {"phone": ALICE_PHONE, "purpose": "login"},
                        content_type="application/json")
        login_api(client, ALICE_PHONE, password=PASSWORD)
    decision = Decision.objects.get(subject=alice, kind="risk")
    assert decision.inputs["signals"]["sms_anomaly"] == 6  # 3 refusals, counted per number and per address
    assert SecurityEvent.objects.filter(kind=EventKind.SMS_LIMITED, detail="sms:number:hour").count() == 1


def test_scores_are_capped_per_signal() -> None:
    total, points = score({"account_failures": 1000, "source_failures": 3, "new_device": 1})
    assert points == {"account_failures": SIGNALS["account_failures"].cap, "source_failures": 6, "new_device": 25}
    assert total == 91
    assert Assessment(score=0).explanation("en").endswith("no risk signal. Result: sign-in allowed.")


def test_the_person_sees_sign_in_history_risk_decisions_and_devices(alice: Any, no_backoff: None,
                                                                    settings: Any) -> None:
    settings.LINGJING_RISK_STEP_UP_SCORE, settings.LINGJING_RISK_BLOCK_SCORE = 4, 1000
    attacker = Client(REMOTE_ADDR=ATTACKER)
    login_api(attacker, ALICE_PHONE, password="wrong password")
    login_api(attacker, ALICE_PHONE, password="wrong password")
    token = login_api(Client(REMOTE_ADDR="198.51.100.1"), ALICE_PHONE, password=PASSWORD)
    assert token.status_code == 401  # step-up: the test's threshold is 4 points
    me = Client(REMOTE_ADDR="198.51.100.1")
    me.post("/accounts/login/", {"tab": "password", "action": "login", "phone": ALICE_PHONE, "password": PASSWORD})
    assert "_auth_user_id" not in me.session  # the same step-up applies to the web sign-in
    me.force_login(alice)
    page = me.get("/accounts/security/history")
    text = page.content.decode()
    assert page.status_code == 200
    assert text.count("登录失败") >= 2 and "203.0.113.0/24" in text and "密码错误" in text
    assert "需要进一步验证" in text and "/privacy/decisions/" in text
    assert "/accounts/security/history" in me.get("/accounts/security/").content.decode()
    api = me.get("/api/v1/me/sign-in-history").json()["items"]
    assert [i["event"] for i in api][:4] == ["account.login_failed"] * 4
    assert {i["reason"] for i in api} == {"密码错误", "需要进一步验证"}
    assert Client().get("/accounts/security/history").status_code == 302


def test_the_history_page_speaks_english_when_chosen(alice: Any) -> None:
    me = Client()
    me.force_login(alice)
    me.cookies["lj_lang"] = "en"
    text = me.get("/accounts/security/history").content.decode()
    assert "Sign-in history" in text and "Devices signed in now" in text and "登录记录" not in text
