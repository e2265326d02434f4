"""Comic pages from panels: a 2×3 grid (A4 at 150 dpi), a 4-panel vertical strip (四格), or a webtoon strip.

Each panel's image is fitted into its cell (cover, biased upwards where the faces are) inside a black frame.
Spoken lines become speech bubbles (rounded, white, CJK text wrapped with the Chinese line-breaking rules) whose
tail points down to the speaker: at ``Panel.figure_x`` when the speaker's position is known, else speakers
alternate left and right in order of appearance. Narration lines are rectangular boxes in the upper-left
corner; a panel's caption is a box along its bottom edge. ``pages_to_pdf`` binds pages into one PDF.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageOps

from lingjing.studio.media.fonts import line_height, load_font, wrap_text
from lingjing.studio.spec import PageLayout, Panel

PAPER = (252, 251, 247)
INK = (20, 20, 24)
NARRATION_FILL = (255, 244, 200)


@dataclass(frozen=True)
class LayoutSpec:
    page_width: int
    per_page: int
    columns: int
    cell_height: int | None  # None: the panel's own aspect (strip)
    margin: int
    gutter: int


LAYOUTS: dict[str, LayoutSpec] = {
    "grid": LayoutSpec(1240, 6, 2, 500, 60, 28),
    "four": LayoutSpec(900, 4, 1, 560, 50, 26),
    "strip": LayoutSpec(800, 8, 1, None, 0, 90),
}


def pages_needed(panels: int, layout: PageLayout) -> int:
    per = LAYOUTS[layout].per_page
    return max(1, -(-panels // per))


def _speaker_slots(panel: Panel) -> dict[str, float]:
    known = dict(panel.figure_x)
    slots: dict[str, float] = {}
    unknown = 0
    for line in panel.lines:
        if line.speaker is None or line.speaker in slots:
            continue
        if line.speaker in known:
            slots[line.speaker] = min(0.92, max(0.08, known[line.speaker]))
        else:
            slots[line.speaker] = 0.25 if unknown % 2 == 0 else 0.75
            unknown += 1
    return slots


def _box(
    d: ImageDraw.ImageDraw,
    xy: tuple[float, float],
    lines: list[str],
    size: int,
    *,
    fill: tuple[int, int, int],
    radius: float,
    pad: float,
) -> tuple[float, float, float, float]:
    font = load_font(size)
    lh = line_height(font)
    width = max(font.getlength(line) for line in lines) + 2 * pad
    height = lh * len(lines) + 2 * pad - (lh - size) * 0.5
    x, y = xy
    box = (x, y, x + width, y + height)
    d.rounded_rectangle(box, radius=radius, fill=fill, outline=INK, width=3)
    ty = y + pad
    for line in lines:
        d.text((x + pad, ty), line, font=font, fill=INK)
        ty += lh
    return box


def _measure(lines: list[str], size: int, pad: float) -> tuple[float, float]:
    font = load_font(size)
    lh = line_height(font)
    return max(font.getlength(line) for line in lines) + 2 * pad, lh * len(lines) + 2 * pad - (lh - size) * 0.5


def _draw_lettering(cell: Image.Image, panel: Panel) -> None:
    """Speech bubbles, narration boxes and the caption, drawn onto one panel's cell."""
    w, h = cell.size
    d = ImageDraw.Draw(cell)
    size = max(16, round(min(w, h * 1.2) * 0.05))
    pad = size * 0.6
    font = load_font(size)
    inset = max(10, round(w * 0.03))
    slots = _speaker_slots(panel)
    placed: list[tuple[float, float, float, float]] = []
    gap = h * 0.03

    def free_y(x0: float, x1: float, y: float, height: float) -> float:
        """The first y at or below ``y`` where a box over ``x0..x1`` overlaps nothing placed."""
        moved = True
        while moved:
            moved = False
            for bx0, by0, bx1, by1 in placed:
                if x0 < bx1 + gap and bx0 < x1 + gap and y < by1 + gap and by0 < y + height + gap:
                    y = by1 + gap
                    moved = True
        return y

    for line in (ln for ln in panel.lines if ln.text.strip()):
        if line.speaker is None:
            text = wrap_text(line.text.strip(), font, w * 0.8 - 2 * pad, max_lines=4)
            bw, bh = _measure(text, size, pad * 0.8)
            y = free_y(inset, inset + bw, inset, bh)
            placed.append(_box(d, (inset, y), text, size, fill=NARRATION_FILL, radius=4, pad=pad * 0.8))
            continue
        target_x = slots[line.speaker] * w
        text = wrap_text(line.text.strip(), font, w * 0.46 - 2 * pad, max_lines=5)
        bw, bh = _measure(text, size, pad)
        x = min(w - inset - bw, max(inset, target_x - bw / 2))
        y = free_y(x, x + bw, inset, bh)
        if y + bh > h * 0.75:  # no room above this speaker: use the other half of the panel
            x = inset if target_x >= w / 2 else w - inset - bw
            y = free_y(x, x + bw, inset, bh)
        # the tail first, then the bubble over its base, then the base filled again to join them
        tail_x = min(x + bw - size, max(x + size, target_x))
        tip = (target_x + (0.04 * w if target_x < x + bw / 2 else -0.04 * w), min(h * 0.85, y + bh + h * 0.12))
        base = [(tail_x - size * 0.45, y + bh - 4), (tail_x + size * 0.45, y + bh - 4)]
        d.polygon([base[0], tip, base[1]], fill=(255, 255, 255), outline=INK, width=3)
        placed.append(_box(d, (x, y), text, size, fill=(255, 255, 255), radius=min(bw, bh) * 0.45, pad=pad))
        d.polygon([(base[0][0] + 3, y + bh - 6), (tip[0], tip[1] - 6), (base[1][0] - 3, y + bh - 6)],
                  fill=(255, 255, 255))  # fmt: skip
    if panel.caption.strip():
        text = wrap_text(panel.caption.strip(), font, w - 2 * inset - 2 * pad, max_lines=2)
        _, ch = _measure(text, size, pad * 0.7)
        _box(d, (inset, h - inset - ch), text, size, fill=NARRATION_FILL, radius=4, pad=pad * 0.7)


