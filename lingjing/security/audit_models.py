from __future__ import annotations

import uuid
from typing import ClassVar

from django.db import models

from lingjing.privacy.registry import PD, NonPersonal, Retention, RowErase, declare
from lingjing.security.crypto import SealedField


@declare(
    fields={
        "sealed": PD(
            "audit.detail",
            purposes=("security", "compliance"),
            basis="legal_duty",
            retention=Retention.for_days(3 * 365),
            export="value",
            note="sealed under the person's key; unreadable once the person is erased",
        ),
    },
    non_personal=NonPersonal(
        ["id", "seq", "at", "event", "actor", "subject", "object_type", "object_id", "details", "detail_mac",
         "prev_hash", "hash"],
        why="pseudonymous chain fields; the details column holds ids and counts only",
    ),
    subject_ref="subject",
    on_erase=RowErase.KEEP,
    keep_days=3 * 365,
)
class AuditEntry(models.Model):
    """One audited change. Never updated or deleted by the application (see ``audit_chain.verify``)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    seq = models.PositiveBigIntegerField(unique=True)
    at = models.DateTimeField()
    event = models.CharField(max_length=64, db_index=True)
    actor = models.CharField(max_length=64, db_index=True)
    subject = models.CharField(max_length=64, blank=True, db_index=True)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    details = models.JSONField(default=dict)
    sealed = SealedField(owner="subject")
    detail_mac = models.CharField(max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering: ClassVar = ["seq"]
        verbose_name = "审计记录"
        verbose_name_plural = "审计记录"


@declare(non_personal=NonPersonal(["id", "seq", "hash"], why="the chain's head pointer"))
class AuditHead(models.Model):
    """Single row holding the last sequence number and hash; locked while appending."""

    seq = models.PositiveBigIntegerField()
    hash = models.CharField(max_length=64)
