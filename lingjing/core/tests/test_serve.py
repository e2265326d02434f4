"""``lingjing serve``: migrations, gunicorn and a task worker, supervised together."""

from __future__ import annotations

import io
import json
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import closing
from pathlib import Path

import pytest

from lingjing.core.serve import ServeOptions, Supervisor, bind_address, web_command
from lingjing.core.tests.procs import clean_env, free_port, lingjing


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (a loopback URL we built)
            return response.status, response.headers.get("Content-Type", ""), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read().decode()


def wait_for(condition: object, timeout: float, what: str, proc: subprocess.Popen[str], log: list[str]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"serve exited with {proc.returncode} while waiting for {what}:\n" + "".join(log))
        try:
            if condition():  # type: ignore[operator]
                return
        except OSError:
            pass
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}:\n" + "".join(log))


def alive(pid: int) -> bool:
    try:
        Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return True


def copy_test_database(target: Path) -> bool:
    """Start serve from the already migrated test database when it is SQLite: its ``migrate`` then has nothing
    to apply, which saves seconds (creating the schema from nothing is what building the test database did).
    A second connection copies it with ``VACUUM INTO``; if it cannot (locked), serve migrates from scratch."""
    from django.db import connection

    name = str(connection.settings_dict["NAME"])
    if connection.vendor != "sqlite" or "mode=memory" not in name:
        return False
    try:
        with closing(sqlite3.connect(name, uri=True, timeout=1)) as source:
            source.execute("VACUUM INTO ?", (str(target),))
    except sqlite3.Error:
        target.unlink(missing_ok=True)
        return False
    return True


@pytest.mark.process
@pytest.mark.django_db
def test_serve_runs_web_and_worker_and_stops_both_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(tmp_path)
    copy_test_database(tmp_path / "lingjing.sqlite3")
    command = lingjing("serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--threads", "2")
    proc = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log: list[str] = []
    began = time.monotonic()

    def read() -> None:  # each line with the seconds since start, for a readable failure report
        lines = iter(proc.stdout.readline, "")  # type: ignore[union-attr]
        log.extend(f"{time.monotonic() - began:6.2f} {line}" for line in lines)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    base = f"http://127.0.0.1:{port}"
    try:
        # Once the children start, migrations are done: enqueue a task through the database backend from
        # another process (while gunicorn boots) and expect serve's worker to run it.
        wait_for(lambda: "web pid" in "".join(log), 60, "migrations", proc, log)
        enqueue = "from lingjing.core.tasks import ping; print(ping.enqueue('tok-7f3a').id)"
        enqueuer = subprocess.Popen(lingjing("shell", "-c", enqueue), env=env, cwd=tmp_path, stderr=subprocess.PIPE)

        wait_for(lambda: get(base + "/healthz")[0] == 200, 60, "/healthz", proc, log)
        assert json.loads(get(base + "/healthz")[2])["database"] == "ok"
        assert enqueuer.wait(timeout=60) == 0, enqueuer.stderr.read() if enqueuer.stderr else ""
        ping_log = tmp_path / "worker-ping.log"
        wait_for(lambda: ping_log.exists() and "tok-7f3a" in ping_log.read_text(), 20, "the ping task", proc, log)

        # The periodic jobs run beside them: the first look at the clock runs every job once.
        wait_for(lambda: "scheduler: analytics-purge" in "".join(log), 60, "the periodic jobs", proc, log)

        status, content_type, html = get(base + "/")
        assert status == 200 and content_type.startswith("text/html")
        assert '<html lang="zh-hans">' in html and "灵境 AI 动漫创作平台" in html
        assert get(base + "/static/css/site.css")[0] == 200  # development: served from the app folders
        status, content_type, body = get(base + "/api/v1/no-such-endpoint")
        assert status == 404 and json.loads(body)["error"]["code"] == "not_found"
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=40)
        reader.join(timeout=5)
    output = "".join(log)
    assert code == 0, output
    pids = re.search(r"web pid (\d+), worker pid (\d+), schedule pid (\d+)", output)
    assert pids, output
    assert "applying migrations" in output
    assert "scheduler: notify ok" in output and "scheduler: rights-due ok" in output and "FAILED" not in output
    for pid in map(int, pids.groups()):
        assert not alive(pid), (pid, output)


def test_supervisor_stops_the_other_child_and_fails_when_one_dies() -> None:
    out = io.StringIO()
    started: dict[str, int] = {}
    supervisor = Supervisor(
        {
            "web": [sys.executable, "-c", "import time; time.sleep(60)"],
            "worker": [sys.executable, "-c", "import sys, time; time.sleep(0.3); sys.exit(3)"],
        },
        out,
        grace=5,
        on_started=started.update,
    )
    began = time.monotonic()
    code = supervisor.run()
    assert code == 3
    assert time.monotonic() - began < 10
    assert "worker exited unexpectedly with status 3" in out.getvalue()
    assert supervisor.procs["web"].returncode == -signal.SIGTERM
    assert not alive(started["web"])


def test_supervisor_kills_a_child_that_ignores_sigterm() -> None:
    stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    supervisor = Supervisor(
        {"web": [sys.executable, "-c", stubborn], "worker": [sys.executable, "-c", "import time; time.sleep(0.5)"]},
        io.StringIO(),
        grace=0.5,
    )
    assert supervisor.run() == 1  # the worker "ended" with 0 on its own: still a failure of the pair
    assert supervisor.procs["web"].returncode == -signal.SIGKILL


def test_web_command_binds_ipv6_and_uses_threaded_workers() -> None:
    command = web_command(ServeOptions(host="::1", port=8123, workers=3, threads=5))
    assert command[command.index("--bind") + 1] == "[::1]:8123" == bind_address("::1", 8123)
    assert command[command.index("--worker-class") + 1] == "gthread"
    assert command[command.index("--workers") + 1] == "3" and command[command.index("--threads") + 1] == "5"
