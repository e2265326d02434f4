"""Smoke versions of the sign-in and load benchmarks: tiny sizes, so the scripts cannot rot (CI runs no benchmark)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.db import connection

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadtest  # noqa: E402
import signin  # noqa: E402

from lingjing.core.keyfiles import load_or_create_keys  # noqa: E402
from lingjing.core.tests.test_serve import copy_test_database  # noqa: E402


class QuickArgon2(Argon2PasswordHasher):
    """Argon2 with tiny costs: the same code path as production's hasher, in milliseconds."""

    time_cost = 1
    memory_cost = 1024
    parallelism = 1


@pytest.mark.django_db
def test_signin_benchmark_runs_and_compares_against_argon2(settings: Any) -> None:
    settings.PASSWORD_HASHERS = [f"{QuickArgon2.__module__}.{QuickArgon2.__qualname__}"]
    result = signin.run(3, warmup=1)
    assert result["rounds"] == 3
    assert result["signin_ms"]["median"] > 0 and result["verify_ms"]["median"] > 0
    assert result["ratio_median"] == pytest.approx(result["signin_ms"]["median"] / result["verify_ms"]["median"])
    assert "ratio:" in signin.report(result)


@pytest.fixture
def site(tmp_path: Path, db: Any) -> Iterator[dict[str, str]]:
    """The environment of a server on a file copy of the migrated SQLite test database. (On PostgreSQL the
    smoke is skipped: sharing the test database with a seeding and a serving process proved order-dependent;
    ``bench/loadtest.py --database-url`` measures that stack on a database of its own.)"""
    if connection.vendor != "sqlite" or not copy_test_database(tmp_path / "lingjing.sqlite3"):
        pytest.skip("needs the in-memory SQLite test database to copy")
    load_or_create_keys(tmp_path / "keys", production=False)
    env = loadtest.server_env(tmp_path, mode="development")
    env["LINGJING_DEBUG"] = "1"  # static files straight from the apps, no collectstatic in a smoke test
    yield env


def test_load_benchmark_runs_a_tiny_mixed_workload_without_errors(site: dict[str, str]) -> None:
    fixture = loadtest.prepare(site, works=6, members=2, demo=False, migrate=False)
    assert len(fixture["work_ids"]) == 6 and len(fixture["tokens"]) == 2 and fixture["queries"]
    server = loadtest.Server(site, web_workers=1, threads=2, task_worker=False, migrate=False)
    server.start(timeout=120)
    try:
        result = loadtest.measure(server, fixture, rate=20, duration=2, baseline=0.5)
    finally:
        server.stop()
    mix = result["mix"]
    assert mix["requests"] == 40 and result["baseline"]["requests"] == 10
    assert mix["errors"] == 0, mix["error_statuses"]
    assert set(mix["endpoints"]) <= {name for name, _ in loadtest.MIX} and len(mix["endpoints"]) >= 5
    assert 0 < mix["p50_ms"] <= mix["p95_ms"] <= mix["p99_ms"]
    assert "ratio: mix p95" in loadtest.report({**result, "stack": "smoke"})


def test_load_benchmark_profiles_the_same_mix_in_process(site: dict[str, str]) -> None:
    loadtest.prepare(site, works=4, members=1, demo=False, migrate=False)
    result = loadtest.profile(site, 30, None, as_json=True)
    assert result["requests"] == 30 and result["cpu_ms_per_request"] > 0
    assert sum(e["n"] for e in result["endpoints"].values()) == 30
    assert abs(sum(e["share"] for e in result["endpoints"].values()) - 1) < 1e-6
    assert "CPU per request" in loadtest.profile_report(result)
