"""Avatar uploads: real decoding, caps, bombs, markup, truncation, metadata stripped, nothing stored on failure."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from lingjing.accounts.avatars import MAX_BYTES, AvatarRejected, process, set_avatar
from lingjing.accounts.models import User
from lingjing.accounts.tests.conftest import ALICE_PHONE, PASSWORD, api_post, bearer

pytestmark = pytest.mark.django_db


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(side: int) -> bytes:
    """A genuine decompression bomb: a 1-bit ``side``×``side`` PNG of zeros, a few kilobytes on disk."""
    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", data) + _png_chunk(b"IEND", b"")


def photo_with_gps() -> bytes:
    image = Image.new("RGB", (640, 480), (200, 120, 40))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "PhoneModel X"  # Model
    exif[0x0132] = "2026:11:01 10:00:00"
    gps = {1: "N", 2: (31.0, 14.0, 0.0), 3: "E", 4: (121.0, 28.0, 0.0)}
    exif[0x8825] = gps  # GPSInfo
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif.tobytes(), quality=90)
    return buffer.getvalue()


def _media_files(settings: Any) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _upload(data: bytes, name: str = "a.png", content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


REJECTS: dict[str, tuple[Callable[[], bytes], str]] = {
    "decompression bomb": (lambda: bomb_png(20_000), "图片尺寸过大"),
    "too many pixels": (lambda: bomb_png(5_000), "图片尺寸过大"),
    "html named png": (lambda: b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>", "网页"),
    "svg": (lambda: b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "矢量图"),
    "truncated jpeg": (lambda: photo_with_gps()[:3000], "不完整"),
    "png html polyglot": (lambda: _png_bytes() + b"<html><script>alert(1)</script></html>", "网页"),
    "text": (lambda: b"just some text, not an image at all", "无法识别"),
}


def _png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (0, 128, 255)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("case", sorted(REJECTS))
def test_doubtful_uploads_are_rejected_with_a_clear_error_and_nothing_stored(
    case: str, settings: Any, alice: User
) -> None:
    make, message = REJECTS[case]
    with pytest.raises(AvatarRejected, match=message):
        set_avatar(alice, _upload(make()), acting_user=alice)
    alice.refresh_from_db()
    assert alice.avatar == "" and alice.avatar_thumb == ""
    assert _media_files(settings) == []


def test_the_size_cap(alice: User, settings: Any) -> None:
    with pytest.raises(AvatarRejected, match="5 MB"):
        set_avatar(alice, _upload(b"\x89PNG" + b"\x00" * MAX_BYTES), acting_user=alice)
    assert _media_files(settings) == []


def test_a_stored_avatar_has_no_exif_and_a_256px_variant_is_served(alice: User, settings: Any) -> None:
    original = photo_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get(0x8825)  # the upload does carry GPS
    url = set_avatar(alice, _upload(original, "me.jpg", "image/jpeg"), acting_user=alice)
    alice.refresh_from_db()
    files = _media_files(settings)
    assert len(files) == 2
    for path in files:
        data = path.read_bytes()
        image = Image.open(io.BytesIO(data))
        assert image.format == "PNG"
        assert not image.getexif() and "exif" not in image.info and not image.text  # type: ignore[attr-defined]
        assert b"PhoneModel" not in data and b"GPS" not in data
        assert path.name not in ("me.jpg",) and len(path.stem) >= 32  # server-generated name
    response = Client().get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    thumb = Image.open(io.BytesIO(b"".join(response.streaming_content)))  # type: ignore[attr-defined]
    assert thumb.size == (256, 256)


def test_replacing_an_avatar_removes_the_old_files(
    alice: User, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    set_avatar(alice, _upload(_png_bytes()), acting_user=alice)
    first = {p.name for p in _media_files(settings)}
    with django_capture_on_commit_callbacks(execute=True):
        set_avatar(alice, _upload(photo_with_gps(), "b.jpg"), acting_user=alice)
    second = {p.name for p in _media_files(settings)}
    assert len(second) == 2 and not first & second


def test_upload_through_the_api(api: Client, alice: User, settings: Any) -> None:
    token = api_post(api, "/auth/login", {"phone": ALICE_PHONE, "password": PASSWORD}).json()["token"]
    ok = api.post("/api/v1/me/avatar", {"file": _upload(_png_bytes())}, **bearer(token))
    assert ok.status_code == 200
    assert api.get("/api/v1/me", **bearer(token)).json()["avatar_url"] == ok.json()["avatar_url"]
    bad = api.post("/api/v1/me/avatar", {"file": _upload(b"<svg/>", "x.svg", "image/svg+xml")}, **bearer(token))
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_image"
    assert len(_media_files(settings)) == 2


def test_upload_through_the_profile_page(alice: User, settings: Any) -> None:
    browser = Client()
    browser.post("/accounts/login/", {"tab": "password", "phone": ALICE_PHONE, "password": PASSWORD,
                                      "action": "login"})
    bad = browser.post("/accounts/profile/", {"action": "avatar", "file": _upload(REJECTS["svg"][0]())})
    assert bad.status_code == 422 and "矢量图" in bad.content.decode()
    ok = browser.post("/accounts/profile/", {"action": "avatar", "file": _upload(_png_bytes())})
    assert ok.status_code == 302
    alice.refresh_from_db()
    assert alice.avatar_url and alice.avatar_url in browser.get("/accounts/profile/").content.decode()


def test_process_keeps_transparency_and_orientation() -> None:
    buffer = io.BytesIO()
    Image.new("RGBA", (300, 100), (0, 0, 0, 0)).save(buffer, format="PNG")
    encoded = process(buffer.getvalue())
    full = Image.open(io.BytesIO(encoded.full))
    assert full.mode == "RGBA" and full.size == (300, 100)
