"""Pages render for anonymous and signed-in people; the web sign-up and code sign-in flows; staff console;
demo seeding; the registry declarations."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.test import Client

from lingjing.accounts.models import User
from lingjing.accounts.tests.conftest import ALICE_PHONE, BOB_PHONE, PASSWORD, last_code, make_user

pytestmark = pytest.mark.django_db
PUBLIC = ["/accounts/register/", "/accounts/login/", "/accounts/login/?tab=code", "/accounts/guardian/"]
PRIVATE = ["/accounts/profile/", "/accounts/security/"]


@pytest.mark.parametrize("path", PUBLIC)
def test_public_pages_render_for_anonymous_people(path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 200
    assert '<html lang="zh-hans">' in response.content.decode()


@pytest.mark.parametrize("path", PRIVATE)
def test_private_pages_send_anonymous_people_to_sign_in(path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("path", PUBLIC + PRIVATE)
def test_pages_render_for_signed_in_people(path: str, alice: User) -> None:
    browser = Client()
    browser.force_login(alice)
    response = browser.get(path)
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert "爱丽丝" in response.content.decode()


def test_pages_render_in_english() -> None:
    response = Client(HTTP_ACCEPT_LANGUAGE="en").get("/accounts/login/")
    assert response.status_code == 200


def test_web_sign_up_in_two_steps_with_the_policy_checkbox() -> None:
    browser = Client(REMOTE_ADDR="198.51.100.3")
    step1 = browser.post("/accounts/register/", {"action": "send_code", "phone": "139 1234 0001"})
    assert step1.status_code == 302 and step1["Location"].endswith("?step=2")
    page = browser.get(step1["Location"]).content.decode()
    assert "139****0001" in page and "/privacy/policy" in page
    form = {"action": "register", "code": last_code(ALICE_PHONE), "nickname": "爱丽丝",
            "birth_date": "1995-05-05", "password": ""}
    refused = browser.post("/accounts/register/?step=2", form)
    assert "请阅读并同意隐私政策" in refused.content.decode() and not User.objects.exists()
    done = browser.post("/accounts/register/?step=2", {**form, "accept_policy": "on"})
    assert done.status_code == 302
    assert browser.get("/accounts/profile/").status_code == 200
    assert User.objects.get().phone == ALICE_PHONE


def test_web_sign_in_by_code_and_sign_out(alice: User) -> None:
    browser = Client(REMOTE_ADDR="198.51.100.4")
    sent = browser.post("/accounts/login/", {"tab": "code", "action": "send_code", "phone": ALICE_PHONE})
    assert sent.status_code == 302
    page = browser.get(sent["Location"]).content.decode()
    assert "验证码已发送" in page
    done = browser.post("/accounts/login/", {"tab": "code", "action": "login", "phone": ALICE_PHONE,
                                             "code": last_code(ALICE_PHONE)})
    assert done.status_code == 302
    assert browser.get("/accounts/profile/").status_code == 200
    assert browser.post("/accounts/logout/").status_code == 302
    assert browser.get("/accounts/profile/").status_code == 302


def test_sign_in_errors_are_shown_in_chinese(alice: User) -> None:
    page = Client().post("/accounts/login/", {"tab": "password", "action": "login", "phone": ALICE_PHONE,
                                              "password": "wrong password"})
    assert "手机号或密码错误" in page.content.decode()


def test_logout_is_post_only(alice: User) -> None:
    browser = Client()
    browser.force_login(alice)
    assert browser.get("/accounts/logout/").status_code == 405


def test_open_redirects_are_refused(alice: User) -> None:
    browser = Client()
    done = browser.post("/accounts/login/?next=https://evil.example/", {
        "tab": "password", "action": "login", "phone": ALICE_PHONE, "password": PASSWORD,
        "next": "https://evil.example/"})
    assert done.status_code == 302 and done["Location"] == "/"


def test_the_staff_console_never_decrypts_phones_in_lists(alice: User, django_assert_max_num_queries: Any) -> None:
    from unittest import mock

    staff = make_user(BOB_PHONE, "站务", password=PASSWORD)
    User.objects.filter(pk=staff.pk).update(is_staff=True, is_superuser=True)
    browser = Client()
    browser.force_login(User.objects.get(pk=staff.pk))
    with mock.patch("lingjing.security.crypto.open_sealed", side_effect=AssertionError("decrypted")):
        listing = browser.get("/console/accounts/user/")
    assert listing.status_code == 200
    text = listing.content.decode()
    assert "爱丽丝" in text and "13912340001" not in text and "139****0001" not in text
    found = browser.get("/console/accounts/user/", {"q": "139 1234 0001"})
    assert "爱丽丝" in found.content.decode() and "站务" not in found.content.decode().split("result_list")[-1]
    detail = browser.get(f"/console/accounts/user/{alice.pk}/change/").content.decode()
    assert "139****0001" in detail and "13912340001" not in detail


def test_demo_seed_is_idempotent_and_prints_the_credentials() -> None:
    from django.contrib.auth.models import Group

    from lingjing.accounts.demo import DEMO_PASSWORD, seed

    out = io.StringIO()
    first = seed(out)
    again = seed(io.StringIO())
    assert [u.pk for u in first] == [u.pk for u in again]
    text = out.getvalue()
    assert DEMO_PASSWORD in text and "+8613800000001" in text
    assert User.objects.filter(nickname__in=["演示创作者", "演示观众"]).count() == 2
    admin = User.objects.get_by_phone("+8613800000000")
    assert admin is not None and admin.is_superuser and admin.check_password(DEMO_PASSWORD)
    for role in ("support_agent", "privacy_officer", "security_officer", "content_moderator", "auditor"):
        members = Group.objects.get(name=role).user_set.all()
        assert members.count() == 1 and members[0].is_staff


def test_every_accounts_field_is_declared() -> None:
    from django.apps import apps

    from lingjing.privacy.registry import find_gaps

    assert find_gaps(list(apps.get_app_config("accounts").get_models())) == []


def test_the_security_page_advises_complex_passwords(alice: User) -> None:
    browser = Client()
    browser.force_login(alice)
    page = browser.get("/accounts/security/").content.decode()
    assert "建议使用较长、不易被猜到的复杂密码" in page
    register = Client().get("/accounts/register/?step=2")
    assert register.status_code == 200
