"""Loaded with ``-p lingjing.core.pytest_env`` before pytest-django reads the settings: the test environment
and a throwaway data directory (so test runs never touch ``./var`` or its development keys)."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("LINGJING_ENV", "test")
os.environ.setdefault("LINGJING_DATA_DIR", tempfile.mkdtemp(prefix="lingjing-test-"))
