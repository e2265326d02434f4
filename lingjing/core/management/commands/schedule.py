"""``lingjing schedule run|list|status`` — the platform's periodic work (see lingjing/core/schedule.py)."""

from __future__ import annotations

import json
import signal
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections

from lingjing.core import schedule


class Command(BaseCommand):
    help = "定时任务 / run the periodic jobs (overdue alerts, retention, deliveries, checkpoints) on their rhythm."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("run", help="run due jobs every --tick seconds until stopped")
        run.add_argument("--once", action="store_true", help="run what is due now, then exit")
        run.add_argument("--only", action="append", default=[], metavar="JOB", help="run only this job (repeatable)")
        run.add_argument("--tick", type=float, default=15.0, help="seconds between looks at the clock")
        sub.add_parser("list", help="the jobs, their rhythm and purpose")
        sub.add_parser("status", help="each job's last run as JSON; exit 1 when a last run failed")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "list":
            for job in schedule.JOBS:
                command = " ".join(job.command)
                self.stdout.write(f"{job.name:<18} every {job.every:>6} s  lingjing {command}  — {job.why}")
            return
        if action == "status":
            last = schedule.last_outcomes()
            self.stdout.write(json.dumps(last, ensure_ascii=False, indent=2))
            if any(outcome is not None and not outcome["ok"] for outcome in last.values()):
                raise SystemExit(1)
            return
        try:
            jobs = [schedule.job_named(name) for name in options["only"]] or list(schedule.JOBS)
        except KeyError as exc:
            known = ", ".join(job.name for job in schedule.JOBS)
            raise CommandError(f"unknown job {exc.args[0]!r}; known: {known}") from exc
        if options["tick"] <= 0:
            raise CommandError("--tick must be positive")
        if options["once"]:
            self._report(schedule.run_due(jobs))
            return
        stopping = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, stop)
        self.stdout.write(f"scheduler: {len(jobs)} jobs, looking every {options['tick']:g} s\n")
        self.stdout.flush()
        while not stopping:
            close_old_connections()  # a long-lived process: drop connections the database has closed
            self._report(schedule.run_due(jobs))
            deadline = time.monotonic() + options["tick"]
            while not stopping and time.monotonic() < deadline:
                time.sleep(min(0.5, options["tick"]))

    def _report(self, outcomes: list[schedule.Outcome]) -> None:
        for outcome in outcomes:
            state = "ok" if outcome.ok else "FAILED"
            self.stdout.write(f"scheduler: {outcome.job} {state} in {outcome.seconds:.2f} s")
            if not outcome.ok:
                self.stderr.write(outcome.output)
        self.stdout.flush()
