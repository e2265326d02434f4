"""Step-up verification for sensitive operations and TOTP as a second factor."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyotp
import pytest
import time_machine
from django.test import Client, RequestFactory
from django.utils import timezone

from lingjing.accounts.models import User
from lingjing.accounts.stepup import (
    VerificationRequired,
    consume_verification_code,
    is_recently_verified,
    require_recent_verification,
)
from lingjing.accounts.tests.conftest import ALICE_PHONE, BOB_PHONE, PASSWORD, api_post, bearer, last_code
from lingjing.security.audit_models import AuditEntry

pytestmark = pytest.mark.django_db


def _browser(user: User) -> Client:
    browser = Client(REMOTE_ADDR="203.0.113.9")
    response = browser.post("/accounts/login/", {"tab": "password", "phone": user.phone, "password": PASSWORD,
                                                 "action": "login"})
    assert response.status_code == 302
    return browser


def _token(api: Client) -> str:
    return str(api_post(api, "/auth/login", {"phone": ALICE_PHONE, "password": PASSWORD}).json()["token"])


def test_verify_codes_grant_a_ten_minute_window_to_the_token(api: Client, alice: User) -> None:
    token = _token(api)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        assert api_post(api, "/auth/sms-code", {"purpose": "verify"}, **bearer(token)).status_code == 202
        code = last_code(ALICE_PHONE)
        assert api_post(api, "/auth/verify", {"code": "000000" if code != "000000" else "111111"},
                        **bearer(token)).status_code == 400
        assert api_post(api, "/auth/verify", {"code": code}, **bearer(token)).json() == {"verified": True}
        request = RequestFactory().get("/")
        request.user = alice
        from lingjing.accounts.models import ApiToken, hash_token

        request.api_token = ApiToken.objects.get(token_hash=hash_token(token))  # type: ignore[attr-defined]
        assert is_recently_verified(request)
        traveller.shift(601)
        assert not is_recently_verified(request)
        with pytest.raises(VerificationRequired):
            require_recent_verification(request)
    assert AuditEntry.objects.filter(event="account.step_up_verified", subject=alice.subject).count() == 1
    assert AuditEntry.objects.filter(event="account.step_up_failed", subject=alice.subject).count() == 1


def test_consume_verification_code_for_other_apps(api: Client, alice: User) -> None:
    from lingjing.accounts.codes import request_code

    request_code(ALICE_PHONE, "verify", ip="198.51.100.1")
    code = last_code(ALICE_PHONE)
    assert not consume_verification_code(alice, "999999" if code != "999999" else "888888")
    assert consume_verification_code(alice, code)
    assert not consume_verification_code(alice, code)  # single use


def test_a_login_code_is_no_verify_code(api: Client, alice: User) -> None:
    from lingjing.accounts.codes import request_code

    request_code(ALICE_PHONE, "login", ip="198.51.100.1")
    assert not consume_verification_code(alice, last_code(ALICE_PHONE))


def test_phone_change_needs_step_up_and_a_code_on_the_new_number(alice: User) -> None:
    browser = _browser(alice)
    refused = browser.post("/accounts/security/", {"action": "phone_send", "phone": BOB_PHONE})
    assert "请先完成身份验证" in refused.content.decode()
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        browser.post("/accounts/security/", {"action": "send_verify"})
        browser.post("/accounts/security/", {"action": "verify", "code": last_code(ALICE_PHONE)})
        traveller.shift(61)
        browser.post("/accounts/security/", {"action": "phone_send", "phone": "139 1234 0002"})
        done = browser.post("/accounts/security/", {"action": "phone_confirm", "code": last_code(BOB_PHONE)})
    assert done.status_code == 302
    alice.refresh_from_db()
    assert alice.phone == BOB_PHONE
    assert AuditEntry.objects.filter(event="account.phone_changed", subject=alice.subject).exists()


def test_password_change_without_the_old_one_needs_step_up(alice: User) -> None:
    browser = _browser(alice)
    page = browser.post("/accounts/security/", {"action": "password", "new_password": "a brand new passphrase"})
    assert "请输入当前密码，或先完成短信身份验证" in page.content.decode()
    browser.post("/accounts/security/", {"action": "send_verify"})
    browser.post("/accounts/security/", {"action": "verify", "code": last_code(ALICE_PHONE)})
    done = browser.post("/accounts/security/", {"action": "password", "new_password": "a brand new passphrase"})
    assert done.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("a brand new passphrase")
    entry = AuditEntry.objects.get(event="account.password_changed")
    assert entry.details == {"via": "step_up"}


def test_password_change_with_the_old_one_keeps_this_session(alice: User) -> None:
    browser = _browser(alice)
    other = _browser(alice)
    done = browser.post("/accounts/security/", {"action": "password", "old_password": PASSWORD,
                                                "new_password": "another long passphrase"})
    assert done.status_code == 302
    assert browser.get("/accounts/security/").status_code == 200
    assert other.get("/accounts/security/").status_code == 302  # other browsers are signed out


def _enrol(browser: Client, user: User) -> str:
    browser.post("/accounts/security/", {"action": "totp_begin"})
    user.refresh_from_db()
    secret = str(user.totp_secret)
    qr = browser.get("/accounts/security/totp.svg")
    assert qr.status_code == 200 and qr["Content-Type"] == "image/svg+xml"
    assert qr.content.lstrip().startswith(b"<?xml") and b"<svg" in qr.content
    done = browser.post("/accounts/security/", {"action": "totp_confirm", "totp": pyotp.TOTP(secret).now()})
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.totp_enabled
    return secret


def test_totp_is_sealed_and_then_required_at_sign_in(api: Client, alice: User) -> None:
    from django.db import connection

    secret = _enrol(_browser(alice), alice)
    with connection.cursor() as cursor:
        cursor.execute("SELECT totp_secret FROM accounts_user WHERE id = %s", [alice.pk.hex])
        raw = cursor.fetchone()
    assert raw is None or secret not in str(raw[0])
    needs = api_post(api, "/auth/login", {"phone": ALICE_PHONE, "password": PASSWORD})
    assert needs.status_code == 401 and needs.json()["error"]["code"] == "totp_required"
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=90), tick=False):
        code = pyotp.TOTP(secret).now()
        ok = api_post(api, "/auth/login", {"phone": ALICE_PHONE, "password": PASSWORD, "totp": code})
        assert ok.status_code == 200
        replay = api_post(api, "/auth/login", {"phone": ALICE_PHONE, "password": PASSWORD, "totp": code})
        assert replay.status_code == 401 and replay.json()["error"]["code"] == "invalid_totp"


def test_web_sign_in_asks_for_the_totp_after_the_password(alice: User) -> None:
    secret = _enrol(_browser(alice), alice)
    browser = Client()
    first = browser.post("/accounts/login/", {"tab": "password", "phone": ALICE_PHONE, "password": PASSWORD,
                                              "action": "login"})
    assert first.status_code == 302 and first["Location"].endswith("/accounts/login/totp/")
    assert browser.get("/accounts/profile/").status_code == 302  # not signed in yet
    assert "两步验证" in browser.get("/accounts/login/totp/").content.decode()
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=90), tick=False):
        done = browser.post("/accounts/login/totp/", {"totp": pyotp.TOTP(secret).now()})
    assert done.status_code == 302
    assert browser.get("/accounts/profile/").status_code == 200


def test_disabling_totp_needs_step_up(alice: User, settings: Any) -> None:
    browser = _browser(alice)
    secret = _enrol(browser, alice)
    browser.post("/accounts/security/", {"action": "totp_disable"})
    alice.refresh_from_db()
    assert alice.totp_enabled
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=90), tick=False):
        browser.post("/accounts/security/", {"action": "verify", "code": pyotp.TOTP(secret).now()})
        browser.post("/accounts/security/", {"action": "totp_disable"})
    alice.refresh_from_db()
    assert not alice.totp_enabled and alice.totp_secret is None
