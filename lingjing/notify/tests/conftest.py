"""Personas and helpers for the notification tests: alice and bob are adults; staff hold the real roles."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage

from lingjing.sharing.tests.conftest import grant, make_user, staff_in

__all__ = ["grant", "make_user", "staff_in"]


@pytest.fixture(autouse=True)
def _isolated_cache(settings: Any) -> Iterator[None]:
    """Rate-limit counters in a private in-memory cache, so tests neither share nor leak budgets."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": f"notify-{uuid.uuid4()}"}}
    yield


def confirm_email(user: Any, address: str) -> None:
    from lingjing.notify.actions import do_confirm_notify_email, do_set_notify_email

    do_set_notify_email(user, address, acting_user=user)
    do_confirm_notify_email(user, acting_user=user)


class FlakyEmailBackend(BaseEmailBackend):
    """Raises for the first ``failures`` messages (class attribute, set by the test), then delivers to ``sent``."""

    failures = 0
    sent: list[EmailMessage] = []  # noqa: RUF012 - reset by the fixture

    def send_messages(self, email_messages: Any) -> int:
        if FlakyEmailBackend.failures > 0:
            FlakyEmailBackend.failures -= 1
            raise ConnectionRefusedError("smtp server unreachable")
        FlakyEmailBackend.sent.extend(email_messages)
        return len(email_messages)


@pytest.fixture
def flaky_mail(settings: Any) -> Iterator[type[FlakyEmailBackend]]:
    settings.MAILERS = {"default": {"BACKEND": "lingjing.notify.tests.conftest.FlakyEmailBackend"}}
    FlakyEmailBackend.failures = 0
    FlakyEmailBackend.sent = []
    yield FlakyEmailBackend


@pytest.fixture
def alice(db: Any) -> Any:
    return make_user("alice")


@pytest.fixture
def bob(db: Any) -> Any:
    return make_user("bob")


@pytest.fixture
def publisher(db: Any) -> Any:
    return staff_in("publisher", "support_agent")
