"""Records of the rights machinery itself. They hold pseudonymous ids and counters, never personal details."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.db.models import Q

from lingjing.privacy.registry import NonPersonal, declare


class ErasureStatus(models.TextChoices):
    RUNNING = "running", "进行中"
    FAILED = "failed", "出错待重试"
    FINISHED = "finished", "已完成"


@declare(
    non_personal=NonPersonal(
        ["id", "user_id", "subject", "status", "step_index", "step_label", "chunks_done", "rows_done",
         "chunk_size", "actor", "started_at", "finished_at", "error"],
        why="proof that an erasure ran: the pseudonymous id of the erased person, counters and the engine state",
    ),
)
class ErasureRun(models.Model):
    """The persisted state of one erasure (``lingjing.privacy.engines.erasure``): where to resume after a crash.

    ``user_id`` is a plain UUID, not a foreign key: the run must outlive anything the engine does to the user row.
    At most one unfinished run exists per person.
    """

    user_id = models.UUIDField(db_index=True)
    subject = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=ErasureStatus.choices, default=ErasureStatus.RUNNING)
    step_index = models.PositiveIntegerField(default=0)
    step_label = models.CharField(max_length=120, blank=True)
    chunks_done = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveBigIntegerField(default=0)
    chunk_size = models.PositiveIntegerField(default=0)  # rows of the step's next chunk, as adapted (0: none yet)
    actor = models.CharField(max_length=64, default="system")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True)  # exception class and step only; never a message

    class Meta:
        verbose_name = "删除执行记录"
        verbose_name_plural = "删除执行记录"
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["user_id"], condition=Q(finished_at__isnull=True), name="privacy_one_open_erasure_per_user"
            )
        ]

    def __str__(self) -> str:
        return f"erasure {self.pk} of {self.subject}: {self.status}"


# Rights requests live in their own module (lingjing/privacy/requests/models.py); imported here so Django finds them.
from lingjing.privacy.requests.models import (  # noqa: E402
    ErasureSaga,
    PortabilityEndpoint,
    ProcessingRestriction,
    Propagation,
    RequestEvent,
    RequestProxy,
    RightsRequest,
    TransferTarget,
)

__all__ = [
    "ErasureRun",
    "ErasureSaga",
    "ErasureStatus",
    "PortabilityEndpoint",
    "ProcessingRestriction",
    "Propagation",
    "RequestEvent",
    "RequestProxy",
    "RightsRequest",
    "TransferTarget",
]
