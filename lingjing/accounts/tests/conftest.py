"""Personas and helpers for the accounts tests."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.core.cache.backends.db import DatabaseCache
from django.test import Client

from lingjing.core.outbox import read_jsonl

ALICE_PHONE = "+8613912340001"
BOB_PHONE = "+8613912340002"
PASSWORD = "correct horse battery staple"  # noqa: S105


@pytest.fixture(autouse=True)
def _isolated_cache(settings: Any) -> Iterator[None]:
    """The database cache lives in the test database and is rolled back with it. Any other configured cache
    (Redis via REDIS_URL) is shared with other test runs, so the accounts tests use a private in-memory one."""
    if not isinstance(caches["default"], DatabaseCache):
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                       "LOCATION": f"accounts-{uuid.uuid4()}", "OPTIONS": {"MAX_ENTRIES": 100000}}}
    yield


def sms() -> list[dict[str, Any]]:
    return read_jsonl("sms.jsonl")


def last_code(phone: str) -> str:
    for message in reversed(sms()):
        if message["to"] == phone:
            match = re.search(r"\b(\d{6})\b", message["text"])
            assert match, message
            return match.group(1)
    raise AssertionError(f"no SMS to {phone}")


def make_user(phone: str = ALICE_PHONE, nickname: str = "爱丽丝", *, password: str | None = PASSWORD,
              birth_date: dt.date = dt.date(1995, 5, 5), guardian_phone: str | None = None) -> Any:
    from lingjing.accounts.actions import do_register_user

    return do_register_user(phone=phone, nickname=nickname, birth_date=birth_date, password=password,
                            guardian_phone=guardian_phone)


def api_post(client: Client, path: str, body: dict[str, Any], **extra: Any) -> Any:
    return client.post(f"/api/v1{path}", body, content_type="application/json", **extra)


def bearer(token: str) -> dict[str, Any]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def alice(db: None) -> Any:
    return make_user()


@pytest.fixture
def api() -> Client:
    return Client(REMOTE_ADDR="203.0.113.10")
