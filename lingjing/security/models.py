"""Key store, deletion list and the audit log."""

from __future__ import annotations

from typing import ClassVar

from django.db import models

from lingjing.privacy.registry import NonPersonal, declare


@declare(
    non_personal=NonPersonal(
        ["id", "subject", "wrapped", "master_key_id", "created_at"],
        why="wrapped key material under a pseudonymous id; destroyed by crypto-shredding, not by the engines",
    ),
)
class DataKey(models.Model):
    """A subject's AES-256 data key, wrapped by a master key. Deleting it shreds the subject's sealed data."""

    id = models.CharField(primary_key=True, max_length=20)
    subject = models.CharField(max_length=64, db_index=True)
    wrapped = models.BinaryField()
    master_key_id = models.CharField(max_length=12)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes: ClassVar = [models.Index(fields=["subject", "created_at"])]


@declare(
    non_personal=NonPersonal(
        ["id", "subject", "reason", "shredded_at"],
        why="the deletion list: pseudonymous ids of erased people, kept so restores can replay erasure",
    )
)
class ShreddedSubject(models.Model):
    subject = models.CharField(max_length=64, unique=True)
    reason = models.CharField(max_length=200)
    shredded_at = models.DateTimeField(auto_now_add=True)


@declare(non_personal=NonPersonal(["id", "cutoff", "subjects_rotated", "values_reencrypted", "finished_at"]))
class KeyRotation(models.Model):
    cutoff = models.DateTimeField()
    subjects_rotated = models.PositiveIntegerField(default=0)
    values_reencrypted = models.PositiveBigIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)



from lingjing.security.audit_models import AuditEntry, AuditHead  # noqa: E402

__all__ = ["AuditEntry", "AuditHead", "DataKey", "KeyRotation", "ShreddedSubject"]
