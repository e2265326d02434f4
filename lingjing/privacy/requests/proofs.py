"""Proof documents a close relative uploads (death certificate, proof of relationship): stored privately in the
default storage under ``rights-proofs/<random>/``, read only by staff on the application's page, removed with the
application's retention. Images and PDFs only, at most 5 files of 10 MB."""

from __future__ import annotations

import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage

MAX_FILES = 5
MAX_BYTES = 10 * 1024 * 1024
ALLOWED = {b"%PDF": ".pdf", b"\x89PNG": ".png", b"\xff\xd8\xff": ".jpg"}


def _extension(head: bytes) -> str | None:
    for magic, ext in ALLOWED.items():
        if head.startswith(magic):
            return ext
    return None


def store_proof_files(uploads: list[Any]) -> list[str]:
    """Check and store the uploads; answers their storage names. Nothing is left behind on a refusal."""
    if len(uploads) > MAX_FILES:
        raise ValidationError(f"最多上传 {MAX_FILES} 个文件")
    folder = f"rights-proofs/{secrets.token_hex(12)}"
    checked = []
    for upload in uploads:
        if upload.size > MAX_BYTES:
            raise ValidationError("每个文件最大 10 MB")
        head = upload.read(8)
        upload.seek(0)
        ext = _extension(head)
        if ext is None:
            raise ValidationError("只接受 PDF、PNG 或 JPEG 格式的证明文件")
        checked.append((upload, ext))
    names: list[str] = []
    try:
        for index, (upload, ext) in enumerate(checked):
            names.append(default_storage.save(f"{folder}/proof-{index + 1}{ext}", upload))
    except Exception:
        for name in names:
            default_storage.delete(name)
        raise
    return names
