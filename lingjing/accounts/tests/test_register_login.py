"""Registration, sign-in and sign-out through the API contract; password rules; audit of every attempt."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import time_machine
from django.test import Client, override_settings
from django.utils import timezone

from lingjing.accounts.models import ApiToken, User, UserStatus
from lingjing.accounts.tests.conftest import (
    ALICE_PHONE,
    BOB_PHONE,
    PASSWORD,
    api_post,
    bearer,
    last_code,
    make_user,
)
from lingjing.security.audit_models import AuditEntry

pytestmark = pytest.mark.django_db


def _code(client: Client, phone: str, purpose: str) -> str:
    assert api_post(client, "/auth/sms-code", {"phone": phone, "purpose": purpose}).status_code == 202
    return last_code(phone)


def _register(client: Client, **over: Any) -> Any:
    body = {"phone": "13912340001", "nickname": "爱丽丝", "birth_date": "1995-05-05", "password": PASSWORD}
    body.update(over)
    if "code" not in body:
        body["code"] = _code(client, "+86" + body["phone"][-11:], "register")
    return api_post(client, "/auth/register", body)


def test_register_with_only_a_phone_code_nickname_and_birth_date(api: Client) -> None:
    response = _register(api, password=None)
    assert response.status_code == 201
    data = response.json()
    user = User.objects.get()
    assert data["user"] == {"id": str(user.pk), "nickname": "爱丽丝", "status": "active"}
    assert user.phone == ALICE_PHONE and not user.has_usable_password()
    me = api.get("/api/v1/me", **bearer(data["token"]))
    assert me.status_code == 200
    assert me.json() == {"id": str(user.pk), "nickname": "爱丽丝", "avatar_url": None, "phone_masked": "139****0001"}


def test_registration_records_acceptance_of_the_policy_in_force(api: Client) -> None:
    from lingjing.consent.models import PolicyAcceptance
    from lingjing.consent.policy import current_policy_version

    assert _register(api).status_code == 201
    acceptance = PolicyAcceptance.objects.get(user=User.objects.get())
    assert acceptance.version == current_policy_version()


def test_registration_is_audited_without_the_phone_or_password(api: Client) -> None:
    _register(api)
    user = User.objects.get()
    entry = AuditEntry.objects.get(event="account.user_created")
    assert entry.subject == user.subject
    dumped = json.dumps(entry.details) + entry.actor
    assert "13912340001" not in dumped and PASSWORD not in dumped


def test_a_wrong_code_does_not_register(api: Client) -> None:
    code = _code(api, ALICE_PHONE, "register")
    wrong = "000000" if code != "000000" else "111111"
    response = _register(api, code=wrong)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_code"
    assert not User.objects.exists()


def test_a_registered_number_cannot_register_again(api: Client) -> None:
    make_user(ALICE_PHONE, "先来的")
    response = _register(api)
    assert response.status_code == 409 and response.json()["error"]["code"] == "phone_taken"


@pytest.mark.parametrize(("nickname", "code"), [
    ("a", "nickname_length"), ("这是一个超过二十个字符长度的非常非常长的昵称啊啊", "nickname_length"),
    ("灵境官方", "nickname_reserved"), ("客服小美", "nickname_reserved"), ("ＡＤＭＩＮ", "nickname_reserved"),
    ("<script>", "nickname_chars"), ("12345", "nickname_chars"),
])
def test_nickname_rules(api: Client, nickname: str, code: str) -> None:
    response = _register(api, nickname=nickname)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]  # Chinese, for the user


def test_nicknames_are_unique_ignoring_case_and_width(api: Client) -> None:
    make_user(BOB_PHONE, "Alice")
    response = _register(api, nickname="ａｌｉｃｅ")
    assert response.status_code == 409 and response.json()["error"]["code"] == "nickname_taken"


@pytest.mark.parametrize("password", ["short1", "password123", "x" * 129])
def test_password_rules(api: Client, password: str) -> None:
    response = _register(api, password=password)
    assert response.status_code == 422 and response.json()["error"]["code"] == "weak_password"


def test_long_passphrases_without_composition_rules_are_fine(api: Client) -> None:
    assert _register(api, password="all lowercase words and nothing else at all " + "x" * 40).status_code == 201


def test_production_hashes_passwords_with_argon2() -> None:
    from django.conf import settings as dj

    from lingjing import settings as project

    production = [h for h in project.PASSWORD_HASHERS if "MD5" not in h]
    assert production[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    with override_settings(PASSWORD_HASHERS=production):
        user = make_user()
        assert user.password.startswith("argon2$")
    assert dj.PASSWORD_HASHERS[0].endswith("MD5PasswordHasher")  # tests only, for speed


def test_login_by_password_and_by_code_then_logout(api: Client, alice: User) -> None:
    response = api_post(api, "/auth/login", {"phone": "139 1234 0001", "password": PASSWORD})
    assert response.status_code == 200
    token = response.json()["token"]
    assert api.get("/api/v1/me", **bearer(token)).json()["nickname"] == "爱丽丝"
    code = _code(api, ALICE_PHONE, "login")
    token2 = api_post(api, "/auth/login", {"phone": ALICE_PHONE, "code": code}).json()["token"]
    assert token2 != token
    assert api.post("/api/v1/auth/logout", **bearer(token)).status_code == 204
    assert api.get("/api/v1/me", **bearer(token)).status_code == 401
    assert api.get("/api/v1/me", **bearer(token2)).status_code == 200
    assert ApiToken.objects.filter(revoked_at__isnull=False).count() == 1


def test_failed_logins_are_audited_pseudonymously_and_say_nothing_specific(api: Client, alice: User) -> None:
    wrong = api_post(api, "/auth/login", {"phone": ALICE_PHONE, "password": "not the password"})
    unknown = api_post(api, "/auth/login", {"phone": BOB_PHONE, "password": "not the password"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    failures = list(AuditEntry.objects.filter(event="account.login_failed").order_by("seq"))
    assert [f.subject for f in failures] == [alice.subject, ""]
    for entry in failures:
        text = json.dumps(entry.details) + entry.actor
        assert "not the password" not in text and "1391234000" not in text
        assert entry.details["phone"].startswith("p:") and entry.details["ip"] == "203.0.113.0/24"
    api_post(api, "/auth/login", {"phone": ALICE_PHONE, "password": PASSWORD})
    ok = AuditEntry.objects.get(event="account.login_succeeded")
    assert ok.subject == alice.subject and ok.details["method"] == "password"


def test_five_failures_lock_the_account_with_growing_backoff(api: Client, alice: User) -> None:
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for _ in range(5):
            assert api_post(api, "/auth/login", {"phone": ALICE_PHONE, "password": "wrong pass"}).status_code == 401
        locked = api_post(api, "/auth/login", {"phone": ALICE_PHONE, "password": PASSWORD})
        assert locked.status_code == 429 and locked["Retry-After"] == "60"
        assert "登录失败次数过多" in locked.json()["error"]["message"]
        traveller.shift(61)
        assert api_post(api, "/auth/login", {"phone": ALICE_PHONE, "password": "wrong pass"}).status_code == 401
        assert api_post(api, "/auth/login", {"phone": ALICE_PHONE, "password": PASSWORD})["Retry-After"] == "120"
        traveller.shift(121)
        assert api_post(api, "/auth/login", {"phone": ALICE_PHONE, "password": PASSWORD}).status_code == 200


def test_failures_from_one_address_lock_that_address(settings: Any, api: Client) -> None:
    settings.LINGJING_LOGIN_IP_FAILURES_BEFORE_LOCK = 3
    for n in range(3):
        api_post(api, "/auth/login", {"phone": f"+86139000000{n:02d}", "password": "whatever1"})
    assert api_post(api, "/auth/login", {"phone": "+8613900000099", "password": "x12345678"}).status_code == 429
    other = Client(REMOTE_ADDR="198.51.100.77")
    assert api_post(other, "/auth/login", {"phone": "+8613900000099", "password": "x12345678"}).status_code == 401


def test_wrong_code_logins_never_sign_in(api: Client, alice: User) -> None:
    """Through HTTP and the lock; the 1,000-guess run is at the service layer (test_codes)."""
    code = _code(api, ALICE_PHONE, "login")
    statuses = set()
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for n in range(60):
            guess = f"{(int(code) + 1 + n) % 1_000_000:06d}"
            response = api_post(api, "/auth/login", {"phone": ALICE_PHONE, "code": guess})
            statuses.add(response.status_code)
            if n % 10 == 9:
                traveller.shift(3601)  # let the lock expire, so the guesses really reach the code check
    assert statuses <= {401, 429} and 401 in statuses
    assert not ApiToken.objects.exists()
    traveller_free = api_post(api, "/auth/login", {"phone": ALICE_PHONE, "code": code})
    assert traveller_free.status_code in (401, 429)  # the code died after the fifth miss


def test_erased_or_unknown_accounts_cannot_sign_in(api: Client, alice: User) -> None:
    User.objects.filter(pk=alice.pk).update(status=UserStatus.ERASED)
    assert api_post(api, "/auth/login", {"phone": ALICE_PHONE, "password": PASSWORD}).status_code == 401


def test_web_login_rotates_the_session_and_lists_the_device(alice: User) -> None:
    browser = Client(REMOTE_ADDR="203.0.113.5", HTTP_USER_AGENT="Mozilla/5.0 (Windows NT 10.0) Chrome/140.0")
    browser.get("/accounts/login/")
    browser.cookies["sessionid"] = "fixated-session-key-from-an-attacker"
    response = browser.post("/accounts/login/", {"tab": "password", "phone": ALICE_PHONE, "password": PASSWORD,
                                                 "action": "login"})
    assert response.status_code == 302
    assert browser.cookies["sessionid"].value != "fixated-session-key-from-an-attacker"
    page = browser.get("/accounts/security/")
    assert "Chrome · Windows" in page.content.decode() and "当前设备" in page.content.decode()


def test_devices_are_listed_and_revocable_through_the_api(api: Client, alice: User) -> None:
    t1 = api_post(api, "/auth/login", {"phone": ALICE_PHONE, "password": PASSWORD}).json()["token"]
    t2 = api_post(api, "/auth/login", {"phone": ALICE_PHONE, "password": PASSWORD}).json()["token"]
    items = api.get("/api/v1/me/sessions", **bearer(t1)).json()
    assert len(items) == 2 and sum(i["current"] for i in items) == 1
    other = next(i for i in items if not i["current"])
    assert api.delete(f"/api/v1/me/sessions/{other['id']}", **bearer(t1)).status_code == 204
    assert api.get("/api/v1/me", **bearer(t2)).status_code == 401
    assert api.delete(f"/api/v1/me/sessions/{other['id']}", **bearer(t1)).status_code == 404


def test_revoking_a_web_session_signs_that_browser_out(alice: User, api: Client) -> None:
    browser = Client()
    browser.post("/accounts/login/", {"tab": "password", "phone": ALICE_PHONE, "password": PASSWORD,
                                      "action": "login"})
    assert browser.get("/accounts/profile/").status_code == 200
    token = api_post(api, "/auth/login", {"phone": ALICE_PHONE, "password": PASSWORD}).json()["token"]
    web = next(i for i in api.get("/api/v1/me/sessions", **bearer(token)).json() if i["kind"] == "web")
    assert api.delete(f"/api/v1/me/sessions/{web['id']}", **bearer(token)).status_code == 204
    assert browser.get("/accounts/profile/").status_code == 302  # back to the login page


def test_patch_me_changes_the_nickname(api: Client, alice: User) -> None:
    token = api_post(api, "/auth/login", {"phone": ALICE_PHONE, "password": PASSWORD}).json()["token"]
    response = api.patch("/api/v1/me", {"nickname": "新昵称"}, content_type="application/json", **bearer(token))
    assert response.status_code == 200 and response.json()["nickname"] == "新昵称"
    make_user(BOB_PHONE, "鲍勃")
    taken = api.patch("/api/v1/me", {"nickname": "鲍勃"}, content_type="application/json", **bearer(token))
    assert taken.status_code == 409
    assert AuditEntry.objects.filter(event="account.profile_updated", subject=alice.subject).count() == 1


@pytest.mark.parametrize("birth_date", ["future", "1990-02-30", "1850-01-01", "yesterday-ish"])
def test_birth_dates_must_be_real(api: Client, birth_date: str) -> None:
    if birth_date == "future":
        birth_date = (timezone.localdate() + dt.timedelta(days=2)).isoformat()
    response = _register(api, birth_date=birth_date)
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_birth_date"
    assert not User.objects.exists()
