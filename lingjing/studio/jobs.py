"""Running studio jobs: claim, heartbeat, progress, finish, and picking up jobs whose worker died.

Lifecycle (all transitions are conditional UPDATEs, so two workers never both own a job):

1. ``queued`` → ``running``: :func:`claim` sets a fresh ``claim_token`` and the first heartbeat, counting an
   attempt. It also takes a ``running`` job whose heartbeat is older than ``LINGJING_STUDIO_STALE_SECONDS``
   (its worker crashed or was killed) while attempts remain, and at once a job claimed by an earlier run of the
   same task, which the task queue gave back because that run's worker died (``core.leases``).
2. While working, :meth:`JobRun.progress` writes progress and the heartbeat *only if the token still matches
   and the job is still running*. Zero rows updated means the author cancelled (:class:`JobCancelled`) or another
   worker reclaimed the job (:class:`JobLost`); either way this worker stops at once.
3. :meth:`JobRun.finish` writes the final status under the same condition.
4. :func:`reclaim_stale` (each worker pass calls it before its own job, and ``lingjing studio reclaim``) re-enqueues
   stale jobs, or fails them once their attempts are used up.

Outputs are recorded by actions that re-check the claim inside their transaction (``studio.actions``), so a
cancelled or reclaimed worker cannot add files after the fact.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from lingjing.studio.models import JobStatus, StudioJob

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 0.5  # seconds between heartbeat writes when progress has not changed


class JobStopped(Exception):
    """This worker no longer owns the job."""


class JobCancelled(JobStopped):
    pass


class JobLost(JobStopped):
    pass


def stale_after() -> timedelta:
    return timedelta(seconds=getattr(settings, "LINGJING_STUDIO_STALE_SECONDS", 120))


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:80]


def _claimable(now: Any) -> Q:
    return Q(status=JobStatus.QUEUED) | Q(status=JobStatus.RUNNING, heartbeat_at__lt=now - stale_after())


def claim(job_id: uuid.UUID | str, *, worker: str | None = None) -> JobRun | None:
    """Take the job for this worker, or None when it is not claimable (done, cancelled, owned by a live worker)."""
    from lingjing.core.leases import holds_claim, note_claim

    now = timezone.now()
    token = uuid.uuid4()
    key = f"studio:{job_id}"
    with transaction.atomic():
        # An earlier run of this same task whose worker died (core/leases.py) left the job running: take it over.
        claimable = Q(status=JobStatus.RUNNING) | _claimable(now) if holds_claim(key) else _claimable(now)
        updated = (
            StudioJob.objects.filter(pk=job_id)
            .filter(claimable)
            .filter(attempts__lt=F("max_attempts"))
            .update(
                status=JobStatus.RUNNING,
                claim_token=token,
                heartbeat_at=now,
                attempts=F("attempts") + 1,
                worker=worker or worker_name(),
                started_at=Coalesce("started_at", now),
                message="",
            )
        )
        if not updated:
            return None
        note_claim(key)
    return JobRun(uuid.UUID(str(job_id)), token)


class JobRun:
    """The handle a worker holds while it owns a job."""

    def __init__(self, job_id: uuid.UUID, token: uuid.UUID) -> None:
        self.job_id = job_id
        self.token = token
        self._last_percent = -1
        self._last_write = 0.0

    def _mine(self) -> Any:
        return StudioJob.objects.filter(pk=self.job_id, claim_token=self.token, status=JobStatus.RUNNING)

    def stopped_error(self) -> JobStopped:
        status = StudioJob.objects.filter(pk=self.job_id).values_list("status", flat=True).first()
        if status == JobStatus.CANCELLED:
            return JobCancelled(str(self.job_id))
        return JobLost(str(self.job_id))

    def job(self) -> StudioJob:
        return StudioJob.objects.select_related("work", "author").get(pk=self.job_id)

    def progress(self, percent: float, step: str | None = None, *, force: bool = False) -> None:
        """Report progress (0–100) and beat the heart; raises :class:`JobStopped` if the job is no longer ours."""
        value = max(0, min(100, int(percent)))
        now = time.monotonic()
        if not force and step is None and value == self._last_percent and now - self._last_write < PROGRESS_INTERVAL:
            return
        fields: dict[str, Any] = {"progress": value, "heartbeat_at": timezone.now()}
        if step is not None:
            fields["step"] = step
        if not self._mine().update(**fields):
            raise self.stopped_error()
        self._last_percent = value
        self._last_write = now

    def check(self) -> None:
        """Raise :class:`JobStopped` when the job was cancelled or taken over."""
        if not self._mine().exists():
            raise self.stopped_error()

    def finish(self, status: str, message: str = "") -> bool:
        fields: dict[str, Any] = {"status": status, "message": message[:300], "finished_at": timezone.now(),
                                  "heartbeat_at": timezone.now(), "claim_token": None}
        if status == JobStatus.SUCCEEDED:
            fields["progress"] = 100
        return bool(self._mine().update(**fields))

    def requeue(self, message: str) -> bool:
        """Give the job back for another attempt (a provider was briefly unavailable)."""
        return bool(self._mine().update(status=JobStatus.QUEUED, claim_token=None, message=message[:300]))


def _requeue_stale(job_id: uuid.UUID, now: Any) -> bool:
    return bool(
        StudioJob.objects.filter(pk=job_id, status=JobStatus.RUNNING, heartbeat_at__lt=now - stale_after()).update(
            status=JobStatus.QUEUED, claim_token=None, message="上次运行中断，已重新排队"
        )
    )


def reclaim_stale(*, enqueue: bool = True) -> list[uuid.UUID]:
    """Jobs whose worker stopped beating: re-enqueue those with attempts left, fail the others."""
    now = timezone.now()
    stale = StudioJob.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=now - stale_after())
    StudioJob.objects.filter(pk__in=stale.filter(attempts__gte=F("max_attempts")).values("pk")).filter(
        status=JobStatus.RUNNING
    ).update(
        status=JobStatus.FAILED,
        finished_at=now,
        claim_token=None,
        message="任务多次中断，已停止；请点击“重试”",
    )
    # Back to the queue first (conditionally), so a second pass does not enqueue it again; the old worker,
    # if it still lives, loses its claim at its next heartbeat.
    candidates = list(stale.filter(attempts__lt=F("max_attempts")).values_list("pk", flat=True))
    ids = [job_id for job_id in candidates if _requeue_stale(job_id, now)]
    if enqueue:
        from lingjing.studio.tasks import enqueue_job

        for job_id in ids:
            log.warning("studio job %s: heartbeat stale, re-enqueued", job_id)
            enqueue_job(job_id)
    return ids
