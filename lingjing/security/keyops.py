"""Operator-facing key operations (thin wrappers the commands call)."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.db.models import Count

from lingjing.security import audit
from lingjing.security.crypto import RotationReport, rotate_keys


def rotate_with_audit(*, limit: int | None = None) -> RotationReport:
    report = rotate_keys(limit=limit)
    with transaction.atomic():
        audit.record(
            audit.AuditEvent.KEYS_ROTATED,
            details={
                "rotation": report.rotation_id,
                "subjects": report.subjects_rotated,
                "values": report.values_reencrypted,
                "finished": report.finished,
                "master_key_id": settings.LINGJING_CURRENT_MASTER_KEY_ID,
            },
        )
    return report


def key_status() -> str:
    from lingjing.security.models import DataKey, KeyRotation, ShreddedSubject

    by_master = dict(DataKey.objects.values_list("master_key_id").annotate(n=Count("id")))
    open_rotation = KeyRotation.objects.filter(finished_at__isnull=True).first()
    lines = [
        f"current master key: {settings.LINGJING_CURRENT_MASTER_KEY_ID}",
        f"configured master keys: {', '.join(settings.LINGJING_MASTER_KEYS)}",
        f"data keys: {sum(by_master.values())} "
        + " ".join(f"[{mid}: {n}]" for mid, n in sorted(by_master.items())),
        f"erased people (deletion list): {ShreddedSubject.objects.count()}",
        f"unfinished rotation: #{open_rotation.pk}" if open_rotation else "unfinished rotation: none",
    ]
    return "\n".join(lines)
