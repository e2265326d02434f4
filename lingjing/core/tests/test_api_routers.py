"""Every app's API router is mounted, whichever module a process imports first."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

FIRST_APP_THEN_URLS = """
import django
django.setup()
import lingjing.support.api  # an app's api.py before lingjing.api: it imports lingjing.api half loaded
from django.urls import resolve
from lingjing.api import api
print(resolve("/api/v1/support/tickets").url_name)
print(sorted(p for p in api.get_openapi_schema()["paths"] if p.startswith("/api/v1/support/"))[0])
"""


@pytest.mark.process
def test_a_router_imported_before_the_api_module_is_still_mounted() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "lingjing.settings", "LINGJING_ENV": "test"}
    done = subprocess.run(  # noqa: S603 — a fresh interpreter: the import order is the point
        [sys.executable, "-c", FIRST_APP_THEN_URLS], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split()
    assert lines[0] == "list_tickets" and lines[1].startswith("/api/v1/support/")
