"""Screenshots attached to tickets, with the same hardening as avatars.

The checks are the avatar code's own (``lingjing.accounts.avatars``): at most 5 MiB read with a hard stop, markup
(SVG/HTML polyglots) refused, Pillow must recognise PNG, JPEG, WebP or GIF whatever the name or content type
says, dimensions checked in the header before decoding (at most 4096 × 4096), decompression bombs refused, and
the whole file must decode. The decoded image (``avatars.decode``, first frame only) is re-encoded at screenshot
size (longest side at most ``MAX_SIDE`` px, so text stays legible) into a fresh image built from the pixels alone:
no EXIF, GPS, XMP, ICC profile or text chunk survives. It is stored as PNG under a random name in
``default_storage`` (``support/``), never under the uploaded name, and served only through the ticket's access
check.
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from lingjing.accounts import avatars
from lingjing.accounts.avatars import AvatarRejected

MAX_SIDE = 2560
MAX_PER_MESSAGE = 4
STORAGE_DIR = "support"


class ScreenshotRejected(ValueError):
    """Raised with a Chinese message fit to show."""


@dataclass(frozen=True)
class Screenshot:
    png: bytes
    width: int
    height: int


def process(data: bytes) -> Screenshot:
    """Validate with the avatar rules, then re-encode at screenshot size; raises :class:`ScreenshotRejected`."""
    try:
        image = avatars.decode(data, draft=MAX_SIDE)  # every refusal rule of avatars, one decoding
    except AvatarRejected as exc:
        raise ScreenshotRejected(str(exc)) from None
    with image:
        clean = avatars.flatten(image, MAX_SIDE)
    buffer = io.BytesIO()
    clean.save(buffer, format="PNG", optimize=True)
    return Screenshot(png=buffer.getvalue(), width=clean.width, height=clean.height)


def read_upload(upload: Any) -> bytes:
    try:
        return avatars.read_upload(upload)
    except AvatarRejected as exc:
        raise ScreenshotRejected(str(exc)) from None


def store(shot: Screenshot) -> str:
    """Write the PNG under a server-generated name; answers its storage name."""
    return default_storage.save(f"{STORAGE_DIR}/{secrets.token_hex(16)}.png", ContentFile(shot.png))


def prepare(uploads: list[Any]) -> list[tuple[str, Screenshot]]:
    """Process and store every upload of one message, or none of them (files written so far are removed)."""
    if len(uploads) > MAX_PER_MESSAGE:
        raise ScreenshotRejected(f"每条消息最多附 {MAX_PER_MESSAGE} 张截图")
    shots = [process(read_upload(u)) for u in uploads]
    stored: list[tuple[str, Screenshot]] = []
    try:
        for shot in shots:
            stored.append((store(shot), shot))  # noqa: PERF401 - what was stored so far must be known on failure
    except Exception:
        discard([name for name, _ in stored])
        raise
    return stored


def discard(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)
