"""Subtitles (SRT) timed from the real audio: each shot starts where the previous shot's audio ended.

Long lines are split at punctuation into several cues, each given a share of the line's real duration in
proportion to its length, so a reader is never shown more than ``max_chars`` characters at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path

import srt

from lingjing.studio.media.voice import ShotAudio
from lingjing.studio.spec import Cue

_BREAK_AFTER = re.compile(r"(?<=[，。！？；：、,.!?;:…])")


def split_text(text: str, max_chars: int) -> list[str]:
    """Split ``text`` into pieces of at most ``max_chars`` characters, preferably after punctuation."""
    text = " ".join(text.split())
    if len(text) <= max_chars:
        return [text] if text else []
    pieces: list[str] = []
    current = ""
    for clause in (c for c in _BREAK_AFTER.split(text) if c):
        while len(clause) > max_chars:  # a clause without punctuation: cut hard
            if current:
                pieces.append(current)
                current = ""
            pieces.append(clause[:max_chars])
            clause = clause[max_chars:]
        if len(current) + len(clause) > max_chars and current:
            pieces.append(current)
            current = ""
        current += clause
    if current:
        pieces.append(current)
    return [p.strip() for p in pieces if p.strip()]


def split_cue(cue: Cue, max_chars: int) -> list[Cue]:
    pieces = split_text(cue.text, max_chars)
    if len(pieces) <= 1:
        return [Cue(cue.start, cue.end, pieces[0] if pieces else cue.text)]
    total = sum(len(p) for p in pieces)
    cues: list[Cue] = []
    at = cue.start
    for i, piece in enumerate(pieces):
        end = cue.end if i == len(pieces) - 1 else at + (cue.end - cue.start) * len(piece) / total
        cues.append(Cue(round(at, 3), round(end, 3), piece))
        at = end
    return cues


def timeline(shots: Sequence[ShotAudio], *, max_chars: int = 32) -> list[Cue]:
    """The cues of all shots on one timeline: each shot's cues shifted by the durations of the shots before it."""
    cues: list[Cue] = []
    offset = 0.0
    for shot in shots:
        for cue in shot.cues:
            shifted = Cue(round(offset + cue.start, 3), round(offset + cue.end, 3), cue.text)
            cues.extend(split_cue(shifted, max_chars))
        offset += shot.duration
    return cues


def build_srt(cues: Iterable[Cue]) -> str:
    """SRT text of the cues (numbered from 1, empty cues left out)."""
    subtitles = [
        srt.Subtitle(index=0, start=timedelta(seconds=c.start), end=timedelta(seconds=c.end), content=c.text)
        for c in cues
        if c.text.strip() and c.end > c.start
    ]
    return str(srt.compose(subtitles, reindex=True, start_index=1))


def write_srt(cues: Iterable[Cue], path: Path | str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(build_srt(cues), encoding="utf-8")
    return path


def srt_end(text: str) -> float:
    """The end time (seconds) of the last cue of an SRT document; 0 when it has none."""
    subs = list(srt.parse(text))
    return max((s.end.total_seconds() for s in subs), default=0.0)
