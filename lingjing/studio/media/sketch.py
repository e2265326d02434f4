"""The offline image provider: a deterministic storyboard sketch of a shot, drawn with Pillow.

What a sketch shows, so that an author can judge a storyboard before any AI service is configured:

* a backdrop made from the **location name alone** (its SHA-256 seeds the generator), so every shot in the same
  place shows the same place: an exterior (sky by time of day, skyline / mountains / trees / water / houses by
  the words in the name) or an interior (wall, floor in perspective, window, door, furniture);
* the characters as stylised figures at the **scale of the shot type** (establishing and wide: small full figures
  on the ground; medium: waist up; close: head and shoulders; extreme close: one face; over-shoulder: a back in the
  foreground), coloured from each character's **static features + seed** (hair, skin, eyes; colour words such as
  "银色短发" are honoured) and **dynamic features + seed** (costume), each with a name tag;
* a header (shot number, shot type, camera move, location) and a caption band with the lines or the description,
  wrapped with the Chinese line-breaking rules in a real CJK font.

Everything is a pure function of the request: no clock, no global random state, a fixed PNG encoder setting, so
the same request gives byte-identical PNGs (the tests check it). Shapes are drawn at twice the size and reduced
once, for smooth edges; text is drawn at the final size.
"""

from __future__ import annotations

import hashlib
import io
import random
import re
from dataclasses import dataclass

from PIL import Image, ImageDraw

from lingjing.studio.media.fonts import line_height, load_font, wrap_text
from lingjing.studio.spec import CharacterSpec, ImageRequest, ShotSpec

RGB = tuple[int, int, int]

# Shot and camera vocabulary, Chinese first (also used to build prompts for the real providers).
SHOT_TERMS: dict[str, tuple[str, str]] = {
    "establishing": ("全景", "establishing shot"),
    "wide": ("远景", "wide shot"),
    "medium": ("中景", "medium shot"),
    "close": ("近景", "close-up"),
    "extreme_close": ("特写", "extreme close-up"),
    "over_shoulder": ("过肩", "over-the-shoulder shot"),
}
CAMERA_TERMS: dict[str, tuple[str, str]] = {
    "static": ("固定", "static camera"),
    "push_in": ("推", "push in"),
    "pull_out": ("拉", "pull out"),
    "pan_left": ("左摇", "pan left"),
    "pan_right": ("右摇", "pan right"),
    "tilt_up": ("上摇", "tilt up"),
    "tilt_down": ("下摇", "tilt down"),
}

MAX_FIGURES = 4
SUPERSAMPLE = 2

COLOUR_WORDS: dict[str, RGB] = {
    "黑": (34, 32, 38),
    "白": (236, 236, 240),
    "银": (196, 202, 214),
    "灰": (128, 128, 136),
    "金": (226, 186, 84),
    "黄": (236, 206, 76),
    "红": (196, 52, 52),
    "粉": (238, 150, 182),
    "橙": (236, 140, 54),
    "棕": (116, 78, 50),
    "褐": (104, 68, 42),
    "茶": (150, 100, 62),
    "绿": (62, 148, 84),
    "青": (44, 148, 160),
    "蓝": (52, 92, 188),
    "紫": (128, 72, 168),
}
HAIR_PALETTE: tuple[RGB, ...] = (
    (34, 32, 38), (86, 56, 38), (150, 100, 62), (226, 186, 84), (196, 202, 214),
    (176, 52, 52), (52, 92, 188), (238, 150, 182), (128, 72, 168), (62, 128, 84),
)  # fmt: skip
SKIN_PALETTE: tuple[RGB, ...] = ((252, 226, 206), (244, 210, 182), (232, 190, 156), (204, 156, 118), (160, 112, 80))
EYE_PALETTE: tuple[RGB, ...] = ((60, 40, 30), (40, 80, 160), (40, 120, 70), (150, 60, 60), (110, 70, 150))
COSTUME_PALETTE: tuple[RGB, ...] = (
    (52, 72, 128), (176, 58, 64), (60, 120, 90), (220, 220, 224), (40, 40, 48),
    (206, 150, 60), (120, 80, 150), (70, 140, 180), (190, 110, 140), (110, 110, 120),
)  # fmt: skip

