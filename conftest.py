"""Test-wide setup: a throwaway data dir, the test environment, and per-test file locations."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import lingjing.core.pytest_env  # noqa: F401  (also loaded with -p; kept for direct imports)


@pytest.fixture(autouse=True)
def _data_dirs(settings: Any, tmp_path: Path) -> Iterator[Path]:
    """Every test writes its outboxes, media, exports and audit checkpoints under its own tmp_path."""
    settings.DATA_DIR = tmp_path
    settings.OUTBOX_DIR = tmp_path / "outbox"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EXPORTS_DIR = tmp_path / "exports"
    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "audit"
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)  # a page test that chose English must not leak it into the next test
    yield tmp_path
    translation.activate(settings.LANGUAGE_CODE)
    from lingjing.security.crypto import clear_key_cache

    clear_key_cache()
    _clear_cache()


def _clear_cache() -> None:
    """Rate-limit counters must not leak between tests (Redis keeps them outside the test transaction)."""
    from django.core.cache import cache

    client = getattr(getattr(cache, "_cache", None), "get_client", None)
    if client is None:
        with contextlib.suppress(Exception):  # the cache table may be gone in transactional teardown
            cache.clear()
        return
    redis = client(None, write=True)
    keys = list(redis.scan_iter(match=cache.make_key("*").replace(":1:*", ":*")))
    if keys:
        redis.delete(*keys)
