"""What the browser journeys stand on: a real ``lingjing serve`` (gunicorn and the task worker) in a child process
on a free port with its own data directory, Debian's Chromium driven by Playwright, and a page wrapper that fails
on any JavaScript error, console error (CSP violations are reported there) or main document answered >= 400.

The server runs with ``LINGJING_ENV=development``, as ``make run`` does: the console gate (TOTP and training) is
on, WhiteNoise serves the static files, every page carries the CSP with its nonce. Its database is a copy of the
migrated test database on SQLite, or the test database itself on PostgreSQL (the module flushes it afterwards).

Why not pytest-django's ``live_server``: it serves from the test process under ``LINGJING_ENV=test``, where tasks
run inline (no worker, so no progress to watch), the console gate is off, and the in-memory SQLite database cannot
be shared with a worker process. Seeding happens in a child process too, because personal data is sealed with
the server's keys (``journey_world.py``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lingjing.core.tests.procs import clean_env, free_port, lingjing

CHROMIUM = os.environ.get("LINGJING_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking"]
REQUIRE_ENV = "LINGJING_REQUIRE_BROWSER"
TIMEOUT_MS = 15_000  # one step (a navigation, a selector); the machine is shared and slow at times


def browser_unavailable() -> str | None:
    """Why the journeys cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"Chromium is not installed at {CHROMIUM} (apt-get install chromium, or set LINGJING_CHROMIUM)"
    return None


def skip_or_fail_without_browser() -> None:
    reason = browser_unavailable()
    if reason is None:
        return
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but the browser journeys cannot run: {reason}")
    pytest.skip(f"browser journeys skipped: {reason}")


# --- the server -------------------------------------------------------------------------------------------


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (a loopback URL we built)
            return int(response.status)
    except OSError:
        return 0


