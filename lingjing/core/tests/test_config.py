"""A bad configuration stops start-up with exit status 2 and one line on stderr; a full production one is clean."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

import pytest

from lingjing.core.tests.procs import clean_env, run_lingjing


def key32() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def production_keys() -> dict[str, str]:
    return {
        "LINGJING_ENV": "production",
        "LINGJING_SECRET_KEY": secrets.token_urlsafe(64),
        "LINGJING_MASTER_KEY": key32(),
        "LINGJING_BLIND_INDEX_KEY": key32(),
        "LINGJING_AUDIT_SIGNING_KEY": key32(),
        "LINGJING_ALLOWED_HOSTS": "lingjing.example.cn",
    }


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"DATABASE_URL": "postgres://app:s3cret-pw@db.example:99999/lingjing"}, "DATABASE_URL has a bad port"),
        ({"DATABASE_URL": "mysql://app@db/lingjing"}, "DATABASE_URL must be postgres"),
        ({"DATABASE_URL": "postgres://app@db:5432/"}, "DATABASE_URL names no database"),
        ({**production_keys(), "LINGJING_MASTER_KEY": ""}, "LINGJING_MASTER_KEY is required"),
        ({**production_keys(), "LINGJING_MASTER_KEY": "c2hvcnQ="}, "LINGJING_MASTER_KEY must be base64 of exactly 32"),
        ({"LINGJING_DEBUG": "maybe"}, "LINGJING_DEBUG must be a boolean"),
        ({"LINGJING_SESSION_AGE": "two weeks"}, "LINGJING_SESSION_AGE must be a whole number"),
        ({"LINGJING_DELETION_GRACE_DAYS": "-1"}, "LINGJING_DELETION_GRACE_DAYS must be at least 0"),
        ({"LINGJING_ENV": "staging"}, "LINGJING_ENV must be development, production or test"),
    ],
    ids=["db-port", "db-scheme", "db-name", "no-master-key", "short-master-key", "bool", "int", "min", "env"],
)
def test_bad_configuration_stops_with_one_line_and_status_2(
    tmp_path: Path, variables: dict[str, str], expected: str
) -> None:
    result = run_lingjing(clean_env(tmp_path, **variables), "check")
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("lingjing: configuration error:") and expected in lines[0]
    assert "Traceback" not in result.stderr
    assert "s3cret-pw" not in result.stderr  # a password in a URL is never echoed


def test_production_with_every_key_passes_the_deploy_checks(tmp_path: Path) -> None:
    result = run_lingjing(clean_env(tmp_path, **production_keys()), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "no issues" in result.stdout
