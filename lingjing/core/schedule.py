"""The periodic work of the platform, run by ``lingjing schedule run`` (started by ``lingjing serve``).

Promises with a clock need something that looks at the clock: rights requests and complaints answered within 15
working days (overdue alerts), cancellations carried out when their window ends, copies deleted when they expire,
data purged when its retention ends, announcements published at their time, failed deliveries resent, audit
checkpoints signed. Each of those is a management command that is safe to repeat; this module runs them on a
fixed rhythm, so a fresh ``make run`` keeps every promise without cron.

Several schedulers may run (one per ``lingjing serve``, or one per host): each job runs once per time slot
across all of them, because the run is claimed with ``cache.add`` on the shared cache (the database cache on the
embedded default, Redis at scale) before it starts. A job that fails is recorded and retried in its next slot;
it never stops the others.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.core.cache import cache
from django.core.management import call_command

CLAIM_PREFIX = "lingjing:schedule:claim"
LAST_PREFIX = "lingjing:schedule:last"
KEEP_LAST = 7 * 24 * 3600  # how long the outcome of a job's last run stays visible to `schedule status`
OUTPUT_TAIL = 2000  # characters of a job's output kept with its outcome


@dataclass(frozen=True)
class Job:
    name: str
    command: tuple[str, ...]
    every: int  # seconds between runs
    why: str


JOBS: tuple[Job, ...] = (
    Job("notify", ("notify", "run"), 60, "publish due announcements; resend deliveries whose retry is due"),
    Job("studio-reclaim", ("studio", "reclaim"), 60, "requeue studio jobs whose worker stopped beating"),
    Job("support-convert", ("support", "convert-pending"), 300, "privacy-request tickets become rights requests"),
    Job("rights-due", ("privacy", "run-due"), 600, "rights requests: overdue alerts, cancellations, expired copies"),
    Job("support-overdue", ("support", "overdue"), 3600, "complaints past 15 working days are flagged and alerted"),
    Job("support-purge", ("support", "purge"), 3600, "visitors' tickets never confirmed within a day are deleted"),
    Job("retention", ("retention", "run"), 3600, "everything past its retention period is purged"),
    Job("audit-checkpoint", ("audit", "checkpoint"), 3600, "the audit chain's head is signed"),
    Job("analytics-purge", ("consent", "purge"), 86400, "expired analytics events and past daily keys are deleted"),
)


@dataclass(frozen=True)
class Outcome:
    job: str
    started_at: str
    seconds: float
    ok: bool
    output: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "started_at": self.started_at,
            "seconds": self.seconds,
            "ok": self.ok,
            "output": self.output,
        }


def job_named(name: str) -> Job:
    for job in JOBS:
        if job.name == name:
            return job
    raise KeyError(name)


def claim(job: Job, now: float) -> bool:
    """True for exactly one caller per job and time slot, across every process sharing the cache."""
    slot = int(now // job.every)
    return bool(cache.add(f"{CLAIM_PREFIX}:{job.name}:{slot}", 1, timeout=job.every * 2))


def run_job(job: Job, runner: Callable[..., Any] = call_command) -> Outcome:
    """Run one job in this process; its output and any error are kept as its last outcome."""
    out = io.StringIO()
    started = time.monotonic()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    ok = True
    try:
        runner(*job.command, stdout=out, stderr=out)
    except SystemExit as exc:  # a command reporting a finding by exit status (e.g. 1) did run
        ok = exc.code in (0, None)
    except Exception as exc:  # noqa: BLE001 — one failing job must not stop the others
        ok = False
        out.write(f"{type(exc).__name__}: {exc}\n")
    outcome = Outcome(job.name, started_at, round(time.monotonic() - started, 3), ok, out.getvalue()[-OUTPUT_TAIL:])
    cache.set(f"{LAST_PREFIX}:{job.name}", outcome.as_dict(), timeout=KEEP_LAST)
    return outcome


def run_due(
    jobs: Iterable[Job] = JOBS, now: float | None = None, runner: Callable[..., Any] = call_command
) -> list[Outcome]:
    """Run every job whose current slot nobody has claimed yet."""
    moment = time.time() if now is None else now
    return [run_job(job, runner) for job in jobs if claim(job, moment)]


def last_outcomes(jobs: Iterable[Job] = JOBS) -> dict[str, dict[str, Any] | None]:
    return {job.name: cache.get(f"{LAST_PREFIX}:{job.name}") for job in jobs}
