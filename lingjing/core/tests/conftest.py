from __future__ import annotations

from typing import Any

import pytest


def pytest_configure(config: Any) -> None:
    config.addinivalue_line(
        "markers", "process: starts real processes (gunicorn, a worker); a few seconds, still part of make test"
    )


@pytest.fixture
def make_user(db: Any) -> Any:
    """A member (or staff member) created with the low-level constructor: a test fixture, not product code."""
    from lingjing.accounts.models import User

    counter = iter(range(10_000))

    def make(nickname: str = "alice", *, staff: bool = False, superuser: bool = False) -> User:
        phone = f"+86138{next(counter):08d}"
        return User.objects.create_user(
            phone, "pw-12345678", nickname=nickname, is_staff=staff or superuser, is_superuser=superuser
        )

    return make
