"""Test-wide setup: a throwaway data dir, the test environment, and per-test file locations."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("LINGJING_ENV", "test")
os.environ.setdefault("LINGJING_DATA_DIR", tempfile.mkdtemp(prefix="lingjing-test-"))


@pytest.fixture(autouse=True)
def _data_dirs(settings: Any, tmp_path: Path) -> Iterator[Path]:
    """Every test writes its outboxes, media, exports and audit checkpoints under its own tmp_path."""
    settings.DATA_DIR = tmp_path
    settings.OUTBOX_DIR = tmp_path / "outbox"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EXPORTS_DIR = tmp_path / "exports"
    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "audit"
    yield tmp_path
    from lingjing.security.crypto import clear_key_cache

    clear_key_cache()