@dataclass
class Site:
    base: str
    data_dir: Path
    env: dict[str, str]
    proc: subprocess.Popen[str]
    log: list[str] = field(default_factory=list)
    world: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)  # seconds since start: migrated, seeded, serving

    def url(self, path: str) -> str:
        return self.base + path

    def output(self) -> str:
        return "".join(self.log[-200:])

    def sms(self, phone: str) -> list[dict[str, Any]]:
        path = self.data_dir / "outbox" / "sms.jsonl"
        if not path.exists():
            return []
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        return [row for row in rows if row.get("to") == phone]

    def code_for(self, phone: str, *, after: int = 0) -> str:
        """The six digits of the newest SMS to ``phone`` beyond the first ``after`` ones (sent synchronously by
        the request that asked for it, so no waiting)."""
        rows = self.sms(phone)
        assert len(rows) > after, f"no new SMS to {phone} in the outbox: {rows}"
        found = re.search(r"(?<!\d)(\d{6})(?!\d)", rows[-1]["text"])
        assert found, rows[-1]
        return found.group(1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_site(data_dir: Path, *, migrated: bool, **env_extra: str) -> Site:
    """``lingjing serve`` on a free port, and the journey world seeded beside it while gunicorn boots (at once
    when the database is ``migrated`` already, else once serve has migrated it)."""
    from lingjing.core.keyfiles import load_or_create_keys

    load_or_create_keys(data_dir / "keys", production=False)  # once, before web, worker and seeding race
    env = clean_env(data_dir, **env_extra)
    port = free_port()
    command = lingjing("serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--threads", "4",
                       "--no-migrate" if migrated else "--migrate")
    proc = subprocess.Popen(command, env=env, cwd=data_dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,  # noqa: S603
                            text=True)  # fmt: skip
    site = Site(f"http://127.0.0.1:{port}", data_dir, env, proc)

    def read() -> None:
        site.log.extend(iter(proc.stdout.readline, ""))  # type: ignore[union-attr]

    threading.Thread(target=read, daemon=True).start()
    began = time.monotonic()
    seeding: subprocess.Popen[str] | None = None
    try:
        if not migrated:
            _wait(lambda: "web pid" in "".join(site.log), 120, "migrations", site)
        seeding = subprocess.Popen(  # noqa: S603
            lingjing("shell", "-c", "from lingjing.core.tests.hardening.journey_world import main; main()"),
            env=env, cwd=data_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        out, err = seeding.communicate(timeout=120)
        line = next((x for x in out.splitlines() if x.startswith("JOURNEY-WORLD ")), None)
        assert seeding.returncode == 0 and line, f"seeding failed:\n{out}\n{err}"
        site.world = json.loads(line.removeprefix("JOURNEY-WORLD "))
        site.timings["seeded"] = time.monotonic() - began
        _wait(lambda: _get(site.url("/healthz")) == 200, 120, "/healthz", site)
        site.timings["serving"] = time.monotonic() - began
    except BaseException:
        if seeding is not None and seeding.poll() is None:
            seeding.kill()
        site.stop()
        raise
    return site


def _wait(condition: Callable[[], bool], timeout: float, what: str, site: Site) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if site.proc.poll() is not None:
            pytest.fail(f"serve exited with {site.proc.returncode} while waiting for {what}:\n{site.output()}")
        if condition():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}:\n{site.output()}")


def redis_server_url(data_dir: Path) -> tuple[str, subprocess.Popen[bytes]] | None:
    """A Redis of the journeys' own on a free port: the server's rate-limit counters and sessions stay out of
    the shared one (and cannot leak into the next run)."""
    server = shutil.which("redis-server")
    if server is None:
        return None
    import redis

    port = free_port()
    proc = subprocess.Popen(  # noqa: S603
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
         str(data_dir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 20
    while True:
        try:
            redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
            return url, proc
        except redis.RedisError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                return None
            time.sleep(0.05)


# --- pages ------------------------------------------------------------------------------------------------


@dataclass
class Tab:
    """One page of a browser context, watched: every JavaScript error, console error and main-document
    answer >= 400 is kept, and :meth:`check` (called after each step) fails on any."""

    page: Any
    site: Site
    problems: list[str] = field(default_factory=list)
    visited: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, context: Any, site: Site) -> Tab:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        tab = cls(page, site)
        page.on("pageerror", lambda exc: tab.problems.append(f"page error on {page.url}: {exc}"))
        page.on("console", tab._console)
        page.on("response", tab._response)
        return tab

    def _console(self, message: Any) -> None:
        if message.type == "error":
            source = (message.location or {}).get("url") or "?"
            self.problems.append(f"console error on {self.page.url}: {message.text} (from {source})")

    def _response(self, response: Any) -> None:
        request = response.request
        if request.is_navigation_request() and request.frame == self.page.main_frame:
            self.visited.append(f"{response.status} {response.url}")
            if response.status >= 400:
                self.problems.append(f"main document {response.url} answered {response.status}")

    def check(self) -> None:
        problems, self.problems = self.problems, []
        assert not problems, "\n".join(problems)

    def goto(self, path: str) -> Any:
        response = self.page.goto(self.site.url(path), wait_until="load")
        assert response is not None, path
        self.check()
        return response

    def submit(self, selector: str, **kwargs: Any) -> None:
        """Click what submits a form (or follows a link) and wait for the next page to load."""
        with self.page.expect_navigation(wait_until="load"):
            self.page.locator(selector, **kwargs).first.click()
        self.check()

    def fill(self, fields: dict[str, str]) -> None:
        for selector, value in fields.items():
            self.page.locator(selector).first.fill(value)

    def text(self, selector: str = "main") -> str:
        return str(self.page.locator(selector).first.inner_text())

    def cookies(self) -> dict[str, str]:
        return {c["name"]: c["value"] for c in self.page.context.cookies()}


@contextmanager
def journey(context: Any, site: Site, shots: Path, name: str) -> Iterator[Tab]:
    """A tab for one journey; on failure a full-page screenshot goes to ``shots`` and its path is printed."""
    tab = Tab.open(context, site)
    try:
        yield tab
        tab.check()
    except BaseException:
        shots.mkdir(parents=True, exist_ok=True)
        path = shots / f"{name}.png"
        try:
            tab.page.screenshot(path=str(path), full_page=True)
            print(f"\nscreenshot of the failed journey {name!r}: {path} (at {tab.page.url})")  # noqa: T201
        except Exception as exc:  # noqa: BLE001 - the original failure matters more
            print(f"\nno screenshot of {name!r}: {exc}")  # noqa: T201
        print("pages visited:\n  " + "\n  ".join(tab.visited[-15:]))  # noqa: T201
        raise
    finally:
        tab.page.close()
