"""Personas for the security-operations tests: alice and bob are members (with passwords), carol is a member never
involved in anything; officer is a security officer, agent a support agent, both with an authenticator."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

PASSWORD = "correct horse battery staple"  # noqa: S105
ALICE_PHONE = "+8613912350001"
BOB_PHONE = "+8613912350002"
CAROL_PHONE = "+8613912350003"
_STAFF_PHONES = iter(f"+861391236{n:04d}" for n in range(10000))


@pytest.fixture(autouse=True)
def _isolated_limits(settings: Any) -> Iterator[None]:
    """Counters in a private in-memory cache, and no batch state carried over from another test."""
    from lingjing.secops.ratelimits import counter

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": f"secops-{uuid.uuid4()}", "OPTIONS": {"MAX_ENTRIES": 100_000}}}
    counter.clear()
    yield
    counter.clear()


def make_member(phone: str, nickname: str, *, password: str | None = PASSWORD,
                birth_date: dt.date = dt.date(1990, 5, 1), guardian_phone: str | None = None) -> Any:
    from lingjing.accounts.actions import do_register_user

    return do_register_user(phone=phone, nickname=nickname, birth_date=birth_date, password=password,
                            guardian_phone=guardian_phone)


def make_staff(nickname: str, *roles: str, totp: bool = True) -> Any:
    from lingjing.accounts.actions import do_set_roles
    from lingjing.accounts.models import User

    user = make_member(next(_STAFF_PHONES), nickname)
    do_set_roles(user, list(roles), acting_user=None)
    if totp:
        enable_totp(user)
    return User.objects.get(pk=user.pk)


def enable_totp(user: Any) -> str:
    import pyotp

    from lingjing.accounts.actions import do_begin_totp, do_enable_totp

    secret = pyotp.random_base32()
    do_begin_totp(user, secret, acting_user=user)
    do_enable_totp(user, step=0, acting_user=user)
    return secret


def totp_code(user: Any, *, offset: int = 0) -> str:
    import time

    import pyotp

    from lingjing.accounts.models import User

    secret = User.objects.get(pk=user.pk).totp_secret
    return str(pyotp.TOTP(secret).at(time.time() + offset * 30))


def login_api(client: Client, phone: str, **body: Any) -> Any:
    return client.post("/api/v1/auth/login", {"phone": phone, **body}, content_type="application/json")


def browser(user: Any | None = None, **extra: Any) -> Client:
    client = Client(**extra)
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def alice(db: Any) -> Any:
    return make_member(ALICE_PHONE, "爱丽丝")


@pytest.fixture
def bob(db: Any) -> Any:
    return make_member(BOB_PHONE, "鲍勃")


@pytest.fixture
def carol(db: Any) -> Any:
    return make_member(CAROL_PHONE, "卡罗尔")


@pytest.fixture
def officer(db: Any) -> Any:
    return make_staff("安全官甲", "security_officer")


@pytest.fixture
def agent(db: Any) -> Any:
    return make_staff("客服甲", "support_agent")
