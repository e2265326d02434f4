"""Children under 14: pending until a guardian confirms by SMS code; declining, withdrawal or expiry delete."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from lingjing.accounts.guardian import purge_expired_pending_children
from lingjing.accounts.models import GuardianConsent, GuardianStatus, User, UserStatus
from lingjing.accounts.policy import can_create, can_publish, denial_reason, is_child
from lingjing.accounts.tests.conftest import ALICE_PHONE, api_post, bearer, last_code, sms
from lingjing.privacy.registry import declaration_for, is_sensitive_for
from lingjing.security.audit_models import AuditEntry

pytestmark = pytest.mark.django_db
GUARDIAN = "+8613712345678"


def _child_birth() -> str:
    today = timezone.localdate()
    return today.replace(year=today.year - 10).isoformat()


def _register_child(api: Client, guardian: str | None = GUARDIAN) -> Any:
    assert api_post(api, "/auth/sms-code", {"phone": ALICE_PHONE, "purpose": "register"}).status_code == 202
    body = {"phone": ALICE_PHONE, "code": last_code(ALICE_PHONE), "nickname": "小明同学",
            "birth_date": _child_birth()}
    if guardian:
        body["guardian_phone"] = guardian
    return api_post(api, "/auth/register", body)


def _guardian_browser() -> Client:
    browser = Client(REMOTE_ADDR="198.51.100.50")
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=61), tick=False):
        browser.post("/accounts/guardian/", {"action": "send_code", "phone": GUARDIAN})
    response = browser.post("/accounts/guardian/", {"action": "verify", "code": last_code(GUARDIAN)})
    assert response.status_code == 302
    return browser


def test_an_under_14_sign_up_needs_a_guardian_phone(api: Client) -> None:
    response = _register_child(api, guardian=None)
    assert response.status_code == 422 and response.json()["error"]["code"] == "guardian_required"
    assert not User.objects.exists()


def test_an_under_14_sign_up_cannot_create_or_publish_until_a_guardian_confirms(api: Client) -> None:
    response = _register_child(api)
    assert response.status_code == 201
    assert response.json()["user"]["status"] == "pending_guardian"
    child = User.objects.get()
    assert is_child(child)
    assert not can_create(child) and not can_publish(child)
    assert "监护人" in denial_reason(child)
    consent = GuardianConsent.objects.get(child=child)
    assert consent.status == GuardianStatus.PENDING and consent.guardian_phone == GUARDIAN
    guardian_sms = [m for m in sms() if m["to"] == GUARDIAN]
    assert len(guardian_sms) == 1 and "小明同学" in guardian_sms[0]["text"]

    browser = _guardian_browser()
    page = browser.get("/accounts/guardian/").content.decode()
    assert "小明同学" in page and "同意" in page
    browser.post("/accounts/guardian/", {"action": "confirm", "consent": str(consent.pk)})
    child.refresh_from_db()
    consent.refresh_from_db()
    assert child.status == UserStatus.ACTIVE and can_publish(child) and can_create(child)
    assert consent.status == GuardianStatus.CONFIRMED and consent.method == "sms_code" and consent.decided_at
    entry = AuditEntry.objects.get(event="account.guardian_confirmed")
    assert entry.subject == child.subject and entry.actor.startswith("guardian:p:")
    # the child can use the API meanwhile (browsing, profile), just not create or publish
    token = response.json()["token"]
    assert api.get("/api/v1/me", **bearer(token)).status_code == 200


def test_a_wrong_guardian_code_shows_nothing(api: Client) -> None:
    _register_child(api)
    browser = Client()
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=61), tick=False):
        browser.post("/accounts/guardian/", {"action": "send_code", "phone": GUARDIAN})
    code = last_code(GUARDIAN)
    page = browser.post("/accounts/guardian/", {"action": "verify", "code": "000000" if code != "000000" else "1"})
    assert "小明同学" not in page.content.decode()
    consent = GuardianConsent.objects.get()
    forged = browser.post("/accounts/guardian/", {"action": "confirm", "consent": str(consent.pk)})
    assert forged.status_code == 200
    assert User.objects.get().status == UserStatus.PENDING_GUARDIAN


def test_declining_deletes_the_pending_account(api: Client) -> None:
    _register_child(api)
    consent = GuardianConsent.objects.get()
    child_id = consent.child_id
    _guardian_browser().post("/accounts/guardian/", {"action": "decline", "consent": str(consent.pk)})
    _assert_erased(child_id)


def test_withdrawal_later_deletes_the_account(api: Client) -> None:
    _register_child(api)
    consent = GuardianConsent.objects.get()
    browser = _guardian_browser()
    browser.post("/accounts/guardian/", {"action": "confirm", "consent": str(consent.pk)})
    assert User.objects.get(pk=consent.child_id).status == UserStatus.ACTIVE
    browser.post("/accounts/guardian/", {"action": "withdraw", "consent": str(consent.pk)})
    _assert_erased(consent.child_id)
    assert AuditEntry.objects.filter(event="account.guardian_withdrawn").exists()


def test_no_decision_within_seven_days_deletes_the_pending_account(api: Client, settings: Any) -> None:
    _register_child(api)
    child_id = User.objects.get().pk
    with time_machine.travel(timezone.now() + dt.timedelta(days=6), tick=False):
        assert purge_expired_pending_children() == 0
    with time_machine.travel(timezone.now() + dt.timedelta(days=7, minutes=1), tick=False):
        assert purge_expired_pending_children() == 1
        assert purge_expired_pending_children() == 0  # safe to run twice
    _assert_erased(child_id)


def test_the_purge_task_runs(api: Client) -> None:
    from lingjing.accounts.tasks import purge_expired_pending_children as purge_task

    _register_child(api)
    with time_machine.travel(timezone.now() + dt.timedelta(days=8), tick=False):
        result = purge_task.enqueue()
    assert result.return_value == 1


def _assert_erased(child_id: Any) -> None:
    """Gone, or left as the erasure engine's tombstone: no phone, no nickname, no birth date, no guardian."""
    user = User.objects.filter(pk=child_id).first()
    if user is not None:
        assert user.status == UserStatus.ERASED
        assert user.phone is None and user.birth_date is None and user.nickname != "小明同学"
    assert not GuardianConsent.objects.filter(child_id=child_id).exists()


def test_all_data_of_a_child_is_sensitive(api: Client) -> None:
    _register_child(api)
    child = User.objects.get()
    decl = declaration_for(User)
    assert decl is not None
    assert all(is_sensitive_for(pd, child) for pd in decl.fields.values())
    guardian_decl = declaration_for(GuardianConsent)
    assert guardian_decl is not None and all(pd.is_sensitive for pd in guardian_decl.fields.values())
