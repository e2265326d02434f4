"""Bad files through the real endpoints: a corpus generated here (nothing binary is committed) is uploaded as an
avatar (profile page and ``POST /api/v1/me/avatar``), as ticket screenshots (ticket page and
``POST /api/v1/support/tickets/{id}/screenshots``) and as a story to import (studio page and
``POST /api/v1/studio/import``).

For every refused file: a Chinese message on the page, ``{"error": {...}}`` with a 4xx status on the API, no new
row (avatar fields, messages, attachments, works, jobs), no file left in ``MEDIA_ROOT`` or the upload temporary
directory — and bounded memory: Python allocations (``tracemalloc``) and the process's resident peak (``VmHWM``,
reset through ``/proc/self/clear_refs`` before each request) stay under :data:`BUDGET` although the bombs would
inflate to hundreds of megabytes or gigabytes. Pillow's pixel buffers are not Python allocations, hence the resident
figure; it only sees growth past what the process already holds, so it can miss, never invent, a cost (without
``/proc`` only the Python figure is checked). Accepted images must come back re-encoded (fresh PNG, no metadata,
single frame, no polyglot tail); accepted stories must be the text and nothing else.

Smoke size by default (256 MiB zip members, a 30 000-side PNG, a 3 000-frame GIF, a 12 MiB document body);
``LINGJING_BAD_FILES_LONG=1`` makes them 4095 MiB, 65 535 px, 20 000 frames and 56 MiB — the budgets stay the same.
"""

from __future__ import annotations

import functools
import io
import os
import random
import re
import struct
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from lingjing.core.tests.hardening.world import browser, member, token_for

pytestmark = pytest.mark.django_db

LONG = os.environ.get("LINGJING_BAD_FILES_LONG", "") not in ("", "0")
MIB = 1024 * 1024
BUDGET = 64 * MIB  # per request, Python allocations and resident-set growth alike
MEMBER_BYTES = (4095 if LONG else 256) * MIB  # what one zip member of a bomb inflates to
BOMB_SIDE = 65_535 if LONG else 30_000
GIF_FRAMES = 20_000 if LONG else 3_000

# --- memory ---------------------------------------------------------------------------------------------------


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


RSS_RESETTABLE = os.path.exists("/proc/self/clear_refs")
PEAKS: dict[str, int] = {}  # the larger of the two figures of the last request (printed with -s)


@dataclass
class Peak:
    python: int = 0
    resident: int = 0


@contextmanager
def measured() -> Iterator[Peak]:
    """Peak Python allocation and resident-set growth while the block runs."""
    peak = Peak()
    if RSS_RESETTABLE:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")  # resets VmHWM to the current RSS
    before = _status_kib("VmRSS") * 1024
    tracemalloc.start()
    try:
        yield peak
    finally:
        peak.python = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        if RSS_RESETTABLE:
            peak.resident = max(0, _status_kib("VmHWM") * 1024 - before)


# --- corpus: images -------------------------------------------------------------------------------------------

_ZERO_CHUNK = MIB


