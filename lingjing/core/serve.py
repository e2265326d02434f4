"""``lingjing serve``: the web server and a task worker, started and supervised together.

What it does, in order:

1. On the embedded default (SQLite, no ``DATABASE_URL``) it applies migrations, so a fresh clone serves at once.
   With a real database, migrations are a deliberate deploy step (``lingjing migrate``), unless ``--migrate``.
2. Without DEBUG (production) it runs ``collectstatic`` when ``STATIC_ROOT`` is missing or older than the
   static sources (a fingerprint of the sources is kept beside the collected files). In development WhiteNoise
   serves straight from the apps' static folders (``WHITENOISE_USE_FINDERS`` follows DEBUG).
3. It starts its children: gunicorn (``gthread`` workers: processes × threads, 2 × 4 by default for two cores;
   SQLite in WAL mode lets them read while one writes) serving ``lingjing.wsgi``, and ``lingjing worker``
   (the django-tasks database worker, all queues), and ``lingjing schedule run``, the periodic jobs (overdue alerts,
   retention purges, resent deliveries, audit checkpoints; lingjing/core/schedule.py) — ``--no-schedule`` leaves it
   out where another host runs it (several schedulers are safe: each job runs once per slot).
4. It supervises them: SIGTERM/SIGINT/SIGHUP are forwarded to both, and serve exits 0 once both have stopped.
   If either child dies on its own, the other is stopped (SIGTERM, then SIGKILL after a grace period) and serve
   exits non-zero, so a process manager (systemd, a container runtime) restarts the pair. Children run in their
   own process group (a terminal's Ctrl-C reaches them once, through serve) and, on Linux, receive SIGTERM if
   serve itself is killed.

At scale, run ``gunicorn lingjing.wsgi`` and ``lingjing worker`` as separate services instead.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from io import TextIOBase
from pathlib import Path
from typing import Any

STATIC_STAMP = ".lingjing-static-fingerprint"
FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    threads: int = 4
    timeout: int = 60
    run_worker: bool = True
    run_schedule: bool = True
    queues: str = "*"
    migrate: bool | None = None  # None: only on the embedded SQLite default


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def web_command(options: ServeOptions) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn", "lingjing.wsgi:application",
        "--bind", bind_address(options.host, options.port),
        "--worker-class", "gthread",
        "--workers", str(options.workers),
        "--threads", str(options.threads),
        "--timeout", str(options.timeout),
        "--graceful-timeout", "20",
        "--keep-alive", "5",
        "--preload",  # import the app once, in the master: workers fork ready, share memory, fail fast
        "--no-control-socket",  # gunicorn's control socket would live in $HOME, shared by every instance
        "--access-logfile", "-",
        "--error-logfile", "-",
        "--name", "lingjing-web",
    ]  # fmt: skip


def worker_command(options: ServeOptions) -> list[str]:
    return [sys.executable, "-m", "lingjing.cli", "worker", "--queues", options.queues]


def schedule_command() -> list[str]:
    return [sys.executable, "-m", "lingjing.cli", "schedule", "run"]


def static_fingerprint() -> str:
    """A hash over the path, size and modification time of every static source file the finders know."""
    from django.contrib.staticfiles.finders import get_finders

    digest = hashlib.sha256()
    entries = []
    for finder in get_finders():
        for path, storage in finder.list([]):
            stat = os.stat(storage.path(path))
            entries.append(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}")
    for entry in sorted(entries):
        digest.update(entry.encode() + b"\n")
    return digest.hexdigest()


def ensure_static(stdout: TextIOBase) -> bool:
    """Collect static files when STATIC_ROOT is missing or outdated. Returns whether it collected."""
    from django.conf import settings
    from django.core.management import call_command

    root = Path(settings.STATIC_ROOT)
    stamp = root / STATIC_STAMP
    fingerprint = static_fingerprint()
    if stamp.exists() and stamp.read_text().strip() == fingerprint:
        return False
    stdout.write(f"collecting static files into {root}\n")
    call_command("collectstatic", interactive=False, verbosity=0)
    stamp.write_text(fingerprint + "\n")
    return True


def _die_with_parent() -> None:
    """In the child before exec: its own process group, and SIGTERM when the supervisor dies (Linux)."""
    os.setpgid(0, 0)
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


@dataclass
class Supervisor:
    """Runs named child processes; stops all when one ends; forwards stop signals."""

    commands: dict[str, list[str]]
    stdout: TextIOBase
    grace: float = 25.0
    poll_interval: float = 0.2
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    stop_signal: int | None = None
    on_started: Callable[[dict[str, int]], None] | None = None

    def _say(self, text: str) -> None:
        self.stdout.write(f"lingjing serve: {text}\n")
        self.stdout.flush()

    def _forward(self, signum: int, frame: Any = None) -> None:
        if self.stop_signal is None:
            self._say(f"received {signal.Signals(signum).name}, stopping")
            self.stop_signal = signum
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signum)

    def _stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        for name, proc in self.procs.items():
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._say(f"{name} (pid {proc.pid}) did not stop in {self.grace:.0f} s, killing it")
                proc.kill()
                proc.wait()

    def run(self) -> int:
        previous = {signum: signal.getsignal(signum) for signum in FORWARDED_SIGNALS}
        for signum in FORWARDED_SIGNALS:
            signal.signal(signum, self._forward)
        try:
            for name, command in self.commands.items():
                self.procs[name] = subprocess.Popen(command, preexec_fn=_die_with_parent)  # noqa: S603
            pids = {name: proc.pid for name, proc in self.procs.items()}
            self._say(", ".join(f"{name} pid {pid}" for name, pid in pids.items()))
            if self.on_started is not None:
                self.on_started(pids)
            first: tuple[str, int] | None = None
            while first is None:
                for name, proc in self.procs.items():
                    code = proc.poll()
                    if code is not None:
                        first = (name, code)
                        break
                else:
                    time.sleep(self.poll_interval)
            name, code = first
            if self.stop_signal is None:
                self._say(f"{name} exited unexpectedly with status {code}; stopping the rest")
            self._stop_all()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        if self.stop_signal is not None:
            return 0
        return code if code not in (0, None) else 1


def serve(options: ServeOptions, stdout: TextIOBase) -> int:
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    embedded = not settings.DATABASE_URL
    if options.migrate if options.migrate is not None else embedded:
        stdout.write("applying migrations\n")
        call_command("migrate", interactive=False, verbosity=0)
    if not settings.DEBUG:
        ensure_static(stdout)
    connections.close_all()  # the children open their own; the supervisor holds none

    commands = {"web": web_command(options)}
    if options.run_worker:
        commands["worker"] = worker_command(options)
    if options.run_schedule:
        commands["schedule"] = schedule_command()
    stdout.write(
        f"serving http://{bind_address(options.host, options.port)}/ with {options.workers} × {options.threads} "
        f"threads"
        + (f"; task worker on queues {options.queues}" if options.run_worker else "")
        + ("; periodic jobs" if options.run_schedule else "")
        + "\n"
    )
    stdout.flush()
    return Supervisor(commands, stdout).run()
