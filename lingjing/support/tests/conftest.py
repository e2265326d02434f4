"""Personas for the customer-service tests: alice and bob are members; ann and bert are agents (the real
support_agent role); olga is a privacy officer."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from lingjing.sharing.tests.conftest import make_user, staff_in


@pytest.fixture(autouse=True)
def _isolated_cache(settings: Any) -> Iterator[None]:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": f"support-{uuid.uuid4()}"}}
    yield


@pytest.fixture
def alice(db: Any) -> Any:
    return make_user("alice")


@pytest.fixture
def bob(db: Any) -> Any:
    return make_user("bob")


@pytest.fixture
def ann(db: Any) -> Any:
    return staff_in("ann", "support_agent")


@pytest.fixture
def bert(db: Any) -> Any:
    return staff_in("bert", "support_agent")


@pytest.fixture
def olga(db: Any) -> Any:
    return staff_in("olga", "privacy_officer")


def client_for(user: Any = None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def open_ticket(user: Any, *, category: str = "account", title: str = "无法登录",
                body: str = "一直提示验证码错误") -> Any:
    from lingjing.support.actions import do_open_ticket

    return do_open_ticket(user=user, category=category, title=title, body=body, acting_user=user)


def code_in(text: str) -> str:
    match = re.search(r"\b(\d{6})\b", text)
    assert match, text
    return match.group(1)


def png_with_exif(size: tuple[int, int] = (640, 400)) -> bytes:
    from PIL import Image

    image = Image.new("RGB", size, (30, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = {2: (30.0, 15.0, 0.0)}  # GPS latitude
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif.tobytes())
    return buffer.getvalue()
