"""Helpers for tests that start ``lingjing`` in a child process, on its own data directory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from django.conf import settings

REPO = Path(settings.BASE_DIR).parent


def clean_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The parent's environment without any Lingjing or service setting, on an embedded SQLite database."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LINGJING_", "DJANGO_")) and key not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(
        {
            "LINGJING_ENV": "development",
            "LINGJING_DATA_DIR": str(data_dir),
            "PYTHONPATH": str(REPO),  # the code under test, whatever is installed
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def lingjing(*args: str) -> list[str]:
    return [sys.executable, "-m", "lingjing.cli", *args]


def run_lingjing(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    command = lingjing(*args)
    cwd = env["LINGJING_DATA_DIR"]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)  # noqa: S603


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