INTERIOR_WORDS = (
    "室", "屋", "房", "厅", "店", "馆", "堂", "殿", "宫", "舍", "厨", "卧", "办公", "车厢", "走廊",
    "酒吧", "咖啡", "医院", "病房", "客栈", "图书", "楼内", "家", "内",
)  # fmt: skip
EXTERIOR_WORDS = (
    "街", "路", "山", "林", "森", "树", "河", "湖", "海", "江", "城", "村", "园", "野", "天台", "广场",
    "院子", "桥", "田", "岸", "原", "门外", "外", "镇", "港", "岛", "沙漠", "雪",
)  # fmt: skip


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()


def _rng(*parts: object) -> random.Random:
    return random.Random(int.from_bytes(_digest(*parts)[:8], "big"))  # noqa: S311 — drawing, not security


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def _shade(c: RGB, f: float) -> RGB:
    return (min(255, round(c[0] * f)), min(255, round(c[1] * f)), min(255, round(c[2] * f)))


def _colour_before(text: str, nouns: str) -> RGB | None:
    """The colour named just before one of ``nouns`` ("银色短发" → silver for 发)."""
    for match in re.finditer(f"[{nouns}]", text):
        window = text[max(0, match.start() - 4) : match.start()]
        for char in window:
            if char in COLOUR_WORDS:
                return COLOUR_WORDS[char]
    return None


# --- characters -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Look:
    hair: RGB
    skin: RGB
    eyes: RGB
    costume: RGB
    accent: RGB
    hair_style: str  # short, long, ponytail, twintails, spiky
    build: float  # shoulder width factor


def character_look(character: CharacterSpec) -> Look:
    """The colours and shapes of a character: a pure function of its static/dynamic features and seed."""
    static = character.static_features
    dynamic = character.dynamic_features
    face = _rng("face", character.name, static, character.seed)
    dress = _rng("dress", character.name, dynamic, character.seed)
    hair = _colour_before(static, "发") or face.choice(HAIR_PALETTE)
    skin = face.choice(SKIN_PALETTE[:3]) if "黝黑" not in static else SKIN_PALETTE[4]
    eyes = _colour_before(static, "眼瞳眸") or face.choice(EYE_PALETTE)
    if "双马尾" in static:
        style = "twintails"
    elif "马尾" in static:
        style = "ponytail"
    elif "长发" in static:
        style = "long"
    elif "短发" in static or "寸头" in static:
        style = "short"
    else:
        style = face.choice(("short", "long", "ponytail", "twintails", "spiky"))
    build = 1.0
    if any(w in static for w in ("高大", "魁梧", "壮", "胖")):
        build = 1.22
    elif any(w in static for w in ("瘦", "纤细", "娇小", "苗条")):
        build = 0.86
    costume = _colour_before(dynamic, "衣裙袍装衫服甲裤") or dress.choice(COSTUME_PALETTE)
    accent = dress.choice([c for c in COSTUME_PALETTE if c != costume])
    return Look(hair, skin, eyes, costume, accent, style, build)


@dataclass(frozen=True)
class Placement:
    character: CharacterSpec
    cx: float  # head centre, pixels
    cy: float
    unit: float  # head height, pixels
    full_body: bool
    from_behind: bool = False


def layout_figures(shot: ShotSpec, w: int, h: int, horizon: float) -> list[Placement]:
    """Where and how big each character is drawn (head centre and head height in pixels) for the shot type."""
    chars = list(shot.characters[:MAX_FIGURES])
    if not chars:
        return []
    n = len(chars)
    kind = shot.shot_type
    xs = [(i + 1) / (n + 1) for i in range(n)]
    if kind == "establishing":
        unit = min(h * 0.032, w / (n * 3.2))
        feet = horizon + (h - horizon) * 0.35
        return [Placement(c, x * w, feet - unit * 6.5, unit, True) for c, x in zip(chars, xs, strict=True)]
    if kind == "wide":
        unit = min(h * 0.062, w / (n * 3.3))
        feet = h * 0.86
        return [Placement(c, x * w, feet - unit * 6.5, unit, True) for c, x in zip(chars, xs, strict=True)]
    if kind == "medium":
        unit = min(h * 0.17, w / (n * 3.0))
        return [Placement(c, x * w, h * 0.36, unit, False) for c, x in zip(chars, xs, strict=True)]
    if kind == "close":
        unit = min(h * 0.3, w / (n * 1.9))
        return [Placement(c, x * w, h * 0.44, unit, False) for c, x in zip(chars, xs, strict=True)]
    if kind == "extreme_close":
        speaker = next((ln.speaker for ln in shot.lines if ln.speaker), None)
        focus = next((c for c in chars if c.name == speaker), chars[0])
        unit = min(h * 0.62, w * 0.72)
        return [Placement(focus, w * 0.5, h * 0.46, unit, False)]
    # over_shoulder: the listener's back in the foreground, the speaker facing us behind
    speaker = next((ln.speaker for ln in shot.lines if ln.speaker), None)
    facing = next((c for c in chars if c.name == speaker), chars[-1])
    back = next((c for c in chars if c is not facing), None)
    placements = [Placement(facing, w * 0.64, h * 0.38, min(h * 0.14, w * 0.2), False)]
    if back is not None:
        placements.insert(0, Placement(back, w * 0.2, h * 0.62, min(h * 0.3, w * 0.45), False, from_behind=True))
    return placements


