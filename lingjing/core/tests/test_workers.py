"""Several workers on one queue: every task runs exactly once, on the database queue and on Redis (RQ)."""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from lingjing.core.keyfiles import load_or_create_keys
from lingjing.core.tests.claimtasks import CLAIMS_TABLE, CREATE_TABLE
from lingjing.core.tests.procs import clean_env, free_port, lingjing
from lingjing.core.tests.test_serve import copy_test_database

TASKS = 30
WORKERS = 2
CLAIMS_SQL = f"SELECT task_no, worker_pid FROM {CLAIMS_TABLE}"  # noqa: S608
STATUS_SQL = "SELECT DISTINCT status FROM django_tasks_database_dbtaskresult"


class Workers:
    """``lingjing worker`` processes, their output collected, stopped with SIGTERM."""

    def __init__(self, env: dict[str, str], count: int) -> None:
        self.procs = [
            subprocess.Popen(
                lingjing("worker", "--queues", "default", "--interval", "0.05"),
                env=env, cwd=env["LINGJING_DATA_DIR"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )  # fmt: skip
            for _ in range(count)
        ]
        self.logs: list[list[str]] = [[] for _ in self.procs]
        for proc, log in zip(self.procs, self.logs, strict=True):
            threading.Thread(target=self._collect, args=(proc, log), daemon=True).start()

    @staticmethod
    def _collect(proc: subprocess.Popen[str], log: list[str]) -> None:
        log.extend(iter(proc.stdout.readline, ""))  # type: ignore[union-attr]

    def output(self) -> str:
        return "\n---\n".join("".join(log) for log in self.logs)

    def wait_started(self, marker: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(marker in "".join(log) for log in self.logs):
                return
            if any(proc.poll() is not None for proc in self.procs):
                break
            time.sleep(0.05)
        pytest.fail("workers did not start:\n" + self.output())

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def enqueuer(env: dict[str, str], count: int) -> subprocess.Popen[str]:
    """Enqueues while the workers start (each process takes seconds to start on a busy machine)."""
    code = (
        "from lingjing.core.tests.claimtasks import record_claim\n"
        f"for n in range({count}):\n    record_claim.enqueue(n)\n"
    )
    command = lingjing("shell", "-c", code)
    return subprocess.Popen(command, env=env, cwd=env["LINGJING_DATA_DIR"], stderr=subprocess.PIPE, text=True)


def wait_for_claims(count_claims: Any, workers: Workers, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if count_claims() >= TASKS:
            time.sleep(0.3)  # a double run, had there been one, would show up now
            return
        time.sleep(0.1)
    pytest.fail(f"only {count_claims()} of {TASKS} tasks ran:\n" + workers.output())


@pytest.fixture
def stack(tmp_path: Path, transactional_db: Any) -> Iterator[tuple[dict[str, str], Any]]:
    """An environment for worker processes on a database they share with this test, with the claims table.

    SQLite: a file copy of the migrated test database. PostgreSQL: the test database itself (the test
    commits, so the workers see its rows)."""
    load_or_create_keys(tmp_path / "keys", production=False)  # once, before several processes race to make them
    if connection.vendor == "sqlite":
        database = tmp_path / "lingjing.sqlite3"
        if not copy_test_database(database):
            pytest.skip("needs the in-memory SQLite test database to copy")
        with closing(sqlite3.connect(database)) as db:
            db.execute(CREATE_TABLE)
            db.commit()

        def rows(sql: str = CLAIMS_SQL) -> list[tuple[Any, ...]]:
            with closing(sqlite3.connect(database, timeout=20)) as db:
                return list(db.execute(sql))

        yield clean_env(tmp_path), rows
        return
    settings_dict = connection.settings_dict
    url = "postgres://{USER}:{PASSWORD}@{HOST}:{PORT}/{NAME}".format(
        **{key: settings_dict.get(key) or "" for key in ("USER", "PASSWORD", "HOST", "PORT", "NAME")}
    ).replace(":@", "@")
    with connection.cursor() as cursor:
        cursor.execute(CREATE_TABLE)

    def pg_rows(sql: str = CLAIMS_SQL) -> list[tuple[Any, ...]]:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return list(cursor.fetchall())

    try:
        yield clean_env(tmp_path, DATABASE_URL=url), pg_rows
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {CLAIMS_TABLE}")


def check_each_ran_once(rows: list[tuple[Any, ...]], workers: Workers) -> set[int]:
    numbers = sorted(number for number, _pid in rows)
    assert numbers == list(range(TASKS)), workers.output()  # the primary key refuses a second run of any task
    assert "IntegrityError" not in workers.output() and "UniqueViolation" not in workers.output()
    return {pid for _number, pid in rows}


@pytest.mark.process
def test_database_queue_workers_run_each_task_exactly_once(stack: tuple[dict[str, str], Any]) -> None:
    env, rows = stack
    env = {**env, "LINGJING_TASK_BACKEND": "database"}
    workers = Workers(env, WORKERS)
    try:
        queued = enqueuer(env, TASKS)
        workers.wait_started("Starting worker")
        assert queued.wait(timeout=60) == 0, queued.stderr.read() if queued.stderr else ""
        wait_for_claims(lambda: len(rows()), workers)
    finally:
        workers.stop()
    pids = check_each_ran_once(rows(), workers)
    assert pids <= {proc.pid for proc in workers.procs}
    assert len(pids) >= 2, f"one worker did all the work: {json.dumps(workers.output())}"
    assert rows(STATUS_SQL) == [("SUCCESSFUL",)]


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[str]:
    """A Redis server of this test's own on a free port (RQ's queue names are fixed: a shared server would mix
    the jobs of two test runs)."""
    import redis

    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
                break
            except redis.RedisError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.skip("redis-server did not start")
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.process
def test_rq_workers_on_redis_run_each_task_exactly_once(stack: tuple[dict[str, str], Any], private_redis: str) -> None:
    url = private_redis
    env, rows = stack
    env = {**env, "LINGJING_TASK_BACKEND": "rq", "REDIS_URL": url}
    workers = Workers(env, WORKERS)
    try:
        queued = enqueuer(env, TASKS)
        workers.wait_started("Listening on")
        assert queued.wait(timeout=60) == 0, queued.stderr.read() if queued.stderr else ""
        wait_for_claims(lambda: len(rows()), workers)
    finally:
        workers.stop()
    pids = check_each_ran_once(rows(), workers)
    assert pids <= {proc.pid for proc in workers.procs}  # SimpleWorker: jobs run in the worker, no fork
    assert len(pids) >= 2, workers.output()
