"""Helpers for the fault tests: a database and a data directory shared with real ``lingjing`` processes, started
with a fault point (``lingjing/core/faults.py``), killed with SIGKILL there, and started again.

SQLite: the processes work on a file copy of the in-memory test database (``publish``) and the test reads their
result back into its own database (``pull``, SQLite's backup API). PostgreSQL: they use the test database itself
(the tests commit: ``transactional_db``).
"""

from __future__ import annotations

import base64
import json
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from lingjing.core.tests.procs import clean_env, lingjing
from lingjing.core.tests.test_serve import copy_test_database

LEASE = "2"  # seconds without a heartbeat before a worker's running tasks are given back


def write_keys(directory: Path, **extra: bytes) -> None:
    """The test process's own keys as development key files, so the processes open what the test sealed."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    current = settings.LINGJING_MASTER_KEYS[settings.LINGJING_CURRENT_MASTER_KEY_ID]
    files = {
        "secret_key": settings.SECRET_KEY.encode(),
        "master.key": base64.b64encode(current),
        "blind_index.key": base64.b64encode(settings.LINGJING_BLIND_INDEX_KEY),
        "audit_signing.key": base64.b64encode(settings.LINGJING_AUDIT_SIGNING_KEY),
    }
    for name, content in files.items():
        (directory / name).write_bytes(content)


@dataclass
class Proc:
    """A ``lingjing`` child process with its output collected."""

    popen: subprocess.Popen[str]
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        threading.Thread(target=lambda: self.log.extend(iter(self.popen.stdout.readline, "")),  # type: ignore[union-attr]
                         daemon=True).start()

    def output(self) -> str:
        return "".join(self.log)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


@dataclass
class Shared:
    data_dir: Path
    env: dict[str, str]
    procs: list[Proc] = field(default_factory=list)

    @property
    def database(self) -> Path:
        return self.data_dir / "lingjing.sqlite3"

    def publish(self) -> None:
        """The rows the test wrote, for the processes (SQLite: a fresh file copy)."""
        if connection.vendor == "sqlite":
            self.database.unlink(missing_ok=True)
            assert copy_test_database(self.database), "could not copy the test database"

    def pull(self) -> None:
        """The rows the processes wrote, for the test (SQLite: the file copied over the in-memory database)."""
        if connection.vendor == "sqlite":
            connection.ensure_connection()
            with closing(sqlite3.connect(self.database, timeout=20)) as source:
                source.backup(connection.connection)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Read what the processes wrote so far (without pulling)."""
        if connection.vendor == "sqlite":
            with closing(sqlite3.connect(self.database, timeout=20)) as db:
                return list(db.execute(sql))
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return list(cursor.fetchall())

    def start(self, *args: str, fault: str = "", **extra: str) -> Proc:
        env = {**self.env, **extra}
        if fault:
            env["LINGJING_FAULT_POINT"] = fault
        popen = subprocess.Popen(lingjing(*args), env=env, cwd=self.data_dir, stdout=subprocess.PIPE,  # noqa: S603
                                 stderr=subprocess.STDOUT, text=True)
        proc = Proc(popen)
        self.procs.append(proc)
        return proc

    def worker(self, queue: str, *, fault: str = "", **extra: str) -> Proc:
        return self.start("worker", "--queues", queue, "--interval", "0.05", "--lease", LEASE, fault=fault, **extra)

    def successor(self, first: Proc, task: str, queue: str, **extra: str) -> Proc:
        """A second worker, started (it takes seconds) once ``first`` has claimed ``task`` so it cannot take it
        first: it gets the task only when the queue gives it back after ``first`` died."""
        self.wait_for(lambda: any(status == "RUNNING" for status, _ in task_rows(self, task)), first,
                      f"the first worker's claim of {task}")
        return self.worker(queue, **extra)

    def kill_at(self, proc: Proc, point: str, timeout: float = 60) -> None:
        """Wait until ``proc`` stands at the fault point ``point``, then SIGKILL it."""
        marker = self.data_dir / f"fault-{point.partition('@')[0]}.reached"
        deadline = time.monotonic() + timeout
        while not marker.exists():
            if proc.popen.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"never reached {point}:\n{proc.output()}")
            time.sleep(0.05)
        time.sleep(0.05)  # the pid is written
        assert int(marker.read_text() or 0) == proc.popen.pid, proc.output()
        proc.popen.send_signal(signal.SIGKILL)
        assert proc.popen.wait(timeout=20) == -signal.SIGKILL
        marker.unlink()

    def wait_for(self, done: Callable[[], bool], proc: Proc, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if proc.popen.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{what} did not happen:\n{proc.output()}")
            time.sleep(0.1)

    def close(self) -> None:
        for proc in self.procs:
            if proc.popen.poll() is None:
                proc.popen.kill()
                proc.popen.wait()


def shared_stack(tmp_path: Path) -> Shared:
    """The environment for processes on this test's data directory and database."""
    write_keys(tmp_path / "keys")
    extra: dict[str, str] = {"LINGJING_TASK_BACKEND": "database", "LINGJING_STUDIO_VIDEO_SIZE": "96x64"}
    if connection.vendor != "sqlite":
        s = connection.settings_dict
        url = "postgres://{USER}:{PASSWORD}@{HOST}:{PORT}/{NAME}".format(
            **{key: s.get(key) or "" for key in ("USER", "PASSWORD", "HOST", "PORT", "NAME")}
        ).replace(":@", "@")
        extra["DATABASE_URL"] = url
    if settings.REDIS_URL:  # the same cache as the test (with Redis, the database has no cache table)
        extra["REDIS_URL"] = settings.REDIS_URL
    return Shared(tmp_path, clean_env(tmp_path, **extra))


def task_rows(shared: Shared, name: str) -> list[tuple[str, int]]:
    """(status, how many workers ran it) of the queued tasks whose path ends with ``name``."""
    rows = shared.query("SELECT task_path, status, worker_ids FROM django_tasks_database_dbtaskresult")
    return [(str(status), len(json.loads(workers) if isinstance(workers, str) else workers))
            for path, status, workers in rows if str(path).endswith(f".{name}")]


def finished(shared: Shared, name: str) -> Callable[[], bool]:
    return lambda: any(status in ("SUCCESSFUL", "FAILED") for status, _ in task_rows(shared, name))