def figure_positions(shot: ShotSpec, width: int = 1080, height: int = 1920) -> dict[str, float]:
    """Where each character's head is drawn, as a fraction of the width (0 left … 1 right).

    Comic pages use it to point speech-bubble tails at the speaker (``Panel.figure_x``).
    """
    horizon = height * 0.6
    return {p.character.name: round(p.cx / width, 4) for p in layout_figures(shot, width, height, horizon)}


def _draw_figure(d: ImageDraw.ImageDraw, p: Placement, s: float) -> None:
    """Draw one stylised figure; ``s`` is the supersampling factor."""
    look = character_look(p.character)
    u = p.unit * s
    cx, cy = p.cx * s, p.cy * s
    hw = u * 0.42  # half head width
    outline = _shade(look.costume, 0.55)
    lw = max(1, round(u * 0.035))
    shoulder = u * 1.05 * look.build
    body_top = cy + u * 0.62
    body_bottom = cy + (u * 3.4 if p.full_body else u * 6)
    # long hair falls behind the shoulders
    if look.hair_style in ("long", "twintails") and not p.from_behind:
        d.rounded_rectangle(
            (cx - hw * 1.15, cy - u * 0.3, cx + hw * 1.15, cy + u * 1.5), radius=hw * 0.6, fill=look.hair
        )
    if look.hair_style == "twintails":
        for side in (-1, 1):
            tx = cx + side * hw * 1.35
            d.ellipse((tx - hw * 0.35, cy - u * 0.2, tx + hw * 0.35, cy + u * 1.6), fill=look.hair)
    # torso
    waist = shoulder * 0.78
    d.polygon(
        [(cx - shoulder, body_top + u * 0.25), (cx + shoulder, body_top + u * 0.25),
         (cx + waist, body_bottom), (cx - waist, body_bottom)],
        fill=look.costume, outline=outline, width=lw,
    )  # fmt: skip
    d.rounded_rectangle(
        (cx - shoulder, body_top, cx + shoulder, body_top + u * 0.6), radius=u * 0.28, fill=look.costume
    )
    # collar / accent stripe
    d.polygon([(cx - u * 0.22, body_top), (cx + u * 0.22, body_top), (cx, body_top + u * 0.5)], fill=look.accent)
    # arms
    for side in (-1, 1):
        ax = cx + side * shoulder
        d.rounded_rectangle(
            (min(ax, ax + side * u * 0.32), body_top + u * 0.15, max(ax, ax + side * u * 0.32), body_top + u * 2.3),
            radius=u * 0.15, fill=_shade(look.costume, 0.9), outline=outline, width=lw,
        )  # fmt: skip
        hx = ax + side * u * 0.16
        d.ellipse((hx - u * 0.16, body_top + u * 2.2, hx + u * 0.16, body_top + u * 2.52), fill=look.skin)
    if p.full_body:
        for side in (-1, 1):
            lx = cx + side * waist * 0.45
            d.rectangle((lx - u * 0.2, body_bottom, lx + u * 0.2, body_bottom + u * 2.9), fill=_shade(look.accent, 0.7))
            d.ellipse((lx - u * 0.3, body_bottom + u * 2.75, lx + u * 0.3, body_bottom + u * 3.1), fill=(40, 36, 40))
    # neck and head
    d.rectangle((cx - u * 0.14, cy + u * 0.3, cx + u * 0.14, body_top + u * 0.1), fill=_shade(look.skin, 0.92))
    if p.from_behind:
        d.ellipse((cx - hw, cy - u * 0.5, cx + hw, cy + u * 0.5), fill=look.hair, outline=_shade(look.hair, 0.7))
        return
    d.ellipse((cx - hw, cy - u * 0.5, cx + hw, cy + u * 0.5), fill=look.skin, outline=_shade(look.skin, 0.75), width=lw)
    # eyes and mouth
    for side in (-1, 1):
        ex = cx + side * hw * 0.42
        d.ellipse((ex - u * 0.085, cy - u * 0.02, ex + u * 0.085, cy + u * 0.17), fill=(255, 255, 255))
        d.ellipse((ex - u * 0.06, cy + u * 0.01, ex + u * 0.06, cy + u * 0.16), fill=look.eyes)
        d.ellipse((ex - u * 0.02, cy + u * 0.03, ex + u * 0.02, cy + u * 0.07), fill=(255, 255, 255))
    d.arc((cx - u * 0.1, cy + u * 0.2, cx + u * 0.1, cy + u * 0.33), 20, 160, fill=(150, 70, 70), width=lw)
    # hair on top (fringe)
    d.chord((cx - hw * 1.08, cy - u * 0.6, cx + hw * 1.08, cy + u * 0.25), 180, 360, fill=look.hair)
    if look.hair_style == "spiky":
        for i in range(5):
            sx = cx - hw + i * hw * 0.5
            d.polygon([(sx - hw * 0.22, cy - u * 0.35), (sx + hw * 0.22, cy - u * 0.35), (sx, cy - u * 0.78)],
                      fill=look.hair)  # fmt: skip
    elif look.hair_style == "ponytail":
        d.ellipse((cx + hw * 0.7, cy - u * 0.45, cx + hw * 1.45, cy + u * 0.7), fill=look.hair)
    if look.hair_style != "spiky":
        for i in range(3):  # fringe strands
            fx = cx - hw * 0.6 + i * hw * 0.6
            d.polygon([(fx - hw * 0.3, cy - u * 0.2), (fx + hw * 0.3, cy - u * 0.2), (fx, cy + u * 0.02)],
                      fill=look.hair)  # fmt: skip


