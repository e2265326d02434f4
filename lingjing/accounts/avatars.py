"""Avatar uploads: decode for real, refuse anything doubtful, re-encode, keep nothing on failure.

1. Size: at most ``MAX_BYTES`` (5 MiB), read with a hard stop one byte past the cap.
2. Content: markup markers (``<svg``, ``<html``, ``<script``, ``<!doctype``, ``<body``, ``<iframe``) anywhere in
   the bytes are refused, which catches SVG, HTML named ``.png`` and image/HTML polyglots. Pillow then has to
   recognise the bytes as PNG, JPEG, WebP or GIF (the declared content type and file name are ignored).
3. Pixels: the header's dimensions must stay within ``MAX_SIDE`` × ``MAX_SIDE`` before anything is decoded;
   Pillow's ``DecompressionBombWarning`` is raised as an error and ``DecompressionBombError`` is caught.
4. Decoding must complete: truncated files fail (``LOAD_TRUNCATED_IMAGES`` stays off).
5. Re-encode: EXIF orientation applied, then a fresh image (no EXIF, GPS, XMP, ICC or text chunks) scaled to at
   most 512 px and a 256 px square-cropped variant, both saved as PNG under random names in ``default_storage``
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
        raise AvatarRejected("请选择一张图片")
    return bytes(data)


def process(data: bytes) -> EncodedAvatar:
    """Validate and re-encode; raises :class:`AvatarRejected`."""
    if len(data) > MAX_BYTES:
        raise AvatarRejected("图片不能超过 5 MB")
    lowered = data.lower()
    if any(marker in lowered for marker in MARKUP):
        raise AvatarRejected("文件中含有网页或矢量图内容，请上传 PNG、JPEG、WebP 或 GIF 图片")
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise AvatarRejected(f"图片尺寸过大（最大 {MAX_SIDE}×{MAX_SIDE} 像素）") from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
            raise AvatarRejected("无法识别的图片格式，请上传 PNG、JPEG、WebP 或 GIF 图片") from None
        with image:
            width, height = image.size
            if width < 1 or height < 1 or width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
                raise AvatarRejected(f"图片尺寸过大（最大 {MAX_SIDE}×{MAX_SIDE} 像素）")
            try:
                image.load()
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                raise AvatarRejected(f"图片尺寸过大（最大 {MAX_SIDE}×{MAX_SIDE} 像素）") from None
            except (OSError, ValueError, SyntaxError, EOFError):
                raise AvatarRejected("图片文件已损坏或不完整") from None
            return _reencode(image)


def _reencode(image: Image.Image) -> EncodedAvatar:
    oriented = ImageOps.exif_transpose(image) or image
    mode = "RGBA" if oriented.mode in ("RGBA", "LA", "P", "PA") or "transparency" in oriented.info else "RGB"
    # A new image built from the pixels alone: nothing of the original's metadata can come along.
    pixels = oriented.convert(mode)
    clean = Image.new(mode, pixels.size)
    clean.paste(pixels)
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
