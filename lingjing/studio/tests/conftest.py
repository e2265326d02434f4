from __future__ import annotations

from typing import Any

import pytest

from lingjing.accounts.models import User

SHORT_STORY = """第一章 夜雨

李明走进了杭州的一家茶馆。
王芳抬起头，笑道：「你终于来了。」
「路上耽搁了。」李明说。
"""


@pytest.fixture(autouse=True)
def _small_video(settings: Any) -> None:
    """Tiny frames keep the end-to-end renders to a few seconds."""
    settings.LINGJING_STUDIO_VIDEO_SIZE = (144, 256)
    settings.LINGJING_STUDIO_PROVIDERS = {}


@pytest.fixture
def alice(db: Any) -> User:
    return User.objects.create_user("13800138011", nickname="alice")


@pytest.fixture
def bob(db: Any) -> User:
    return User.objects.create_user("13800138012", nickname="bob")
