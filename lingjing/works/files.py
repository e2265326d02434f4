"""Where a work's files live in storage, and removing them when the work goes."""

from __future__ import annotations

import logging
import uuid

from django.core.files.storage import default_storage

log = logging.getLogger(__name__)


def work_media_prefix(work_id: uuid.UUID | str) -> str:
    """Every file of a work (studio outputs, cover) lives under this storage prefix."""
    return f"works/{work_id}"


def delete_storage_tree(prefix: str) -> int:
    """Delete every file under ``prefix`` in default storage (works for local and S3-compatible storage)."""
    count = 0
    try:
        dirs, files = default_storage.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError):
        return 0
    for name in files:
        default_storage.delete(f"{prefix}/{name}")
        count += 1
    for sub in dirs:
        count += delete_storage_tree(f"{prefix}/{sub}")
    return count


def delete_work_files(work_id: uuid.UUID | str) -> None:
    removed = delete_storage_tree(work_media_prefix(work_id))
    log.info("removed %d files of work %s", removed, work_id)
