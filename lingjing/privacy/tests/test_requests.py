"""Rights requests: the contract, the lifecycle (acknowledgement, 15 working days, pause, overdue alerts, duplicates,
refusals with a ground, fees), identity (fresh codes, the web form), and each type's fulfilment."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from lingjing.accounts.models import User
from lingjing.privacy.actions import (
    DuplicateRequest,
    Requester,
    correction_details,
    do_ask_requester,
    do_grant_deletion,
    do_refuse_request,
    do_resume_request,
    submit_request,
)
from lingjing.privacy.requests.models import RequestStatus, RightsRequest
from lingjing.privacy.requests.restriction import is_restricted
from lingjing.privacy.tests.rights import last_code, make_officer, make_user

pytestmark = pytest.mark.django_db


def _bearer(user: User) -> dict[str, str]:
    from lingjing.accounts.models import ApiToken, hash_token

    raw = secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, token_hash=hash_token(raw))
    return {"Authorization": f"Bearer {raw}"}


def _post(client: Client, body: dict[str, Any], auth: dict[str, str]) -> Any:
    return client.post("/api/v1/privacy/requests", body, content_type="application/json", headers=auth)


def _self(user: User, verification: str = "session") -> Requester:
    return Requester(verification=verification, acting_user=user)


# --- the contract ---------------------------------------------------------------------------------------------


def test_post_answers_201_with_id_type_status_and_due_at_and_get_answers_the_same() -> None:
    alice = make_user("+8613900000001", "alice")
    client, auth = Client(), _bearer(alice)
    response = _post(client, {"type": "explanation"}, auth)
    assert response.status_code == 201
    body = response.json()
    assert {"id", "type", "status", "due_at"} <= set(body) and body["type"] == "explanation"
    assert body["status"] == "completed"  # answered at once
    again = client.get(f"/api/v1/privacy/requests/{body['id']}", headers=auth).json()
    assert again["id"] == body["id"] and again["due_at"] == body["due_at"] and "download_url" in again
    listed = client.get("/api/v1/privacy/requests", headers=auth).json()["items"]
    assert [item["id"] for item in listed] == [body["id"]]


def test_someone_elses_request_does_not_exist_for_you() -> None:
    alice = make_user("+8613900000001", "alice")
    bob = make_user("+8613900000002", "bob")
    req = submit_request(alice, "correction", requester=_self(alice), details="我的生日填错了")
    client = Client()
    response = client.get(f"/api/v1/privacy/requests/{req.pk}", headers=_bearer(bob))
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert client.post(f"/api/v1/privacy/requests/{req.pk}/cancel", headers=_bearer(bob)).status_code == 404
    page = Client()
    page.force_login(bob)
    assert page.get(f"/privacy/requests/{req.pk}").status_code == 404


def test_the_consent_and_request_routers_share_the_privacy_prefix() -> None:
    alice = make_user("+8613900000001", "alice")
    client, auth = Client(), _bearer(alice)
    assert client.get("/api/v1/privacy/consents", headers=auth).status_code == 200
    data = client.get("/api/v1/privacy/my-data", headers=auth)
    assert data.status_code == 200 and data.json()["identity.phone"]["items"][0]["value"] == alice.phone
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert {"/api/v1/privacy/consents", "/api/v1/privacy/requests", "/api/v1/privacy/my-data",
            "/api/v1/privacy/requests/{request_id}/cancel"} <= set(paths)


def test_my_data_groups_every_datum_by_category_with_purpose_basis_and_retention() -> None:
    from lingjing.security.audit_models import AuditEntry

    alice = make_user("+8613900000001", "alice")
    client = Client()
    client.force_login(alice)
    html = client.get("/privacy/my-data").content.decode()
    assert "手机号码" in html and alice.phone in html and "注册与账号管理" in html and "账号存续期间" in html
    data = client.get("/api/v1/privacy/my-data", headers=_bearer(alice)).json()
    item = data["profile.nickname"]["items"][0]
    assert item["value"] == "alice" and item["purposes"] and item["retention"] and item["basis_label"]
    assert AuditEntry.objects.filter(event="privacy.person_exported", subject=alice.subject).count() == 2
    assert Client().get("/privacy/my-data").status_code == 302  # sign in first


# --- lifecycle -------------------------------------------------------------------------------------------------


def test_every_request_is_acknowledged_at_once_in_the_inbox() -> None:
    alice = make_user("+8613900000001", "alice")
    req = submit_request(alice, "correction", requester=_self(alice), details="昵称拼错了")
    note = alice.notifications.get(template="privacy.request_received")
    assert req.reference in note.title and "15 个工作日" in (note.body or "")
    assert req.ack_sent_at is not None and req.events.filter(kind="acknowledged").exists()


def test_the_deadline_is_15_working_days_on_the_mainland_calendar() -> None:
    # Received on 30 September 2025: National Day and Mid-Autumn (1–8 October) are off, Saturday 11 October is a
    # make-up working day. The 15th working day after is Tuesday 28 October.
    with time_machine.travel(dt.datetime(2025, 9, 30, 10, 0, tzinfo=dt.UTC), tick=False):
        alice = make_user("+8613900000001", "alice")
        req = submit_request(alice, "correction", requester=_self(alice), details="x")
    due = timezone.localtime(req.due_at)
    assert (due.date(), due.hour, due.minute) == (dt.date(2025, 10, 28), 23, 59)
    assert due - timezone.localtime(req.received_at) < dt.timedelta(days=30)  # within the policy's outer bound


def test_the_clock_stops_only_while_waiting_for_the_requester() -> None:
    officer = make_officer()
    with time_machine.travel(dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC), tick=False):  # Monday
        alice = make_user("+8613900000001", "alice")
        req = submit_request(alice, "correction", requester=_self(alice), details="x")
        first_due = req.due_at
        do_ask_requester(req, note="请提供正确的出生日期", acting_user=officer)
    with time_machine.travel(dt.datetime(2026, 3, 9, 2, 0, tzinfo=dt.UTC), tick=False):  # a week later
        from lingjing.privacy.requests.due import flag_overdue

        assert flag_overdue(timezone.now() + dt.timedelta(days=60)) == 0  # paused: never overdue
        do_resume_request(req, acting_user=alice, details="1990-05-06")
    req.refresh_from_db()
    assert req.status == RequestStatus.IN_PROGRESS and req.paused_days == 5
    from lingjing.core.workdays import working_days_between

    assert working_days_between(timezone.localtime(first_due).date(), timezone.localtime(req.due_at).date()) == 5
    assert "1990-05-06" in (req.details or "")


def test_overdue_requests_alert_the_privacy_officers_once() -> None:
    from lingjing.privacy.requests.due import run_due

    officer = make_officer()
    alice = make_user("+8613900000001", "alice")
    req = submit_request(alice, "correction", requester=_self(alice), details="x")
    with time_machine.travel(req.due_at + dt.timedelta(minutes=1), tick=False):
        assert run_due()["overdue_flagged"] == 1
        assert run_due()["overdue_flagged"] == 0
    alerts = officer.notifications.filter(template="privacy.request_overdue")
    assert alerts.count() == 1 and req.reference in alerts.get().title


def test_an_open_request_of_the_same_type_is_not_duplicated() -> None:
    alice = make_user("+8613900000001", "alice")
    client, auth = Client(), _bearer(alice)
    first = _post(client, {"type": "correction", "details": "生日错了"}, auth)
    second = _post(client, {"type": "correction", "details": "生日错了"}, auth)
    assert first.status_code == 201 and second.status_code == 409
    error = second.json()["error"]
    assert error["code"] == "duplicate_request" and RightsRequest.objects.get(pk=first.json()["id"]).reference \
        in error["message"]
    assert second["Location"].endswith(first.json()["id"])
    assert RightsRequest.objects.filter(user=alice).count() == 1


def test_a_refusal_names_one_of_the_eight_grounds_and_reaches_the_requester_in_writing() -> None:
    officer = make_officer()
    alice = make_user("+8613900000001", "alice")
    req = submit_request(alice, "correction", requester=_self(alice), details="请删除所有风控记录")
    with pytest.raises(ValidationError):
        do_refuse_request(req, ground="because", reason="不想", acting_user=officer)
    with pytest.raises(ValidationError):
        do_refuse_request(req, ground="legal_obligation", reason="  ", acting_user=officer)
    do_refuse_request(req, ground="legal_obligation", reason="网络安全法要求保存安全日志六个月", acting_user=officer)
    body = Client().get(f"/api/v1/privacy/requests/{req.pk}", headers=_bearer(alice)).json()
    assert body["status"] == "refused" and body["refusal_ground"] == "legal_obligation"
    assert body["refusal_reason"] == "网络安全法要求保存安全日志六个月" and "法律法规" in body["refusal_ground_label"]
    note = alice.notifications.get(template="privacy.request_refused")
    assert "网络安全法要求保存安全日志六个月" in note.body and "人民法院" in note.body
    page = Client()
    page.force_login(alice)
    assert "书面答复" in page.get(f"/privacy/requests/{req.pk}").content.decode()


def test_staff_cannot_handle_their_own_request_and_members_see_no_desk() -> None:
    from django.core.exceptions import PermissionDenied

    officer = make_officer()
    own = submit_request(officer, "correction", requester=_self(officer), details="x")
    with pytest.raises(PermissionDenied):
        do_refuse_request(own, ground="abuse", reason="x", acting_user=officer)
    alice = make_user("+8613900000001", "alice")
    member = Client()
    member.force_login(alice)
    assert member.get("/privacy/requests/staff/").status_code == 404
    desk = Client()
    desk.force_login(officer)
    assert desk.get("/privacy/requests/staff/").status_code == 200
    assert desk.get(f"/privacy/requests/staff/{own.pk}/").status_code == 404


def test_the_public_metrics_count_per_type_without_sign_in() -> None:
    officer = make_officer()
    alice = make_user("+8613900000001", "alice")
    submit_request(alice, "explanation", requester=_self(alice))
    refused = submit_request(alice, "correction", requester=_self(alice), details="x")
    do_refuse_request(refused, ground="abuse", reason="重复提交", acting_user=officer)
    from django.core.cache import cache

    cache.delete("privacy:rights-metrics")
    figures = Client().get("/api/v1/privacy/requests/metrics").json()["all"]
    rows = {r["type"]: r for r in figures["rows"]}
    assert rows["explanation"]["completed"] == 1 and rows["correction"]["refused"] == 1
    assert figures["totals"]["received"] == 2 and rows["explanation"]["median_days"] is not None
    assert "办结" in Client().get("/privacy/requests/metrics").content.decode()


# --- identity ------------------------------------------------------------------------------------------------


def test_copy_transfer_and_cancellation_need_a_fresh_verify_code_and_reveal_nothing_without_one() -> None:
    alice = make_user("+8613900000001", "alice")
    client, auth = Client(), _bearer(alice)
    for kind in ("copy", "transfer", "cancel_account"):
        response = _post(client, {"type": kind}, auth)
        assert response.status_code == 403 and response.json()["error"]["code"] == "verification_required"
    assert not RightsRequest.objects.exists()
    wrong = _post(client, {"type": "copy", "verification_code": "000000"}, auth)
    assert wrong.status_code == 403 and not RightsRequest.objects.exists()
    sent = client.post("/api/v1/auth/sms-code", {"phone": alice.phone, "purpose": "verify"},
                       content_type="application/json", headers=auth)
    assert sent.status_code == 202
    ok = _post(client, {"type": "copy", "verification_code": last_code(alice.phone or "")}, auth)
    assert ok.status_code == 201 and ok.json()["download_url"].startswith("/api/v1/privacy/requests/")


def test_the_web_form_reveals_nothing_until_the_code_is_right() -> None:
    alice = make_user("+8613900000001", "alice")
    reference = submit_request(alice, "correction", requester=_self(alice), details="秘密的更正内容").reference
    answers = []
    browsers = []
    for phone in ("+8613900000001", "+8613900000099"):  # an account, and a number without one
        browser = Client()
        response = browser.post("/privacy/requests/verify", {"action": "send", "phone": phone}, follow=True)
        answers.append((response.status_code, response.content.decode().replace(phone, "N").count("验证码")))
        assert "alice" not in response.content.decode() and reference not in response.content.decode()
        browsers.append(browser)
    assert answers[0] == answers[1]  # the same answer either way
    browser = browsers[0]
    bad = browser.post("/privacy/requests/verify", {"action": "check", "code": "000000"}).content.decode()
    assert reference not in bad and "秘密" not in bad  # (a bare "R-" can occur in a page's random CSP nonce)
    req = RightsRequest.objects.get(user=alice)
    assert browser.get(f"/privacy/requests/{req.pk}").status_code == 404
    browser.post("/privacy/requests/verify", {"action": "check", "code": last_code(alice.phone or "")})
    page = browser.get("/privacy/requests/verify").content.decode()
    assert req.reference in page
    assert browser.get(f"/privacy/requests/{req.pk}").status_code == 200
    made = browser.post("/privacy/requests/verify/new?type=access", {"type": "access"})
    access = RightsRequest.objects.get(user=alice, type="access")
    assert made.status_code == 302 and access.channel == "web_form" and access.verification == "sms_code"
    shown = browser.get(f"/privacy/requests/{access.pk}").content.decode()
    assert "alice" in shown and access.reference in shown
    access.refresh_from_db()
    assert access.status == RequestStatus.COMPLETED
    assert Client().get(f"/privacy/requests/{access.pk}").status_code == 404  # another browser: nothing


# --- fulfilment of each type --------------------------------------------------------------------------------


def test_restriction_takes_effect_at_once_everywhere_it_is_asked_and_can_be_lifted() -> None:
    alice = make_user("+8613900000001", "alice")
    bob = make_user("+8613900000002", "bob")
    assert not is_restricted(alice, "recommend")
    client, auth = Client(), _bearer(alice)
    body = _post(client, {"type": "restriction", "purposes": ["recommend", "search"]}, auth).json()
    assert body["status"] == "completed"
    assert is_restricted(alice, "recommend") and is_restricted(alice, "personalised_recommendation")
    assert is_restricted(alice, "search_history") and not is_restricted(alice, "analytics")
    assert not is_restricted(bob, "recommend") and not is_restricted(alice, "security")
    lifted = client.post(f"/api/v1/privacy/requests/{body['id']}/cancel", headers=auth)
    assert lifted.status_code == 200 and not is_restricted(alice, "recommend")
    everything = _post(client, {"type": "restriction", "purposes": ["*"]}, auth).json()
    assert everything["status"] == "completed" and is_restricted(alice, "analytics")
    assert not is_restricted(alice, "rights") and not is_restricted(alice, "compliance")


def test_a_restriction_switches_off_a_granted_consent_through_the_one_consent_check() -> None:
    from lingjing.consent.actions import do_set_consent
    from lingjing.consent.service import has_consent

    alice = make_user("+8613900000001", "alice")
    do_set_consent(alice, "search_history", True, method="settings", acting_user=alice)
    assert has_consent(alice, "search_history")
    client, auth = Client(), _bearer(alice)
    body = _post(client, {"type": "restriction", "purposes": ["search"]}, auth).json()
    assert body["status"] == "completed"
    assert not has_consent(alice, "search_history")
    client.post(f"/api/v1/privacy/requests/{body['id']}/cancel", headers=auth)
    assert has_consent(alice, "search_history")


def test_consent_withdrawal_takes_effect_at_once() -> None:
    from lingjing.consent.actions import do_set_consent
    from lingjing.consent.service import has_consent

    alice = make_user("+8613900000001", "alice")
    do_set_consent(alice, "search_history", True, method="settings", acting_user=alice)
    assert has_consent(alice, "search_history")
    body = _post(Client(), {"type": "withdraw_consent", "purposes": ["search_history"]}, _bearer(alice)).json()
    assert body["status"] == "completed" and body["result"]["receipt"]
    assert not has_consent(alice, "search_history")


def test_an_explanation_covers_each_automated_decision_and_offers_a_human_review() -> None:
    from lingjing.decisions.actions import record_decision
    from lingjing.decisions.models import ReviewRequest

    alice = make_user("+8613900000001", "alice")
    from django.db import transaction

    with transaction.atomic():
        decision = record_decision(
            alice, "moderation", outcome="work_hidden", rule_version="mod-rules-3",
            explanation_zh="您的作品含有指向站外的推广链接（规则 spam-link），已被自动隐藏。",
            inputs={"matched_rule": "spam-link", "links": 2}, significant=True)
    client, auth = Client(), _bearer(alice)
    body = _post(client, {"type": "explanation"}, auth).json()
    explained = client.get(f"/api/v1/privacy/requests/{body['id']}/explanation", headers=auth).json()
    item = explained["decisions"][0]
    assert item["id"] == str(decision.pk) and "spam-link" in item["explanation"]
    assert item["inputs"] == {"matched_rule": "spam-link", "links": 2} and item["rule_version"] == "mod-rules-3"
    assert item["can_request_review"] and item["url"].endswith(f"{decision.pk}/")
    assert {r["category"] for r in explained["processing_rules"]} >= {"identity.phone", "privacy.decision"}
    page = Client()
    page.force_login(alice)
    page.post(f"/privacy/requests/{body['id']}", {"action": "review", "decision_id": str(decision.pk),
                                                 "reason": "链接是我自己的作品集"})
    assert ReviewRequest.objects.filter(decision=decision, requester=alice).exists()


def test_a_correction_of_ones_own_row_applies_at_once_and_free_text_goes_to_staff() -> None:
    from lingjing.works.actions import do_create_work

    officer = make_officer()
    alice = make_user("+8613900000001", "alice")
    work = do_create_work(alice, title="错别子标题", acting_user=alice)
    items = [{"model": "works.Work", "field": "title", "object_id": str(work.pk), "value": "正确的标题"}]
    req = submit_request(alice, "correction", requester=_self(alice), params={"items": items},
                         details=correction_details(items, ""))
    work.refresh_from_db()
    assert req.status == RequestStatus.COMPLETED and work.title == "正确的标题"
    free = submit_request(alice, "correction", requester=_self(alice), details="我的出生年份登记错了")
    assert free.status == RequestStatus.RECEIVED
    assert officer.notifications.filter(template="privacy.staff_attention").exists()
    bob = make_user("+8613900000002", "bob")
    theirs = [{"model": "works.Work", "field": "title", "object_id": str(work.pk), "value": "改掉别人的"}]
    other = submit_request(bob, "correction", requester=_self(bob), params={"items": theirs},
                           details=correction_details(theirs, ""))
    work.refresh_from_db()
    assert other.status == RequestStatus.RECEIVED and work.title == "正确的标题"  # not bob's row


def test_a_deletion_needs_one_of_the_five_grounds_and_removes_the_chosen_categories_once_granted(
    django_capture_on_commit_callbacks: Any,
) -> None:
    from lingjing.privacy.tests.testapp.models import Bulk, Diary

    officer = make_officer()
    alice = make_user("+8613900000001", "alice")
    Bulk.objects.create(owner=alice, text="用量记录", n=1)
    Diary.objects.create(owner=alice, title="日记", body="正文")
    client, auth = Client(), _bearer(alice)
    missing = _post(client, {"type": "deletion", "categories": ["behaviour.usage"]}, auth)
    assert missing.status_code == 422
    whole = _post(client, {"type": "deletion", "deletion_ground": "no_longer_used",
                           "categories": ["identity.phone"]}, auth)
    assert whole.status_code == 422 and "注销" in whole.json()["error"]["message"]
    body = _post(client, {"type": "deletion", "deletion_ground": "no_consent", "categories": ["behaviour.usage"]},
                 auth).json()
    assert body["status"] == "received" and Bulk.objects.filter(owner=alice).exists()  # staff assess the ground
    req = RightsRequest.objects.get(pk=body["id"])
    with django_capture_on_commit_callbacks(execute=True):
        do_grant_deletion(req, acting_user=officer)
    req.refresh_from_db()
    assert req.status == RequestStatus.COMPLETED and req.result["deletion"]["deleted"]
    assert not Bulk.objects.filter(owner=alice).exists() and Diary.objects.filter(owner=alice).exists()


def test_requests_for_others_a_guardian_for_a_child_and_a_verified_relative_for_a_deceased_user(
    django_capture_on_commit_callbacks: Any,
) -> None:
    import time

    from django.core.files.uploadedfile import SimpleUploadedFile

    from lingjing.accounts.actions import do_register_user

    child = do_register_user(phone="+8613900000005", nickname="小明", birth_date=dt.date(2016, 1, 1),
                             guardian_phone="+8613900000006")
    guardian = Client()
    session = guardian.session
    session["lj_flow_guardian_proven"] = {"v": "+8613900000006", "t": time.time()}
    session.save()
    consent = child.guardian_consents.get()
    assert f"/privacy/requests/guardian/{consent.pk}" in guardian.get("/privacy/requests").content.decode()
    made = guardian.post(f"/privacy/requests/guardian/{consent.pk}?type=explanation", {"type": "explanation"})
    req = RightsRequest.objects.get(user=child)
    assert made.status_code == 302 and req.requester_kind == "guardian" and req.status == RequestStatus.COMPLETED
    assert guardian.get(f"/privacy/requests/{req.pk}").status_code == 200

    deceased = make_user("+8613900000007", "故人")
    relative = Client()
    relative.post("/privacy/requests/verify", {"action": "send", "phone": "+8613900000008"})
    relative.post("/privacy/requests/verify", {"action": "check", "code": last_code("+8613900000008")})
    proof = SimpleUploadedFile("death.pdf", b"%PDF-1.4 proof", content_type="application/pdf")
    with django_capture_on_commit_callbacks(execute=True):
        relative.post("/privacy/requests/relative", {
            "name": "王某", "relationship": "child", "deceased_phone": "+8613900000007", "wanted": ["access"],
            "details": "整理遗物", "proof": proof})
    from lingjing.privacy.actions import do_decide_relative
    from lingjing.privacy.requests.models import RequestProxy

    proxy = RequestProxy.objects.get(kind="relative")
    assert proxy.status == "submitted" and not RightsRequest.objects.filter(user=deceased).exists()
    assert "故人" not in relative.get("/privacy/requests/verify").content.decode()  # nothing before staff verify
    officer = make_officer()
    with pytest.raises(ValidationError):
        do_decide_relative(proxy, verify=True, reason="材料齐全", deceased=deceased, acting_user=officer)
    created = do_decide_relative(proxy, verify=True, reason="材料齐全", deceased=deceased,
                                 no_contrary_arrangement=True, acting_user=officer)
    assert [r.type for r in created] == ["access"] and created[0].requester_kind == "relative"
    shown = relative.get(f"/privacy/requests/{created[0].pk}").content.decode()
    assert "故人" in shown
    with pytest.raises(ValidationError):  # relatives: access, copy, correction, deletion only
        submit_request(deceased, "cancel_account", requester=Requester(
            kind="relative", channel="relative", verification="staff", actor="relative:x", proxy=proxy))


def test_a_privacy_ticket_is_handed_over_from_customer_service() -> None:
    from lingjing.privacy.requests import create_from_support_ticket

    alice = make_user("+8613900000001", "alice")

    class Ticket:
        pk = "T-1"
        subject_ref = f"u:{alice.pk}"
        created_at = timezone.now() - dt.timedelta(days=1)

    req = create_from_support_ticket(Ticket(), request_type="explanation", acting_user=None)
    assert req.channel == "support" and req.status == RequestStatus.COMPLETED and req.support_ticket_ref == "T-1"
    with pytest.raises(ValidationError):
        create_from_support_ticket(Ticket(), request_type="copy", acting_user=None)
    visitor = Ticket()
    visitor.subject_ref = "v:" + "0" * 32
    with pytest.raises(ValidationError):
        create_from_support_ticket(visitor, request_type="access", acting_user=None)


def test_a_duplicate_is_refused_in_the_action_too() -> None:
    alice = make_user("+8613900000001", "alice")
    first = submit_request(alice, "correction", requester=_self(alice), details="x")
    with pytest.raises(DuplicateRequest) as caught:
        submit_request(alice, "correction", requester=_self(alice), details="y")
    assert caught.value.existing.pk == first.pk


def test_customer_service_converts_a_real_privacy_ticket_into_a_request() -> None:
    from lingjing.sharing.tests.conftest import staff_in
    from lingjing.support.actions import do_assign_ticket, do_open_ticket
    from lingjing.support.convert import convert_ticket_to_rights_request

    alice = make_user("+8613900000001", "alice")
    agent = staff_in("ann", "support_agent")
    ticket = do_open_ticket(user=alice, category="privacy_request", title="想知道你们如何处理我的数据",
                            body="请解释一下", acting_user=alice)
    do_assign_ticket(ticket, agent, acting_user=agent)
    converted = convert_ticket_to_rights_request(ticket, acting_user=agent, request_type="explanation")
    req = RightsRequest.objects.get(user=alice)
    assert converted.conversion == "created" and converted.rights_request_ref == str(req.pk)
    assert req.channel == "support" and req.support_ticket_ref == str(ticket.pk)
    assert req.received_at == ticket.created_at  # the deadline counts from the ticket


def test_the_requesters_timeline_names_each_status_in_words() -> None:
    alice = make_user("+8613700000451", "alice")
    req = submit_request(alice, "copy", requester=_self(alice, "step_up"))
    client = Client()
    client.force_login(alice)
    html = client.get(f"/privacy/requests/{req.pk}").content.decode()
    assert "状态变更：处理中" in html and "：in_progress" not in html
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    timeline = client.get(f"/privacy/requests/{req.pk}").content.decode().split('class="timeline"')[1]
    assert "：In progress" in timeline and "in_progress" not in timeline


def test_the_pages_speak_chinese_first_and_english_when_chosen() -> None:
    client = Client()
    assert "个人信息权利请求" in client.get("/privacy/requests").content.decode()
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    html = client.get("/privacy/requests").content.decode()
    assert "Personal information rights requests" in html and "Web form" in html
    assert "How personal information rights requests are answered" in client.get(
        "/privacy/requests/metrics").content.decode()