def _cell(panel: Panel, size: tuple[int, int]) -> Image.Image:
    with Image.open(panel.image_path) as im:
        picture = ImageOps.fit(im.convert("RGB"), size, Image.Resampling.LANCZOS, centering=(0.5, 0.35))
    _draw_lettering(picture, panel)
    return picture


def _strip_height(panel: Panel, width: int) -> int:
    with Image.open(panel.image_path) as im:
        return min(round(width * im.height / im.width), round(width * 16 / 9))


def _title(d: ImageDraw.ImageDraw, title: str, width: int, y: int) -> int:
    size = 44
    font = load_font(size)
    lines = wrap_text(title, font, width * 0.85, max_lines=2)
    for line in lines:
        d.text(((width - font.getlength(line)) / 2, y), line, font=font, fill=INK)
        y += line_height(font)
    return y + 16


def _page_number(d: ImageDraw.ImageDraw, number: int, width: int, height: int) -> None:
    font = load_font(22)
    label = f"— {number} —"
    d.text(((width - font.getlength(label)) / 2, height - 40), label, font=font, fill=(110, 110, 116))


def compose_pages(panels: list[Panel], layout: PageLayout, out_dir: Path, *, title: str = "") -> list[Path]:
    """Lay ``panels`` out as comic pages in ``out_dir`` (``page-001.png`` …); return the page paths in order."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown page layout: {layout!r}")
    if not panels:
        raise ValueError("no panels to lay out")
    spec = LAYOUTS[layout]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pages: list[Path] = []
    for number, first in enumerate(range(0, len(panels), spec.per_page), start=1):
        chunk = panels[first : first + spec.per_page]
        inner = spec.page_width - 2 * spec.margin
        cell_w = (inner - spec.gutter * (spec.columns - 1)) // spec.columns
        if spec.cell_height is None:
            heights = [_strip_height(p, cell_w) for p in chunk]
        else:
            heights = [spec.cell_height] * len(chunk)
        header = 110 if (title and number == 1 and layout != "strip") else spec.margin
        footer = 60 if layout != "strip" else 0
        if layout == "grid":
            page_h = 1754  # A4 at 150 dpi, also when the last page is not full
        elif layout == "strip":
            page_h = sum(heights) + spec.gutter * (len(chunk) + 1) + (110 if title and number == 1 else 0)
        else:
            page_h = header + sum(heights) + spec.gutter * (len(chunk) - 1) + spec.margin + footer
        page = Image.new("RGB", (spec.page_width, page_h), PAPER)
        d = ImageDraw.Draw(page)
        y0 = header
        if title and number == 1:
            y0 = _title(d, title, spec.page_width, 30 if layout != "strip" else 40)
            if layout == "strip":
                y0 += spec.gutter // 2
        elif layout == "strip":
            y0 = spec.gutter
        if layout == "grid":
            cell_h = (page_h - y0 - footer - spec.margin - spec.gutter * 2) // 3
            for i, panel in enumerate(chunk):
                col, row = i % 2, i // 2
                x = spec.margin + col * (cell_w + spec.gutter)
                y = y0 + row * (cell_h + spec.gutter)
                page.paste(_cell(panel, (cell_w, cell_h)), (x, y))
                d.rectangle((x, y, x + cell_w - 1, y + cell_h - 1), outline=INK, width=4)
        else:
            y = y0
            for panel, cell_h in zip(chunk, heights, strict=True):
                x = spec.margin
                page.paste(_cell(panel, (cell_w, cell_h)), (x, y))
                if layout != "strip":
                    d.rectangle((x, y, x + cell_w - 1, y + cell_h - 1), outline=INK, width=4)
                y += cell_h + spec.gutter
        if layout != "strip":
            _page_number(d, number, spec.page_width, page_h)
        path = out_dir / f"page-{number:03d}.png"
        page.save(path, format="PNG", compress_level=3)
        pages.append(path)
    return pages


def pages_to_pdf(pages: list[Path], out_path: Path, *, resolution: float = 150.0) -> Path:
    """Bind PNG pages into one PDF (one page each, in order)."""
    if not pages:
        raise ValueError("no pages to bind")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    images = [Image.open(p).convert("RGB") for p in pages]
    try:
        images[0].save(out_path, format="PDF", save_all=True, append_images=images[1:], resolution=resolution)
    finally:
        for image in images:
            image.close()
    return out_path