# --- backdrop ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    interior: bool
    time: str  # day, dusk, night
    features: frozenset[str]


def describe_place(location: str) -> Place:
    """Interior or exterior, time of day and scenery, from the words of the location name (then its hash)."""
    rng = _rng("place", location)
    interior_hit = any(w in location for w in INTERIOR_WORDS)
    exterior_hit = any(w in location for w in EXTERIOR_WORDS)
    interior = interior_hit if interior_hit != exterior_hit else rng.random() < 0.45
    if any(w in location for w in ("夜", "晚", "月")):
        time = "night"
    elif any(w in location for w in ("黄昏", "傍晚", "夕", "晚霞")):
        time = "dusk"
    else:
        time = rng.choices(("day", "dusk", "night"), weights=(6, 2, 2))[0]
    features = set()
    for key, words in {
        "mountain": ("山", "峰", "岭"),
        "water": ("河", "湖", "海", "江", "港", "岸", "溪"),
        "trees": ("林", "森", "树", "园", "公园", "竹"),
        "city": ("街", "城", "路", "市", "楼", "天台", "广场", "站"),
        "village": ("村", "镇", "乡", "院子", "田"),
        "snow": ("雪", "冰"),
    }.items():
        if any(w in location for w in words):
            features.add(key)
    if not features and not interior:
        features.add(rng.choice(("city", "mountain", "trees", "village", "water")))
    return Place(interior, time, frozenset(features))


SKIES: dict[str, tuple[RGB, RGB]] = {
    "day": ((120, 176, 232), (214, 232, 246)),
    "dusk": ((96, 84, 150), (246, 170, 112)),
    "night": ((16, 22, 52), (52, 64, 110)),
}


