"""PCM WAV files: real durations, silence, joining and fitting, with the standard library's ``wave`` module.

Durations are read from the header (frames ÷ rate). Some services stream WAV and leave the data size at its
maximum (0xFFFFFFFF) or zero; then the size of the file decides, which is what a player would do.
Audio in another format (or another rate) is converted by the bundled ffmpeg.
"""

from __future__ import annotations

import os
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PcmFormat:
    channels: int = 1
    sample_width: int = 2  # bytes
    rate: int = 22050

    @property
    def frame_bytes(self) -> int:
        return self.channels * self.sample_width


class AudioError(RuntimeError):
    pass


def _data_offset(path: Path) -> int:
    """Byte offset of the ``data`` chunk's payload in a RIFF/WAVE file."""
    with path.open("rb") as fh:
        header = fh.read(12)
        if header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            raise AudioError(f"not a WAV file: {path.name}")
        while True:
            chunk = fh.read(8)
            if len(chunk) < 8:
                raise AudioError(f"WAV file without data: {path.name}")
            size = int.from_bytes(chunk[4:], "little")
            if chunk[:4] == b"data":
                return fh.tell()
            fh.seek(size + (size & 1), os.SEEK_CUR)


def read_format(path: Path) -> PcmFormat:
    try:
        with wave.open(str(path), "rb") as w:
            return PcmFormat(w.getnchannels(), w.getsampwidth(), w.getframerate())
    except (wave.Error, EOFError) as exc:
        raise AudioError(f"not a PCM WAV file: {path.name} ({exc})") from exc


def wav_frames(path: Path) -> int:
    """Number of sample frames in a PCM WAV file, trusting the file size over a streamed header."""
    fmt = read_format(path)
    with wave.open(str(path), "rb") as w:
        frames = w.getnframes()
    available = (path.stat().st_size - _data_offset(path)) // fmt.frame_bytes
    if frames <= 0 or frames > available:
        frames = available
    return frames


def wav_duration(path: Path | str) -> float:
    """The real duration of a WAV file in seconds."""
    path = Path(path)
    return wav_frames(path) / read_format(path).rate


def read_pcm(path: Path) -> tuple[PcmFormat, bytes]:
    fmt = read_format(path)
    frames = wav_frames(path)
    with path.open("rb") as fh:
        fh.seek(_data_offset(path))
        data = fh.read(frames * fmt.frame_bytes)
    return fmt, data


def write_pcm(path: Path, fmt: PcmFormat, data: bytes) -> float:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(fmt.channels)
        w.setsampwidth(fmt.sample_width)
        w.setframerate(fmt.rate)
        w.writeframes(data)
    return len(data) // fmt.frame_bytes / fmt.rate


def silence(seconds: float, fmt: PcmFormat) -> bytes:
    return bytes(round(max(0.0, seconds) * fmt.rate) * fmt.frame_bytes)


def write_silence(path: Path | str, seconds: float, fmt: PcmFormat | None = None) -> float:
    """Write ``seconds`` of silence as a WAV file; return its exact duration."""
    fmt = fmt or PcmFormat()
    return write_pcm(Path(path), fmt, silence(seconds, fmt))


def fit(data: bytes, fmt: PcmFormat, seconds: float) -> bytes:
    """Cut or pad ``data`` with silence to exactly ``round(seconds * rate)`` frames."""
    size = round(seconds * fmt.rate) * fmt.frame_bytes
    return data[:size] if len(data) >= size else data + bytes(size - len(data))


def decode_pcm(path: Path, fmt: PcmFormat) -> bytes:
    """Any audio file as raw PCM in ``fmt`` (WAV in that format is read directly; the rest goes through ffmpeg)."""
    try:
        have, data = read_pcm(path)
        if have == fmt:
            return data
    except AudioError:
        pass
    if fmt.sample_width != 2:
        raise AudioError("only 16-bit PCM conversion is supported")
    from lingjing.studio.media.video import ffmpeg_exe

    cmd = [ffmpeg_exe(), "-v", "error", "-nostdin", "-i", str(path), "-f", "s16le", "-acodec", "pcm_s16le",
           "-ac", str(fmt.channels), "-ar", str(fmt.rate), "-"]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, check=False, timeout=600)  # noqa: S603 — argv, no shell
    if result.returncode != 0:
        raise AudioError(f"cannot decode {path.name}: {result.stderr.decode(errors='replace')[-300:]}")
    return result.stdout


def join(paths: list[Path], out_path: Path, *, gap: float = 0.0, lead: float = 0.0, tail: float = 0.0) -> float:
    """Concatenate audio files (converted to the first file's format) with silences; return the duration."""
    if not paths:
        raise AudioError("nothing to join")
    fmt = read_format(paths[0])
    parts = [silence(lead, fmt)]
    for i, path in enumerate(paths):
        if i:
            parts.append(silence(gap, fmt))
        parts.append(decode_pcm(path, fmt))
    parts.append(silence(tail, fmt))
    return write_pcm(out_path, fmt, b"".join(parts))
