"""The voice track of a shot: every line spoken with its character's voice, joined with short pauses.

1. Each line is synthesised by the speech provider with the speaker's voice (``voices[speaker]``, else the
   character's ``CharacterSpec.voice``); narration uses ``narrator_voice``.
2. The line files are joined into one WAV per shot: ``lead`` seconds of silence, the lines separated by
   ``gap``, then ``tail``. A shot without lines gets silence of its planned ``duration``.
3. The shot's length is rounded **up** to a whole number of video frames (``fps``) by padding silence, so the
   video, whose clips are whole frames, never drifts from the audio or the subtitles.
4. The cue of each line (start/end inside the shot, from the real durations) is returned with it; subtitles
   place them on the timeline by adding up shot durations (``subtitles.timeline``).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lingjing.studio.media.wav import decode_pcm, fit, read_pcm, silence, write_pcm, write_silence
from lingjing.studio.providers.speech import SpeechProvider
from lingjing.studio.spec import Cue, ShotSpec


@dataclass(frozen=True)
class ShotAudio:
    path: Path
    duration: float  # seconds, a whole number of frames at the fps it was made for
    cues: tuple[Cue, ...]  # one per line, times relative to the start of the shot


def frame_ceil(seconds: float, fps: int) -> float:
    """``seconds`` rounded up to whole frames (with a tolerance for float noise)."""
    return math.ceil(seconds * fps - 1e-6) / fps


def render_shot_audio(
    shot: ShotSpec,
    out_path: Path,
    provider: SpeechProvider,
    *,
    voices: Mapping[str, str] | None = None,
    narrator_voice: str = "cmn",
    fps: int = 24,
    lead: float = 0.15,
    gap: float = 0.25,
    tail: float = 0.35,
    min_duration: float = 1.0,
) -> ShotAudio:
    """Write the shot's voice track (WAV) to ``out_path``; return its real duration and the line cues."""
    voice_of = {c.name: c.voice for c in shot.characters}
    voice_of.update(voices or {})
    spoken = [ln for ln in shot.lines if ln.text.strip()]
    if not spoken:
        duration = frame_ceil(max(shot.duration, min_duration), fps)
        write_silence(out_path, duration)
        return ShotAudio(out_path, duration, ())
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lj-voice-", dir=out_path.parent) as tmp:
        parts: list[Path] = []
        for i, line in enumerate(spoken):
            voice = voice_of.get(line.speaker or "", narrator_voice) if line.speaker else narrator_voice
            part = Path(tmp) / f"line{i:03d}.wav"
            provider.synthesize(line.text.strip(), voice, part)
            parts.append(part)
        fmt, pcm = read_pcm(parts[0])
        chunks = [silence(lead, fmt)]
        cues: list[Cue] = []
        at = lead
        for i, (line, part) in enumerate(zip(spoken, parts, strict=True)):
            if i:
                chunks.append(silence(gap, fmt))
                at += gap
            data = pcm if i == 0 else decode_pcm(part, fmt)
            length = len(data) // fmt.frame_bytes / fmt.rate
            chunks.append(data)
            cues.append(Cue(round(at, 3), round(at + length, 3), line.text.strip()))
            at += length
        body = b"".join(chunks)
        duration = frame_ceil(max(at + tail, min_duration), fps)
        write_pcm(out_path, fmt, fit(body, fmt, duration))
    return ShotAudio(out_path, duration, tuple(cues))
