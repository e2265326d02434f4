"""Personas for the sharing tests: alice and bob are adults, kid is 10, staff members hold the roles' rights."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.models import Permission

_PHONES = iter(f"+861380013{n:04d}" for n in range(10000))


def make_user(nickname: str, *, birth: str = "1990-05-01", staff: bool = False, perms: tuple[str, ...] = ()) -> Any:
    from lingjing.accounts.models import User

    user = User.objects.create_user(next(_PHONES), nickname=nickname, birth_date=birth, is_staff=staff)
    for full in perms:
        app_label, codename = full.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return User.objects.get(pk=user.pk)  # fresh: no cached permissions


def staff_in(nickname: str, *roles: str) -> Any:
    """A staff member holding the given roles (the real role groups of lingjing/core/roles.py)."""
    from django.contrib.auth.models import Group

    from lingjing.accounts.models import User

    user = make_user(nickname, staff=True)
    for role in roles:
        user.groups.add(Group.objects.get(name=role))
    return User.objects.get(pk=user.pk)


def child_birth(age: int = 10) -> str:
    from django.utils import timezone

    today = timezone.localdate()
    return dt.date(today.year - age, 1, 1).isoformat()


def grant(user: Any, key: str, granted: bool = True) -> None:
    from lingjing.consent.actions import do_set_consent
    from lingjing.consent.models import Method

    do_set_consent(user, key, granted, method=Method.SETTINGS, acting_user=user)


@pytest.fixture
def alice(db: Any) -> Any:
    return make_user("alice")


@pytest.fixture
def bob(db: Any) -> Any:
    return make_user("bob")


@pytest.fixture
def kid(db: Any) -> Any:
    return make_user("kid", birth=child_birth(10))
