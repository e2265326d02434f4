"""Tasks whose worker died: heartbeats, the database queue's reaper, and claims a re-run task may take over.

Why. django-tasks-db marks a task ``RUNNING`` when a worker claims it and ``SUCCESSFUL``/``FAILED`` when the
worker finishes it. A worker killed in between (SIGKILL, out of memory, a lost machine) leaves the row
``RUNNING`` for ever: the task is never retried. So:

1. Every ``lingjing worker`` on the database queue writes a :class:`~lingjing.core.models.WorkerBeat` row when
   it starts and every third of its lease from a thread (:class:`Heartbeat`).
2. The same thread runs :func:`reclaim_dead_tasks`: a ``RUNNING`` task whose worker (the last id in the row's
   ``worker_ids``) has not beaten within the lease, and which started more than a lease ago, goes back to
   ``READY`` with a conditional UPDATE (so of several workers only one gives it back), and another worker runs
   it again — the same task id, one more attempt. After ``MAX_ATTEMPTS`` runs killed this way it is marked
   ``FAILED`` (:class:`WorkerLost`) instead, so a task that kills its worker cannot loop.
3. Background work claims its object (a rights request's package, an erasure saga, a studio job) with a lease
   of its own, which the dead run still holds. :func:`note_claim` records which task run took a claim and
   :func:`holds_claim` lets a later run *of the same task id* take it over at once; the queue gives a task id
   to one live worker at a time, so the takeover never races a live run. Anything else still waits for the
   claim to go stale.

Tasks stay safe to run twice: a run killed half-way is redone by the next, which finds part of its work done.
The RQ backend (``LINGJING_TASK_BACKEND=rq``) keeps RQ's own handling: a job of a dead worker is moved to the
failed registry when the worker's heartbeat key expires (``rq requeue`` gives it back).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import os
import socket
import threading
from typing import Any

from django.db import DatabaseError, close_old_connections, connection, transaction
from django.tasks.signals import task_finished, task_started
from django.utils import timezone

from lingjing.core.models import TaskClaim, WorkerBeat

log = logging.getLogger("lingjing.core.leases")

DEFAULT_LEASE = dt.timedelta(seconds=60)
MAX_ATTEMPTS = 5
_current: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("lingjing_task_ids", default=())


class WorkerLost(Exception):
    """The task's worker died while running it, ``MAX_ATTEMPTS`` times."""


# --- which task is running (django.tasks signals, every backend) --------------------------------------------


def current_task_id() -> str:
    """The id of the task this code runs in ("" outside a task)."""
    stack = _current.get()
    return stack[-1] if stack else ""


def _on_task_started(sender: Any, task_result: Any, **kwargs: Any) -> None:
    _current.set((*_current.get(), str(task_result.id)))


def _on_task_finished(sender: Any, task_result: Any, **kwargs: Any) -> None:
    stack = _current.get()
    task_id = str(task_result.id)
    if task_id in stack:
        index = len(stack) - 1 - stack[::-1].index(task_id)
        _current.set(stack[:index])
    try:
        TaskClaim.objects.filter(task_id=task_id).delete()
    except DatabaseError:  # the row only shortens a wait; a later finished task of the same object replaces it
        log.warning("could not forget the claims of task %s", task_id)


def connect_signals() -> None:
    task_started.connect(_on_task_started, dispatch_uid="lingjing.core.leases.started")
    task_finished.connect(_on_task_finished, dispatch_uid="lingjing.core.leases.finished")


# --- claims a re-run may take over ------------------------------------------------------------------------


def note_claim(key: str) -> None:
    """Record that the current task run took the claim ``key`` (nothing outside a task)."""
    task_id = current_task_id()
    if task_id:
        TaskClaim.objects.update_or_create(key=key[:120], defaults={"task_id": task_id})


def holds_claim(key: str) -> bool:
    """True when ``key`` was claimed by an earlier run of the task now running (its worker died)."""
    task_id = current_task_id()
    return bool(task_id) and TaskClaim.objects.filter(key=key[:120], task_id=task_id).exists()


# --- heartbeats and the reaper (database queue) -----------------------------------------------------------


def beat(worker_id: str, *, now: dt.datetime | None = None) -> None:
    at = now or timezone.now()
    updated = WorkerBeat.objects.filter(pk=worker_id).update(seen_at=at)
    if not updated:
        WorkerBeat.objects.update_or_create(
            worker_id=worker_id,
            defaults={"host": socket.gethostname()[:100], "pid": os.getpid(), "started_at": at, "seen_at": at},
        )


def reclaim_dead_tasks(lease: dt.timedelta = DEFAULT_LEASE, *, now: dt.datetime | None = None) -> list[str]:
    """Give back (or fail) the running tasks of workers that stopped beating. Answers the ids given back."""
    from django.tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    at = now or timezone.now()
    alive = set(WorkerBeat.objects.filter(seen_at__gte=at - lease).values_list("worker_id", flat=True))
    running = DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING, started_at__lt=at - lease)
    given_back: list[str] = []
    for row in running.values("id", "worker_ids", "started_at", "task_path"):
        workers = list(row["worker_ids"] or [])
        if workers and workers[-1] in alive:
            continue
        same_run = DBTaskResult.objects.filter(pk=row["id"], status=TaskResultStatus.RUNNING,
                                               started_at=row["started_at"])
        if len(workers) >= MAX_ATTEMPTS:
            same_run.update(status=TaskResultStatus.FAILED, finished_at=at, return_value=None,
                            exception_class_path=f"{__name__}.{WorkerLost.__qualname__}",
                            traceback=f"WorkerLost: the worker died while running this task {len(workers)} times\n")
            log.error("task %s (%s): its worker died %d times; failed", row["id"], row["task_path"], len(workers))
        elif same_run.update(status=TaskResultStatus.READY):
            log.warning("task %s (%s): worker %s stopped beating; given back to the queue",
                        row["id"], row["task_path"], workers[-1] if workers else "?")
            given_back.append(str(row["id"]))
    WorkerBeat.objects.filter(seen_at__lt=at - dt.timedelta(days=1)).delete()
    return given_back


class Heartbeat(threading.Thread):
    """Beats for one worker every third of ``lease`` and runs the reaper, until :meth:`stop`."""

    def __init__(self, worker_id: str, lease: dt.timedelta = DEFAULT_LEASE) -> None:
        super().__init__(name=f"heartbeat-{worker_id[:8]}", daemon=True)
        self.worker_id = worker_id
        self.lease = lease
        self._stopped = threading.Event()

    def run(self) -> None:
        interval = self.lease.total_seconds() / 3
        try:
            while not self._stopped.wait(interval):
                self.tick()
        finally:
            connection.close()

    def tick(self) -> None:
        try:
            close_old_connections()
            with transaction.atomic():
                beat(self.worker_id)
            reclaim_dead_tasks(self.lease)
        except DatabaseError:  # a locked or briefly unreachable database: the next beat tries again
            log.warning("worker %s: heartbeat failed", self.worker_id, exc_info=True)

    def stop(self) -> None:
        self._stopped.set()
        self.join(timeout=10)
        try:
            WorkerBeat.objects.filter(pk=self.worker_id).delete()
        except DatabaseError:
            log.warning("worker %s: heartbeat row left behind", self.worker_id)
