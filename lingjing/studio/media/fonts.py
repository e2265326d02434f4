"""Finding a real CJK font, loading it, and wrapping Chinese text to a width.

Pillow's built-in font has no Chinese glyphs, and a Latin font draws every Han character as the same "tofu"
box, so the studio insists on a font that really covers CJK: the one named by ``LINGJING_CJK_FONT``, else a
Debian / macOS / Windows system font (Debian: ``fonts-wqy-microhei`` or ``fonts-noto-cjk``, listed in
``.ci/apt-packages``), else whatever fontconfig says covers ``zh``. A candidate counts only if it actually
draws "中" differently from its missing-glyph box.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Medium.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",  # Arch, Fedora
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
)

# A code point no font maps (a noncharacter): FreeType draws the font's .notdef box for it.
NOTDEF_PROBE = "\ufdd0"


class FontNotFoundError(RuntimeError):
    def __init__(self, tried: list[str]) -> None:
        self.tried = tried
        super().__init__(
            "找不到可用的中文字体：请安装 fonts-wqy-microhei 或 fonts-noto-cjk（Debian：apt-get install "
            "fonts-wqy-microhei），或用环境变量 LINGJING_CJK_FONT 指定字体文件。"
            "No CJK font found: install fonts-wqy-microhei or fonts-noto-cjk, or point LINGJING_CJK_FONT at a "
            f"font file. Tried: {', '.join(tried) or 'nothing'}"
        )


def _configured_font() -> str:
    """``settings.LINGJING_CJK_FONT`` when a deployment sets it there, else the environment variable."""
    from django.conf import settings

    value = str(getattr(settings, "LINGJING_CJK_FONT", "") or "") if settings.configured else ""
    return value or os.environ.get("LINGJING_CJK_FONT", "")


def _glyph_bitmap(font: ImageFont.FreeTypeFont, char: str) -> bytes:
    image = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(image).text((8, 8), char, font=font, fill=255)
    return image.tobytes()


def missing_glyphs(font: ImageFont.FreeTypeFont, text: str) -> list[str]:
    """The characters of ``text`` that ``font`` draws as its missing-glyph box (or not at all)."""
    notdef = _glyph_bitmap(font, NOTDEF_PROBE)
    blank = bytes(64 * 64)
    missing = []
    for char in dict.fromkeys(text):
        if char.isspace():
            continue
        bitmap = _glyph_bitmap(font, char)
        if bitmap in (notdef, blank):
            missing.append(char)
    return missing


def _covers_cjk(path: str) -> bool:
    try:
        font = ImageFont.truetype(path, 40)
    except OSError:
        return False
    return not missing_glyphs(font, "中文灵境")


def _fontconfig_candidates() -> list[str]:
    exe = shutil.which("fc-match")
    if exe is None:
        return []
    try:
        out = subprocess.run(  # noqa: S603 — fixed argv, no shell
            [exe, "-f", "%{file}\n", "-s", ":lang=zh-cn"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line for line in out.splitlines()[:5] if line]


@cache
def cjk_font_path() -> Path:
    """The path of a font that draws Chinese; raises :class:`FontNotFoundError` (zh + en) when there is none."""
    tried: list[str] = []
    configured = _configured_font()
    candidates = [configured] if configured else []
    candidates += [c for c in CANDIDATES if os.path.exists(c)]
    for path in candidates:
        tried.append(path)
        if _covers_cjk(path):
            return Path(path)
    for path in _fontconfig_candidates():
        tried.append(path)
        if _covers_cjk(path):
            return Path(path)
    raise FontNotFoundError(tried or list(CANDIDATES[:4]))


@cache
def load_font(size: int) -> ImageFont.FreeTypeFont:
    """The CJK font at ``size`` pixels (cached per size)."""
    return ImageFont.truetype(str(cjk_font_path()), max(6, int(size)))


# Characters that must not start a line (避头) or end one (避尾), after the Chinese layout rules (GB/T 15834).
NO_LINE_START = set("，。、；：？！）》」』】〕…—,.;:?!)]}%·’”")
NO_LINE_END = set("（《「『【〔([{‘“")


def _tokens(text: str) -> list[str]:
    """Split into breakable units: one CJK character each, Latin words and numbers kept whole."""
    tokens: list[str] = []
    word = ""
    for char in text:
        if char.isascii() and (char.isalnum() or char in "'-_@#&"):
            word += char
            continue
        if word:
            tokens.append(word)
            word = ""
        tokens.append(char)
    if word:
        tokens.append(word)
    return tokens


def wrap_text(text: str, font: ImageFont.FreeTypeFont, max_width: float, *, max_lines: int | None = None) -> list[str]:
    """Break ``text`` into lines no wider than ``max_width`` pixels, obeying the line-start/line-end rules.

    Explicit newlines are kept. With ``max_lines`` the last kept line ends in "…" when text was cut.
    """
    lines: list[str] = []
    for paragraph in text.replace("\r", "").split("\n"):
        line = ""
        for token in _tokens(paragraph):
            if not line and token.isspace():
                continue
            candidate = line + token
            if font.getlength(candidate) <= max_width or not line:
                line = candidate
                continue
            if token in NO_LINE_START:  # hang the punctuation rather than start a line with it
                line = candidate
                continue
            carry = ""
            while line and line[-1] in NO_LINE_END:
                carry = line[-1] + carry
                line = line[:-1]
            lines.append(line.rstrip())
            line = (carry + token).lstrip()
        lines.append(line.rstrip())
    while len(lines) > 1 and lines[-1] == "":
        lines.pop()
    if max_lines is not None and len(lines) > max_lines:
        kept = lines[:max_lines]
        last = kept[-1]
        while last and font.getlength(last + "…") > max_width:
            last = last[:-1]
        kept[-1] = last + "…"
        return kept
    return lines


def line_height(font: ImageFont.FreeTypeFont) -> int:
    ascent, descent = font.getmetrics()
    return int((ascent + descent) * 1.15)