def _gradient(d: ImageDraw.ImageDraw, box: tuple[float, float, float, float], top: RGB, bottom: RGB) -> None:
    x0, y0, x1, y1 = box
    steps = max(1, int(y1 - y0))
    band = max(1, steps // 64)
    for i in range(0, steps, band):
        d.rectangle((x0, y0 + i, x1, min(y1, y0 + i + band)), fill=_mix(top, bottom, i / steps))


def _draw_exterior(d: ImageDraw.ImageDraw, w: int, h: int, horizon: float, place: Place, rng: random.Random) -> None:
    top, bottom = SKIES[place.time]
    _gradient(d, (0, 0, w, horizon), top, bottom)
    # sun or moon
    r = w * 0.06
    sx, sy = rng.uniform(0.15, 0.85) * w, rng.uniform(0.1, 0.3) * horizon
    disc = {"day": (255, 244, 200), "dusk": (255, 196, 120), "night": (236, 236, 214)}[place.time]
    d.ellipse((sx - r, sy - r, sx + r, sy + r), fill=disc)
    if place.time == "night":
        for _ in range(40):
            x, y = rng.uniform(0, w), rng.uniform(0, horizon * 0.8)
            d.ellipse((x - 2, y - 2, x + 2, y + 2), fill=(230, 230, 250))
    dark = 0.55 if place.time == "night" else 1.0
    if "mountain" in place.features:
        for layer, shade in ((0, 0.75), (1, 0.6)):
            pts = [(0.0, horizon)]
            x = 0.0
            while x < w:
                x += rng.uniform(0.15, 0.35) * w
                pts.append((x, horizon - rng.uniform(0.15, 0.45) * horizon * (1 - layer * 0.3)))
            pts.append((float(w), horizon))
            base = (120, 140, 168) if "snow" not in place.features else (210, 220, 235)
            d.polygon(pts, fill=_shade(base, shade * dark))
    if "city" in place.features:
        x = -rng.uniform(0, 0.05) * w
        while x < w:
            bw = rng.uniform(0.08, 0.18) * w
            bh = rng.uniform(0.15, 0.55) * horizon
            colour = _shade(rng.choice(((96, 104, 124), (120, 112, 132), (84, 96, 110))), dark)
            d.rectangle((x, horizon - bh, x + bw - 2, horizon), fill=colour)
            lit = (250, 226, 140) if place.time != "day" else _shade(colour, 1.35)
            step = max(6.0, w * 0.02)
            wy = horizon - bh + step
            while wy < horizon - step:
                wx = x + step * 0.6
                while wx < x + bw - step:
                    if rng.random() < 0.55:
                        d.rectangle((wx, wy, wx + step * 0.5, wy + step * 0.6), fill=lit)
                    wx += step
                wy += step * 1.2
            x += bw
    if "village" in place.features:
        for _ in range(rng.randint(2, 4)):
            hx, hw2 = rng.uniform(0, 0.85) * w, rng.uniform(0.08, 0.14) * w
            hh = hw2 * 0.7
            d.rectangle((hx, horizon - hh, hx + hw2, horizon), fill=_shade((196, 170, 132), dark))
            roof = [(hx - hw2 * 0.1, horizon - hh), (hx + hw2 * 1.1, horizon - hh), (hx + hw2 / 2, horizon - hh * 1.7)]
            d.polygon(roof, fill=_shade((120, 60, 50), dark))
    ground = {"day": (136, 176, 104), "dusk": (120, 132, 96), "night": (40, 56, 48)}[place.time]
    if "city" in place.features:
        ground = _shade((150, 150, 156), dark)
    if "snow" in place.features:
        ground = _shade((236, 240, 246), dark)
    _gradient(d, (0, horizon, w, h), ground, _shade(ground, 0.8))
    if "water" in place.features:
        top_w = horizon + (h - horizon) * 0.05
        d.rectangle((0, top_w, w, horizon + (h - horizon) * 0.4), fill=_shade((70, 130, 190), dark))
        for _ in range(12):
            y = rng.uniform(top_w, horizon + (h - horizon) * 0.38)
            x = rng.uniform(0, w * 0.9)
            d.line((x, y, x + w * 0.08, y), fill=_shade((170, 210, 240), dark), width=max(1, h // 300))
    if "trees" in place.features:
        for _ in range(rng.randint(4, 8)):
            tx = rng.uniform(0, w)
            th = rng.uniform(0.12, 0.25) * horizon
            foot = horizon + rng.uniform(0, 0.05) * h
            d.rectangle((tx - th * 0.05, foot - th * 0.4, tx + th * 0.05, foot), fill=_shade((100, 70, 50), dark))
            d.ellipse(
                (tx - th * 0.35, foot - th * 1.1, tx + th * 0.35, foot - th * 0.3), fill=_shade((60, 130, 70), dark)
            )


def _draw_interior(d: ImageDraw.ImageDraw, w: int, h: int, horizon: float, place: Place, rng: random.Random) -> None:
    wall = rng.choice(((232, 222, 204), (206, 222, 230), (226, 210, 214), (214, 226, 208), (200, 200, 214)))
    if place.time == "night":
        wall = _shade(wall, 0.62)
    _gradient(d, (0, 0, w, horizon), _shade(wall, 0.92), wall)
    floor = rng.choice(((168, 128, 92), (140, 140, 146), (186, 160, 120), (120, 96, 80)))
    d.polygon([(0, h), (w, h), (w, horizon), (0, horizon)], fill=floor)
    for i in range(1, 8):  # floor boards converging on the vanishing point
        x = w * i / 8
        d.line((w / 2 + (x - w / 2) * 0.35, horizon, x + (x - w / 2) * 0.6, h), fill=_shade(floor, 0.85), width=2)
    d.rectangle((0, horizon - h * 0.012, w, horizon), fill=_shade(wall, 0.7))  # skirting
    # window with the sky of the time of day
    ww, wh = rng.uniform(0.22, 0.34) * w, rng.uniform(0.18, 0.26) * h
    wx, wy = rng.uniform(0.05, 0.95) * (w - ww), horizon * rng.uniform(0.18, 0.3)
    frame = _shade(wall, 0.55)
    top, bottom = SKIES[place.time]
    d.rectangle((wx - 6, wy - 6, wx + ww + 6, wy + wh + 6), fill=frame)
    _gradient(d, (wx, wy, wx + ww, wy + wh), top, bottom)
    d.line((wx + ww / 2, wy, wx + ww / 2, wy + wh), fill=frame, width=6)
    d.line((wx, wy + wh / 2, wx + ww, wy + wh / 2), fill=frame, width=6)
    # door on the other side
    dw, dh = w * 0.16, horizon * 0.55
    dx = w * 0.08 if wx > w / 2 else w * 0.76
    d.rectangle((dx, horizon - dh, dx + dw, horizon), fill=_shade(floor, 0.8), outline=_shade(floor, 0.5), width=4)
    d.ellipse((dx + dw * 0.8, horizon - dh / 2, dx + dw * 0.88, horizon - dh / 2 + dw * 0.08), fill=(220, 190, 90))
    # a piece of furniture (table, shelf or counter)
    fw = rng.uniform(0.25, 0.4) * w
    fx = rng.uniform(0.1, 0.9) * (w - fw)
    fh = rng.uniform(0.06, 0.12) * h
    top_y = horizon + (h - horizon) * 0.12
    d.rectangle((fx, top_y, fx + fw, top_y + fh * 0.25), fill=_shade(floor, 0.7))
    d.rectangle((fx + fw * 0.05, top_y, fx + fw * 0.1, top_y + fh), fill=_shade(floor, 0.6))
    d.rectangle((fx + fw * 0.9, top_y, fx + fw * 0.95, top_y + fh), fill=_shade(floor, 0.6))


def _draw_backdrop(d: ImageDraw.ImageDraw, w: int, h: int, horizon: float, location: str) -> None:
    place = describe_place(location)
    rng = _rng("backdrop", location)
    if place.interior:
        _draw_interior(d, w, h, horizon, place, rng)
    else:
        _draw_exterior(d, w, h, horizon, place, rng)


# --- text overlays ----------------------------------------------------------------------------------------


def _pill(d: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, size: int, *, right: bool = False) -> None:
    font = load_font(size)
    pad = size * 0.45
    tw = font.getlength(text)
    x, y = xy
    if right:
        x -= tw + 2 * pad
    box = (x, y, x + tw + 2 * pad, y + size + 2 * pad * 0.8)
    d.rounded_rectangle(box, radius=size * 0.5, fill=(20, 22, 30, 170))
    d.text((x + pad, y + pad * 0.8), text, font=font, fill=(255, 255, 255, 255))


def caption_text(shot: ShotSpec) -> str:
    """The caption of a sketch: the lines ("名字：台词", narration plain), or else the description."""
    if shot.lines:
        return "\n".join(f"{ln.speaker}：{ln.text}" if ln.speaker else ln.text for ln in shot.lines)
    return shot.description


def _draw_overlays(layer: Image.Image, shot: ShotSpec, placements: list[Placement]) -> None:
    w, h = layer.size
    d = ImageDraw.Draw(layer, "RGBA")
    base = min(w, h)
    margin = round(base * 0.03)
    # name tags
    tag_size = max(12, round(base * 0.036))
    tag_font = load_font(tag_size)
    for p in placements:
        name = p.character.name
        tw = tag_font.getlength(name) + tag_size
        ty = p.cy - p.unit * 0.5 - tag_size * 2.2
        if ty < margin * 3 or not p.full_body:
            ty = min(h - tag_size * 6, p.cy + p.unit * 1.3)
        tx = max(margin, min(w - margin - tw, p.cx - tw / 2))
        look = character_look(p.character)
        d.rounded_rectangle((tx, ty, tx + tw, ty + tag_size * 1.5), radius=tag_size * 0.4,
                            fill=(*look.accent, 235), outline=(255, 255, 255, 255), width=2)  # fmt: skip
        d.text((tx + tag_size / 2, ty + tag_size * 0.22), name, font=tag_font, fill=(255, 255, 255, 255))
    # header: number, shot type, camera move; location on the right
    head_size = max(12, round(base * 0.032))
    shot_zh = SHOT_TERMS.get(shot.shot_type, (shot.shot_type, ""))[0]
    move_zh = CAMERA_TERMS.get(shot.camera_move, (shot.camera_move, ""))[0]
    _pill(d, (margin, margin), f"#{shot.index:02d} · {shot_zh} · {move_zh}", head_size)
    if shot.location:
        _pill(d, (w - margin, margin), f"场景：{shot.location}", head_size, right=True)
    hidden = len(shot.characters) - MAX_FIGURES
    if hidden > 0:
        _pill(d, (w - margin, margin + head_size * 2.6), f"另有 {hidden} 人", head_size, right=True)
    # caption band
    text = caption_text(shot)
    if not text.strip():
        return
    cap_size = max(12, round(base * 0.042))
    font = load_font(cap_size)
    lines = wrap_text(text, font, w - 4 * margin, max_lines=4)
    lh = line_height(font)
    band_h = lh * len(lines) + 2 * margin
    d.rectangle((0, h - band_h, w, h), fill=(255, 255, 255, 215))
    d.line((0, h - band_h, w, h - band_h), fill=(40, 40, 48, 255), width=max(1, base // 360))
    y = h - band_h + margin
    for line in lines:
        d.text((2 * margin, y), line, font=font, fill=(24, 24, 30, 255))
        y += lh


def render_sketch(request: ImageRequest) -> Image.Image:
    """The storyboard sketch of ``request.shot`` at ``request.width`` × ``request.height`` (RGB)."""
    w, h = int(request.width), int(request.height)
    if w < 64 or h < 64:
        raise ValueError(f"sketch size too small: {w}x{h}")
    shot = request.shot
    s = SUPERSAMPLE
    horizon = h * 0.6
    scene = Image.new("RGB", (w * s, h * s), (255, 255, 255))
    d = ImageDraw.Draw(scene)
    _draw_backdrop(d, w * s, h * s, horizon * s, shot.location or "无名之地")
    placements = layout_figures(shot, w, h, horizon)
    for p in sorted(placements, key=lambda p: (not p.from_behind, p.unit)):
        if not p.from_behind:
            _draw_figure(d, p, s)
    for p in placements:  # the over-the-shoulder back is in front of everything
        if p.from_behind:
            _draw_figure(d, p, s)
    image = scene.reduce(s)
    _draw_overlays(image, shot, placements)  # translucent fills blend straight onto the RGB picture
    return image


def png_bytes(image: Image.Image) -> bytes:
    """Encode without metadata and with fixed settings, so equal images give equal bytes."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=6, optimize=False)
    return buffer.getvalue()


def sketch_png(request: ImageRequest) -> bytes:
    return png_bytes(render_sketch(request))