@functools.cache
def _zero_block() -> bytes:
    """1 MiB of zeros as raw deflate blocks ending in a full flush: repeatable back to back."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(bytes(_ZERO_CHUNK)) + compressor.flush(zlib.Z_FULL_FLUSH)


@functools.cache
def zero_deflate(size: int) -> tuple[bytes, int]:
    """A raw deflate stream of ``size`` zero bytes (about 1/1000 of it) and the CRC-32 of those zeros."""
    whole, rest = divmod(size, _ZERO_CHUNK)
    parts = [_zero_block() * whole]
    if rest:
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        parts.append(compressor.compress(bytes(rest)) + compressor.flush(zlib.Z_FULL_FLUSH))
    parts.append(b"\x03\x00")  # an empty final block
    crc = 0
    chunk = bytes(_ZERO_CHUNK)
    for _ in range(whole):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(bytes(rest), crc)
    return b"".join(parts), crc


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(side: int) -> bytes:
    """A genuine bomb: a ``side``×``side`` 1-bit PNG of one colour whose IDAT is a valid zlib stream of every row."""
    raw_size = side * (1 + (side + 7) // 8)
    deflated, _ = zero_deflate(raw_size)
    adler = ((raw_size % 65521) << 16) | 1  # Adler-32 of zeros: a = 1, b = n
    stream = b"\x78\xda" + deflated + struct.pack(">I", adler)
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", stream) + _chunk(b"IEND", b"")


def black_png(side: int) -> bytes:
    """A ``side``×``side`` 8-bit RGB PNG, all black: tens of kilobytes that decode to ``side``² × 4 bytes."""
    raw_size = side * (1 + 3 * side)
    deflated, _ = zero_deflate(raw_size)
    stream = b"\x78\xda" + deflated + struct.pack(">I", ((raw_size % 65521) << 16) | 1)
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", stream) + _chunk(b"IEND", b"")


def png(size: tuple[int, int] = (96, 64), *, text: str = "") -> bytes:
    image = Image.new("RGB", size, (30, 144, 255))
    image.putpixel((0, 0), (255, 0, 0))
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", text or "camera serial 12345")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def jpeg_with_gps(size: tuple[int, int] = (120, 90)) -> bytes:
    image = Image.new("RGB", size, (200, 120, 40))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x8825] = {1: "N", 2: (31.0, 14.0, 0.0), 3: "E", 4: (121.0, 28.0, 0.0)}
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif.tobytes(), quality=85)
    return buffer.getvalue()


def jpeg_bomb() -> bytes:
    """A small JPEG whose frame header (SOF0) declares 65 500 × 65 500 pixels."""
    data = bytearray(jpeg_with_gps())
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, 65_500, 65_500)
    return bytes(data)


def gif(frames: int = 1, *, screen: tuple[int, int] = (64, 64), comment: bytes = b"") -> bytes:
    """A hand-made GIF: ``frames`` 1×1 frames on a ``screen`` canvas (about 23 bytes a frame)."""
    out = bytearray(b"GIF89a" + struct.pack("<HHBBB", *screen, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff")
    out += b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    if comment:
        out += b"\x21\xfe" + b"".join(bytes([len(p)]) + p for p in _blocks(comment)) + b"\x00"
    frame = b"\x21\xf9\x04\x00\x02\x00\x00\x00" + b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00" + b"\x02\x02\x44\x01\x00"
    out += frame * frames + b"\x3b"
    return bytes(out)


def _blocks(data: bytes) -> list[bytes]:
    return [data[i:i + 255] for i in range(0, len(data), 255)]


def webp_animation(frames: int, *, canvas: tuple[int, int] | None = None) -> bytes:
    images = [Image.new("RGB", (16, 16), (i % 256, 80, 160)) for i in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, format="WEBP", save_all=True, append_images=images[1:], duration=40, lossless=True)
    data = bytearray(buffer.getvalue())
    if canvas is not None:  # VP8X keeps canvas width-1 and height-1 as 24-bit little-endian numbers
        at = data.index(b"VP8X") + 8 + 4
        data[at:at + 3] = (canvas[0] - 1).to_bytes(3, "little")
        data[at + 3:at + 6] = (canvas[1] - 1).to_bytes(3, "little")
    return bytes(data)


PDF = b"%PDF-1.7\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(48) + b"PE\x00\x00" + bytes(200)
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG_SCRIPT = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
              b"<script>alert(1)</script></svg>")
SVG_ONLOAD = b'<svg xmlns="http://www.w3.org/2000/svg" onload="fetch(\'/api/v1/me\')"><rect width="9"/></svg>'
PHP_TAIL = b"<?php system($_GET['c']); ?>"


def _zip_tail() -> bytes:
    return zip_archive([stored("payload.js", b"fetch('/api/v1/me').then(r => r.text()).then(alert)")])


@dataclass(frozen=True)
class ImageCase:
    name: str
    build: Callable[[], bytes]
    filename: str = "picture.png"
    content_type: str = "image/png"
    refused: str = ""  # the Chinese message expected; empty when the image must be accepted and re-encoded
    tail: bytes = b""  # bytes of a polyglot that must be gone from what is stored


IMAGE_CASES = [
    ImageCase("png bomb", lambda: png_bomb(BOMB_SIDE), refused="图片尺寸过大"),
    ImageCase("png over the side limit", lambda: png_bomb(5000), refused="图片尺寸过大"),
    ImageCase("jpeg bomb", jpeg_bomb, "photo.jpg", "image/jpeg", refused="图片尺寸过大"),
    ImageCase("gif canvas bomb", lambda: gif(2, screen=(65_535, 65_535)), "a.gif", "image/gif", refused="图片尺寸过大"),
    ImageCase("webp canvas bomb", lambda: webp_animation(3, canvas=(16_383, 16_383)), "a.webp", "image/webp",
              refused="图片尺寸过大"),
    ImageCase("gif with thousands of frames", lambda: gif(GIF_FRAMES, screen=(2048, 2048)), "a.gif", "image/gif"),
    ImageCase("webp with many frames", lambda: webp_animation(300), "a.webp", "image/webp"),
    ImageCase("gif that is also html", lambda: gif(comment=b"<html><script>alert(1)</script></html>"), "a.gif",
              "image/gif", refused="网页"),
    ImageCase("png that is also html", lambda: png(text="<script>alert(1)</script>"), refused="网页"),
    ImageCase("png with a zip appended", lambda: png() + _zip_tail(), tail=b"PK\x03\x04"),
    ImageCase("jpeg with php appended", lambda: jpeg_with_gps() + PHP_TAIL, "photo.jpg", "image/jpeg", tail=b"<?php"),
    ImageCase("jpeg with html appended", lambda: jpeg_with_gps() + HTML, "photo.jpg", "image/jpeg", refused="网页"),
    ImageCase("svg with script", lambda: SVG_SCRIPT, "a.svg", "image/svg+xml", refused="矢量图"),
    ImageCase("svg with onload", lambda: SVG_ONLOAD, "a.svg", "image/svg+xml", refused="矢量图"),
    ImageCase("svg named png", lambda: SVG_ONLOAD, refused="矢量图"),
    ImageCase("utf-16 svg named png", lambda: SVG_SCRIPT.decode().encode("utf-16"), refused="无法识别"),
    ImageCase("truncated png", lambda: (p := png((300, 200)))[: len(p) // 2], refused="不完整"),
    ImageCase("truncated jpeg", lambda: (j := jpeg_with_gps((400, 300)))[: len(j) // 2], "a.jpg", "image/jpeg",
              refused="不完整"),
    ImageCase("pdf named png", lambda: PDF, refused="无法识别"),
    ImageCase("exe named png", lambda: EXE, refused="无法识别"),
    ImageCase("html named png", lambda: HTML, refused="网页"),
    ImageCase("empty file", lambda: b"", refused="空"),
    ImageCase("nul bytes", lambda: bytes(4096), refused="无法识别"),
    ImageCase("over 5 MB", lambda: png() + os.urandom(5 * MIB), refused="5 MB"),
    ImageCase("photo with gps", jpeg_with_gps, "photo.jpg", "image/jpeg"),
]
IMAGE_IDS = [case.name for case in IMAGE_CASES]


# --- corpus: archives and text --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    name: str
    raw: bytes  # the bytes as stored in the archive
    crc: int
    size: int  # declared uncompressed size
    method: int = 8


def deflated(name: str, data: bytes) -> Member:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return Member(name, compressor.compress(data) + compressor.flush(), zlib.crc32(data), len(data))


def stored(name: str, data: bytes) -> Member:
    return Member(name, data, zlib.crc32(data), len(data), method=0)


def zeros(name: str, size: int) -> Member:
    raw, crc = zero_deflate(size)
    return Member(name, raw, crc, size)


def zip_archive(members: list[Member]) -> bytes:
    """A zip written by hand, so members can be pre-compressed bombs, lie about their size or carry any name."""
    out = bytearray()
    central = bytearray()
    for m in members:
        name = m.name.encode()
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0x800, m.method, 0, 0x21, m.crc, len(m.raw), m.size,
                           len(name), 0) + name + m.raw
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0x800, m.method, 0, 0x21, m.crc, len(m.raw),
                               m.size, len(name), 0, 0, 0, 0, 0, offset) + name
    start = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), start, 0)
    return bytes(out)


W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
DOCX_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType='
    '"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
DOCX_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
    'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
)
STORY_LINES = ["第一章 夜雨", "李明走进了杭州的一家茶馆。", "王芳抬起头，笑道：「你终于来了。」"]


def document_xml(lines: list[str] = STORY_LINES, *, prolog: str = "") -> bytes:
    body = "".join(f"<w:p><w:r><w:t>{line}</w:t></w:r></w:p>" for line in lines)
    return f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<w:document xmlns:w="{W}"><w:body>{body}</w:body>' \
           "</w:document>".encode()


def docx(*extra: Member, document: Member | None = None) -> bytes:
    return zip_archive([deflated("[Content_Types].xml", DOCX_TYPES.encode()),
                        deflated("_rels/.rels", DOCX_RELS.encode()),
                        document or deflated("word/document.xml", document_xml()), *extra])


CONTAINER = (
    '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
    '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles>'
    "</container>"
)


def opf(prolog: str = "", entity: str = "") -> bytes:
    return (
        f'<?xml version="1.0"?>{prolog}<package xmlns="http://www.idpf.org/2007/opf" version="3.0"><metadata>{entity}'
        '</metadata><manifest><item id="c1" href="ch1.xhtml" media-type="application/xhtml+xml"/></manifest>'
        '<spine><itemref idref="c1"/></spine></package>'
    ).encode()


def chapter(lines: list[str] = STORY_LINES) -> bytes:
    paragraphs = "".join(f"<p>{line}</p>" for line in lines)
    return f'<html xmlns="http://www.w3.org/1999/xhtml"><body>{paragraphs}</body></html>'.encode()


def epub(*extra: Member, package: bytes | None = None, first: Member | None = None) -> bytes:
    return zip_archive([stored("mimetype", b"application/epub+zip"),
                        deflated("META-INF/container.xml", CONTAINER.encode()),
                        deflated("OEBPS/content.opf", package or opf()),
                        first or deflated("OEBPS/ch1.xhtml", chapter()), *extra])


LAUGHS = '<!DOCTYPE lolz [<!ENTITY lol "lol">' + "".join(
    f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)
) + "]>"


def lying_member() -> Member:
    """Declares 1 KiB but inflates to the full bomb: zipfile must stop at the declared size (CRC error)."""
    raw, crc = zero_deflate(MEMBER_BYTES)
    return Member("word/document.xml", raw, crc, 1024)


def nested_bomb() -> bytes:
    return zip_archive([zeros("inner/zeros.bin", MEMBER_BYTES)])


@functools.cache
def _prose_block() -> str:
    """50 paragraphs of random characters: repeated, they deflate about 40 times (under the importer's ratio cap)."""
    rng = random.Random(7)
    return "\n".join("".join(chr(0x4E00 + rng.randrange(3000)) for _ in range(120)) for _ in range(50))


def fast(name: str, data: bytes, level: int = 1) -> Member:
    """Deflated at ``level``, picked per corpus entry to land under the importer's 150× ratio cap."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    return Member(name, compressor.compress(data) + compressor.flush(), zlib.crc32(data), len(data))


def docx_inflating_within_limits() -> bytes:
    """A body of ``BODY_BYTES`` at an honest-looking ratio: within every archive limit, far over the story cap."""
    block = "".join(f"<w:p><w:r><w:t>{line}</w:t></w:r></w:p>" for line in _prose_block().split("\n"))
    xml = document_xml([]).replace(b"<w:body></w:body>",
                                   b"<w:body>" + block.encode() * (BODY_BYTES // len(block.encode())) + b"</w:body>")
    return docx(document=fast("word/document.xml", xml))


def epub_inflating_within_limits() -> bytes:
    block = "".join(f"<p>{line}</p>" for line in _prose_block().split("\n")).encode()
    xhtml = chapter([]).replace(b"<body></body>", b"<body>" + block * (BODY_BYTES // len(block)) + b"</body>")
    return epub(first=fast("OEBPS/ch1.xhtml", xhtml, level=6))  # level 1 misses the 18 KB repeats: ~6×


def epub_repeating_one_chapter(times: int) -> bytes:
    refs = '<itemref idref="c1"/>' * times
    return epub(package=opf().replace(b'<itemref idref="c1"/>', refs.encode()))


BODY_BYTES = (56 if LONG else 12) * MIB
MAX_CHARS = 500_000
UPLOAD_LIMIT = 5 * MIB


def story_of(chars: int) -> bytes:
    base = "第一章 开端\n" + "山雨欲来风满楼。" * (chars // 8 + 1)
    return base[:chars].encode()


def docx_just_under_limit() -> bytes:
    """A real docx padded with an unreferenced, incompressible member to 64 bytes under the upload limit."""
    overhead = len(docx(stored("word/media/pad.bin", b"")))
    return docx(stored("word/media/pad.bin", os.urandom(UPLOAD_LIMIT - 64 - overhead)))


@dataclass(frozen=True)
class StoryCase:
    name: str
    build: Callable[[], bytes]
    filename: str
    refused: str = ""  # the Chinese message expected; empty when the story must be imported
    code: str = ""  # the API's error code
    accepted_chars: int = 0  # for accepted files: the story's length


STORY_CASES = [
    StoryCase("docx zip bomb", lambda: docx(zeros("word/media/zeros.bin", MEMBER_BYTES)), "bomb.docx", "压缩",
              "archive_bomb"),
    StoryCase("docx bomb as document", lambda: docx(document=zeros("word/document.xml", MEMBER_BYTES)), "d.docx",
              "压缩", "archive_bomb"),
    StoryCase("docx member lying about its size", lambda: docx(document=lying_member()), "lie.docx", "docx 文件已损坏",
              "bad_archive"),
    StoryCase("docx with many members", lambda: docx(*[stored(f"word/m{i}.xml", b"") for i in range(2100)]),
              "many.docx", "条目过多", "archive_too_complex"),
    StoryCase("docx that is a nested zip", lambda: docx(document=stored("word/document.xml", nested_bomb())),
              "nested.docx", "docx 文件已损坏", "bad_archive"),
    StoryCase("docx carrying a nested bomb", lambda: docx(stored("word/embeddings/bomb.zip", nested_bomb())),
              "carry.docx", accepted_chars=len("\n".join(STORY_LINES))),
    StoryCase("docx with a traversal member", lambda: docx(deflated("../../x", b"owned")), "trav.docx", "路径",
              "bad_archive"),
    StoryCase("docx billion laughs", lambda: docx(document=deflated("word/document.xml", document_xml(
        ["&lol9;"], prolog=LAUGHS))), "lol.docx", "实体", "xml_entities"),
    StoryCase("docx billion laughs in utf-16", lambda: docx(document=deflated("word/document.xml", document_xml(
        ["&lol9;"], prolog=LAUGHS).decode().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16"))),
        "lol16.docx", "实体", "xml_entities"),
    StoryCase("epub zip bomb", lambda: epub(zeros("OEBPS/zeros.bin", MEMBER_BYTES)), "bomb.epub", "压缩",
              "archive_bomb"),
    StoryCase("epub bomb as chapter", lambda: epub(first=zeros("OEBPS/ch1.xhtml", MEMBER_BYTES)), "c.epub", "压缩",
              "archive_bomb"),
    StoryCase("epub with many members", lambda: epub(*[stored(f"OEBPS/m{i}.css", b"") for i in range(2100)]),
              "many.epub", "条目过多", "archive_too_complex"),
    StoryCase("epub with a traversal member", lambda: epub(deflated("../../x", b"owned")), "trav.epub", "路径",
              "bad_archive"),
    StoryCase("epub billion laughs in the package", lambda: epub(package=opf(LAUGHS, "<t>&lol9;</t>")), "lol.epub",
              "实体", "xml_entities"),
    StoryCase("epub billion laughs in a chapter", lambda: epub(first=deflated("OEBPS/ch1.xhtml", LAUGHS.encode() +
              chapter(["&lol9;"]))), "lolc.epub", "实体", "xml_entities"),
    StoryCase("epub that is a nested zip", lambda: epub(first=stored("OEBPS/ch1.xhtml", nested_bomb())), "n.epub",
              "epub 文件已损坏", "bad_archive"),
    StoryCase("docx whose body inflates within the limits", docx_inflating_within_limits, "long.docx", "故事过长",
              "too_long"),
    StoryCase("epub whose chapter inflates within the limits", epub_inflating_within_limits, "long.epub", "故事过长",
              "too_long"),
    StoryCase("epub naming one chapter 20000 times", lambda: epub_repeating_one_chapter(20_000), "loop.epub",
              accepted_chars=len("\n".join(STORY_LINES))),
    StoryCase("text over the size limit", lambda: story_of(UPLOAD_LIMIT // 3 + 10), "big.txt", "文件过大", "too_large"),
    StoryCase("text over the character limit", lambda: story_of(MAX_CHARS + 1), "long.txt", "故事过长", "too_long"),
    StoryCase("text just under the limits", lambda: story_of(MAX_CHARS), "ok.txt", accepted_chars=MAX_CHARS),
    StoryCase("docx just under the size limit", docx_just_under_limit, "pad.docx",
              accepted_chars=len("\n".join(STORY_LINES))),
    StoryCase("empty text", lambda: b"", "empty.txt", "空", "empty"),
    StoryCase("empty docx", lambda: b"", "empty.docx", "空", "empty"),
    StoryCase("png named txt", png, "story.txt", "不是文本文件", "not_text"),
    StoryCase("text with nul bytes", lambda: "第一章\n正文".encode() + b"\x00" * 64 + "结束".encode(), "nul.txt",
              "不是文本文件", "not_text"),
    StoryCase("utf-16 bom with an odd byte", lambda: b"\xff\xfe" + "故事".encode("utf-16-le") + b"\x00\xd8", "odd.txt",
              "编码", "bad_encoding"),
    StoryCase("random bytes named txt", lambda: bytes(range(128, 256)) * 64, "noise.txt", "编码", "bad_encoding"),
    StoryCase("pdf named txt", lambda: PDF + bytes(8), "doc.txt", "不是文本文件", "not_text"),
    StoryCase("exe with an unknown extension", lambda: EXE, "setup.exe", "不支持的文件类型", "unsupported"),
]
STORY_IDS = [case.name for case in STORY_CASES]


# --- the endpoints --------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Person:
    user: Any
    page: Client
    api: Client
    ticket: Any


@pytest.fixture
def person(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Person:
    import lingjing.api  # noqa: F401 - mounts every router; importing support.api first would leave it unmounted
    from lingjing.core.ratelimit import Limit
    from lingjing.support.actions import do_open_ticket

    # One ticket takes the whole corpus: its 30 messages an hour would refuse the later cases with 429.
    roomy = Limit("support:message:subject:hour", 10_000, 3600, sliding=True)
    monkeypatch.setattr("lingjing.support.api.MESSAGE_LIMIT", roomy)
    monkeypatch.setattr("lingjing.support.views.MESSAGE_LIMIT", roomy)
    settings.FILE_UPLOAD_TEMP_DIR = str(Path(settings.DATA_DIR) / "upload-tmp")
    Path(settings.FILE_UPLOAD_TEMP_DIR).mkdir()
    user = member("坏文件")
    ticket = do_open_ticket(user=user, category="account", title="截图问题", body="请看截图", acting_user=user)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}", HTTP_ACCEPT_LANGUAGE="zh-hans")
    person = Person(user=user, page=browser(user), api=api, ticket=ticket)
    _warm_up(person)
    return person


_warm: list[bool] = []


def _warm_up(person: Person) -> None:
    """One unmeasured upload per surface and process: first-request imports and caches are not the upload's cost."""
    if _warm:
        return
    _warm.append(True)
    for surface in SURFACES:
        SURFACES[surface](person, _upload(png() if "import" not in surface else STORY_LINES[0].encode(),
                                          "warm.png" if "import" not in surface else "warm.txt", "image/png"))


def _files(settings: Any) -> set[str]:
    found: set[str] = set()
    for root in (settings.MEDIA_ROOT, settings.FILE_UPLOAD_TEMP_DIR):
        if Path(root).exists():
            found |= {str(p) for p in Path(root).rglob("*") if p.is_file()}
    return found


def _state(person: Person, settings: Any) -> dict[str, Any]:
    from lingjing.accounts.models import User
    from lingjing.security.audit_models import AuditEntry
    from lingjing.studio.models import StudioJob
    from lingjing.support.models import Attachment, TicketMessage
    from lingjing.works.models import Work

    user = User.objects.get(pk=person.user.pk)
    return {
        "audit": AuditEntry.objects.count(),  # a refusal is not an action: no audit row either
        "avatar": (user.avatar, user.avatar_thumb),
        "messages": TicketMessage.objects.filter(ticket=person.ticket).count(),
        "attachments": Attachment.objects.count(),
        "works": Work.objects.count(),
        "jobs": StudioJob.objects.count(),
        "files": _files(settings),
    }


def _upload(data: bytes, name: str, content_type: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


SURFACES = {
    "avatar page": lambda p, f: p.page.post("/accounts/profile/", {"action": "avatar", "file": f}),
    "avatar api": lambda p, f: p.api.post("/api/v1/me/avatar", {"file": f}),
    "screenshot page": lambda p, f: p.page.post(f"/support/{p.ticket.pk}/", {"body": "见截图", "screenshots": [f]}),
    "screenshot api": lambda p, f: p.api.post(f"/api/v1/support/tickets/{p.ticket.pk}/screenshots", {"files": [f]}),
    "import page": lambda p, f: p.page.post("/studio/", {"title": "导入的故事", "file": f}),
    "import api": lambda p, f: p.api.post("/api/v1/studio/import", {"title": "导入的故事", "file": f}),
}
CJK = re.compile(r"[\u4e00-\u9fff]")


def _post(person: Person, surface: str, data: bytes, name: str, content_type: str) -> tuple[Any, Peak]:
    upload = _upload(data, name, content_type)
    with measured() as peak:
        response = SURFACES[surface](person, upload)
    return response, peak


def _assert_bounded(peak: Peak, what: str) -> None:
    assert peak.python < BUDGET, f"{what}: {peak.python / MIB:.1f} MiB of Python allocations"
    assert peak.resident < BUDGET, f"{what}: resident set grew by {peak.resident / MIB:.1f} MiB"
    PEAKS[what] = max(PEAKS.get(what, 0), peak.python, peak.resident)


def _assert_refused(response: Any, surface: str, message: str) -> None:
    if surface.endswith("api"):
        assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
        error = response.json()["error"]
        assert error["code"], error
        assert message in error["message"], error
        assert CJK.search(error["message"]), error
    else:
        assert response.status_code in (200, 413, 422), response.status_code
        page = response.content.decode()
        assert message in page, re.findall(r'class="[^"]*error[^"]*"[^>]*>([^<]*)', page)[:5]


@functools.cache
def _image(name: str) -> bytes:
    return next(case for case in IMAGE_CASES if case.name == name).build()


@functools.cache
def _story(name: str) -> bytes:
    return next(case for case in STORY_CASES if case.name == name).build()


# --- images ---------------------------------------------------------------------------------------------------
# One test per surface runs the whole corpus (one person, one ticket), each case checked on its own: a fresh
# database per case would cost more than the cases. Failures are collected, so one run reports every case.


def _run(cases: list[Any], check: Callable[[Any], None]) -> None:
    failures = []
    for case in cases:
        PEAKS.clear()
        try:
            check(case)
        except AssertionError as exc:
            failures.append(f"{case.name}: {str(exc).splitlines()[0]}")
        for what, size in PEAKS.items():
            print(f"{case.name} {what}: peak {size / MIB:.1f} MiB")  # noqa: T201 - the figures for docs/testing.md
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("surface", ["avatar page", "avatar api", "screenshot page", "screenshot api"])
def test_bad_images_are_refused_or_reencoded_with_bounded_memory(
    surface: str, person: Person, settings: Any
) -> None:
    def check(case: ImageCase) -> None:
        data = _image(case.name)
        before = _state(person, settings)
        response, peak = _post(person, surface, data, case.filename, case.content_type)
        _assert_bounded(peak, f"via {surface}")
        after = _state(person, settings)
        if case.refused:
            _assert_refused(response, surface, case.refused)
            assert after == before, "a refused upload left something behind"
            return
        assert response.status_code in (200, 201, 302), (response.status_code, response.content[:300])
        new_files = after["files"] - before["files"]
        assert new_files, "an accepted image must be stored"
        assert all(f.startswith(str(settings.MEDIA_ROOT)) for f in new_files), "temporary upload files left behind"
        if surface.startswith("avatar"):
            assert after["avatar"] != before["avatar"]
        else:
            assert after["attachments"] == before["attachments"] + 1
        for path in new_files:
            _assert_reencoded(Path(path).read_bytes(), data, case.tail)

    _run(IMAGE_CASES, check)


def _assert_reencoded(stored_bytes: bytes, upload: bytes, tail: bytes) -> None:
    assert stored_bytes != upload
    assert stored_bytes.startswith(b"\x89PNG\r\n\x1a\n"), "stored as a fresh PNG"
    assert stored_bytes.endswith(_chunk(b"IEND", b"")), "nothing after the PNG's end"
    if tail:
        assert tail not in stored_bytes
    for marker in (b"tEXt", b"iTXt", b"zTXt", b"eXIf", b"iCCP", b"PhoneMaker", b"acTL"):
        assert marker not in stored_bytes, marker
    with Image.open(io.BytesIO(stored_bytes)) as image:
        assert image.format == "PNG"
        assert not getattr(image, "is_animated", False)
        assert not image.getexif()
        image.load()


@pytest.mark.parametrize("surface", ["avatar api", "screenshot api"])
def test_an_image_at_the_size_limit_is_shrunk_before_it_is_copied(
    surface: str, person: Person, settings: Any
) -> None:
    """4096 × 4096 is accepted (a phone photo is about that); a 4-byte-per-pixel frame of it is 64 MiB, so the
    budget here is two and a half frames: the decoded one, Pillow's two-pass resampling buffer (a screenshot keeps
    2560 px: 40 MiB between the passes) and the shrunk copy. Measured: about 75 MiB as an avatar, 125 MiB as a
    screenshot; before the images were shrunk first, about 330 MiB and 280 MiB."""
    from lingjing.accounts.avatars import MAX_SIDE

    data = black_png(MAX_SIDE)
    before = _state(person, settings)
    response, peak = _post(person, surface, data, "big.png", "image/png")
    assert response.status_code in (200, 201), response.content[:300]
    assert peak.python < BUDGET
    assert peak.resident < 5 * MAX_SIDE * MAX_SIDE * 4 // 2, f"{peak.resident / MIB:.1f} MiB"
    print(f"{MAX_SIDE}² black PNG of {len(data) // 1024} KiB via {surface}: peak {peak.resident / MIB:.1f} MiB")  # noqa: T201
    for path in _state(person, settings)["files"] - before["files"]:
        _assert_reencoded(Path(path).read_bytes(), data, b"")


# --- stories --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("surface", ["import page", "import api"])
def test_bad_story_files_are_refused_or_imported_with_bounded_memory(
    surface: str, person: Person, settings: Any
) -> None:
    from lingjing.works.models import Work

    def check(case: StoryCase) -> None:
        data = _story(case.name)
        before = _state(person, settings)
        response, peak = _post(person, surface, data, case.filename, "application/octet-stream")
        _assert_bounded(peak, f"via {surface}")
        after = _state(person, settings)
        if case.refused:
            _assert_refused(response, surface, case.refused)
            if surface == "import api" and case.code:
                assert response.json()["error"]["code"] == case.code, response.json()
            assert after == before, "a refused import left something behind"
            return
        assert response.status_code in (201, 302), (response.status_code, response.content[:500])
        assert after["works"] == before["works"] + 1
        work = Work.objects.order_by("-created_at").first()
        assert work is not None
        assert len(work.script) == case.accepted_chars, len(work.script)
        assert "\x00" not in work.script and "\ufffd" not in work.script
        assert after["files"] == before["files"], "an import keeps the text only"

    _run(STORY_CASES, check)


# --- request-level limits -------------------------------------------------------------------------------------


@pytest.mark.parametrize("surface", ["avatar page", "avatar api", "import page", "import api"])
def test_an_oversized_request_is_refused_before_its_body_is_read(
    surface: str, person: Person, settings: Any
) -> None:
    from django.test import override_settings

    before = _state(person, settings)
    limit = settings.LINGJING_MAX_REQUEST_BYTES
    with override_settings(LINGJING_MAX_REQUEST_BYTES=64 * 1024):
        response, peak = _post(person, surface, os.urandom(128 * 1024), "big.png", "image/png")
    assert limit == settings.LINGJING_MAX_REQUEST_BYTES
    _assert_bounded(peak, surface)
    assert response.status_code == 413
    if surface.endswith("api"):
        assert response.json()["error"]["code"] == "payload_too_large"
        assert CJK.search(response.json()["error"]["message"])
    else:
        assert "上传的内容过大" in response.content.decode()
    assert _state(person, settings) == before


def test_request_limits_are_configured(settings: Any) -> None:
    """Form fields, files kept in memory and the whole body each have a ceiling; the body's fits four
    screenshots at the per-file cap."""
    from lingjing.accounts.avatars import MAX_BYTES
    from lingjing.support.uploads import MAX_PER_MESSAGE

    assert 0 < settings.FILE_UPLOAD_MAX_MEMORY_SIZE <= 8 * MIB
    assert 0 < settings.DATA_UPLOAD_MAX_MEMORY_SIZE <= 16 * MIB
    assert MAX_PER_MESSAGE * MAX_BYTES < settings.LINGJING_MAX_REQUEST_BYTES <= 64 * MIB
