"""The core app's own rows: the task workers' heartbeats and which task run holds a claim (``core.leases``).

Queue bookkeeping without personal data, like the task queue's own table. The app also exists so Django sends
it ``post_migrate`` (which creates the database cache table, see ``apps.py``).
"""

from __future__ import annotations

from django.db import models


class WorkerBeat(models.Model):
    """A ``lingjing worker`` process that is alive: it rewrites ``seen_at`` every third of its lease."""

    worker_id = models.CharField(max_length=64, primary_key=True)
    host = models.CharField(max_length=100, blank=True)
    pid = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "任务进程心跳"
        verbose_name_plural = "任务进程心跳"

    def __str__(self) -> str:
        return f"{self.worker_id} ({self.host}:{self.pid})"


class TaskClaim(models.Model):
    """Which task run took a piece of background work (``key``: ``rights:<id>:packing``, ``saga:<id>``, …).

    A task that the queue gave back after its worker died runs again with the same task id; this row lets it
    take over the work its dead predecessor claimed instead of waiting for that claim to go stale.
    """

    key = models.CharField(max_length=120, primary_key=True)
    task_id = models.CharField(max_length=64)
    claimed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "任务认领"
        verbose_name_plural = "任务认领"

    def __str__(self) -> str:
        return f"{self.key} → {self.task_id}"
