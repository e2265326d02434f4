"""Personas for the consent tests: alice and bob are members, olivia is the privacy officer."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client


def make_user(django_user_model: Any, phone: str, nickname: str) -> Any:
    return django_user_model.objects.create_user(phone, nickname=nickname)


@pytest.fixture
def alice(django_user_model: Any) -> Any:
    return make_user(django_user_model, "+8613800000001", "alice")


@pytest.fixture
def bob(django_user_model: Any) -> Any:
    return make_user(django_user_model, "+8613800000002", "bob")


@pytest.fixture
def olivia(django_user_model: Any) -> Any:
    """A privacy officer: member of the ``privacy_officer`` role group (permissions from lingjing.core.roles)."""
    from django.contrib.auth.models import Group, Permission

    user = make_user(django_user_model, "+8613800000009", "olivia")
    user.is_staff = True
    user.save()
    group, _ = Group.objects.get_or_create(name="privacy_officer")
    if not group.permissions.filter(codename="publish_policyversion").exists():
        group.permissions.add(Permission.objects.get(codename="publish_policyversion"))
    user.groups.add(group)
    return django_user_model.objects.get(pk=user.pk)


@pytest.fixture
def alice_client(alice: Any) -> Client:
    client = Client()
    client.force_login(alice)
    return client


def set_cookies(client: Client, categories: list[str], **extra: Any) -> Any:
    """Answer the cookie banner the way the plain HTML form does."""
    data: dict[str, Any] = {"choice": "save", "categories": categories, "next": "/", "source": "banner"}
    return client.post("/privacy/cookies", data, **extra)
