"""Avatar uploads: decode for real, refuse anything doubtful, re-encode, keep nothing on failure.

1. Size: at most ``MAX_BYTES`` (5 MiB), read with a hard stop one byte past the cap.
2. Content: markup markers (``<svg``, ``<html``, ``<script``, ``<!doctype``, ``<body``, ``<iframe``) anywhere in
   the bytes are refused, which catches SVG, HTML named ``.png`` and image/HTML polyglots. Pillow then has to
   recognise the bytes as PNG, JPEG, WebP or GIF (the declared content type and file name are ignored).
3. Pixels: the header's dimensions must stay within ``MAX_SIDE`` × ``MAX_SIDE`` before anything is decoded;
   Pillow's ``DecompressionBombWarning`` is raised as an error and ``DecompressionBombError`` is caught.
4. Decoding must complete: truncated files fail (``LOAD_TRUNCATED_IMAGES`` stays off).
5. Re-encode: the decoded image is shrunk to ``WORKING_SIZE`` first (a JPEG already decodes at reduced scale), so
   memory stays near one decoded frame; an animated GIF or WebP keeps its first frame only. EXIF orientation
   applied, then a fresh image (no EXIF, GPS, XMP, ICC or text chunks) scaled to at most 512 px and a 256 px
   square-cropped variant, both saved as PNG under random names in ``default_storage``
   (local media or S3). Only after both files are written does the action point the profile at them; if anything
   fails afterwards the new files are removed again.
"""

from __future__ import annotations

import io
import secrets
import warnings
from dataclasses import dataclass
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

MAX_BYTES = 5 * 1024 * 1024
MAX_SIDE = 4096
MAX_PIXELS = MAX_SIDE * MAX_SIDE
FULL_SIZE = 512
THUMB_SIZE = 256
WORKING_SIZE = 2 * FULL_SIZE  # the decoded image is shrunk to this first; both outputs are made from it
FORMATS = ("PNG", "JPEG", "WEBP", "GIF")
MARKUP = (b"<svg", b"<html", b"<script", b"<!doctype", b"<body", b"<iframe")
STORAGE_DIR = "avatars"


class AvatarRejected(ValueError):
    """Raised with a Chinese message fit to show the user."""


@dataclass(frozen=True)
class EncodedAvatar:
    full: bytes
    thumb: bytes
    extension: str = "png"


def read_upload(upload: Any) -> bytes:
    size = getattr(upload, "size", None)
    if size is not None and size > MAX_BYTES:
        raise AvatarRejected("图片不能超过 5 MB")
    data = upload.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise AvatarRejected("图片不能超过 5 MB")
    if not data:
        raise AvatarRejected("文件是空的，请选择一张图片")
    return bytes(data)


def process(data: bytes) -> EncodedAvatar:
    """Validate and re-encode; raises :class:`AvatarRejected`."""
    with decode(data, draft=WORKING_SIZE) as image:
        return _reencode(image)


def decode(data: bytes, *, draft: int) -> Image.Image:
    """Every refusal rule of the module docstring; answers the decoded first frame (the caller closes it).

    ``draft`` lets a JPEG decode at 1/2, 1/4 or 1/8 scale while staying at least that many pixels on each side,
    so a large photo never exists at full size in memory.
    """
    if len(data) > MAX_BYTES:
        raise AvatarRejected("图片不能超过 5 MB")
    lowered = data.lower()
    if any(marker in lowered for marker in MARKUP):
        raise AvatarRejected("文件中含有网页或矢量图内容，请上传 PNG、JPEG、WebP 或 GIF 图片")
    del lowered
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise AvatarRejected(f"图片尺寸过大（最大 {MAX_SIDE}×{MAX_SIDE} 像素）") from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
            raise AvatarRejected("无法识别的图片格式，请上传 PNG、JPEG、WebP 或 GIF 图片") from None
        try:
            width, height = image.size
            if width < 1 or height < 1 or width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
                raise AvatarRejected(f"图片尺寸过大（最大 {MAX_SIDE}×{MAX_SIDE} 像素）")
            if image.format == "JPEG":
                image.draft(image.mode, (draft, draft))
            try:
                image.load()
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                raise AvatarRejected(f"图片尺寸过大（最大 {MAX_SIDE}×{MAX_SIDE} 像素）") from None
            except (OSError, ValueError, SyntaxError, EOFError):
                raise AvatarRejected("图片文件已损坏或不完整") from None
        except AvatarRejected:
            image.close()
            raise
        return image


def flatten(image: Image.Image, box: int) -> Image.Image:
    """A new image built from the pixels alone (nothing of the original's metadata can come along), EXIF
    orientation applied, at most ``box`` px on its longest side.

    The decoded image is shrunk in place before anything else, so an accepted upload at the size limit costs one
    full-size copy (two for palette or greyscale images, which are converted first).
    """
    mode = "RGBA" if image.mode in ("RGBA", "LA", "P", "PA") or "transparency" in image.info else "RGB"
    pixels = image if image.mode == mode else image.convert(mode)
    pixels.thumbnail((box, box), Image.Resampling.LANCZOS)  # in place: the full-size pixels are released
    ImageOps.exif_transpose(pixels, in_place=True)
    clean = Image.new(mode, pixels.size)
    clean.paste(pixels)
    return clean


def _reencode(image: Image.Image) -> EncodedAvatar:
    clean = flatten(image, WORKING_SIZE)
    full = clean.copy()
    full.thumbnail((FULL_SIZE, FULL_SIZE), Image.Resampling.LANCZOS)
    thumb = ImageOps.fit(clean, (THUMB_SIZE, THUMB_SIZE), Image.Resampling.LANCZOS)
    return EncodedAvatar(full=_png(full), thumb=_png(thumb))


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def store(encoded: EncodedAvatar) -> tuple[str, str]:
    """Write both files under server-generated names; answers their storage names. Nothing left on failure."""
    stem = secrets.token_hex(16)
    saved: list[str] = []
    try:
        saved.append(default_storage.save(f"{STORAGE_DIR}/{stem}.{encoded.extension}", ContentFile(encoded.full)))
        saved.append(
            default_storage.save(f"{STORAGE_DIR}/{stem}_{THUMB_SIZE}.{encoded.extension}", ContentFile(encoded.thumb))
        )
    except Exception:
        for name in saved:
            default_storage.delete(name)
        raise
    return saved[0], saved[1]


def set_avatar(user: Any, upload: Any, *, acting_user: Any) -> str:
    """The whole upload: read, validate, re-encode, store, point the profile at it. Answers the avatar URL."""
    from lingjing.accounts.actions import do_set_avatar

    encoded = process(read_upload(upload))
    image_name, thumb_name = store(encoded)
    try:
        do_set_avatar(user, image_name=image_name, thumb_name=thumb_name, acting_user=acting_user)
    except Exception:
        default_storage.delete(image_name)
        default_storage.delete(thumb_name)
        raise
    return str(user.avatar_url)
