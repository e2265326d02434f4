"""The video: one clip per shot (pan/zoom over its still with ffmpeg), joined into one H.264/AAC MP4.

1. **Frames.** Each clip gets ``round(end × fps) − round(start × fps)`` frames of its timeline slot, counted
   on the cumulative timeline, so rounding never accumulates: the video is within half a frame of the sum of
   the clip durations whatever they are (and exact when they are whole frames, as ``voice.render_shot_audio``
   makes them).
2. **Pictures.** The still is decoded and fitted to the frame (cover, centred) **once** in Pillow, a little
   larger when the camera moves, and piped raw to ffmpeg: ``zoompan`` for push-in / pull-out / pans / tilts,
   a looped frame for a static camera. libx264 (``veryfast`` by default), yuv420p, BT.709, no audio. Clips with
   equal settings are what lets the concat demuxer join them without re-encoding.
3. **Sound.** The clips' audio (or silence) is cut or padded to each slot and laid end to end in one WAV in
   Python, then encoded once to AAC when the clips are joined. Encoding audio per clip would put an AAC
   priming gap at every cut and drift away from the subtitles; one track cannot.
4. **Join.** concat demuxer (``-c:v copy``) + the WAV → MP4 with ``+faststart``, written to a temporary name
   and renamed into place, so a crash never leaves a half-written ``video.mp4``.

``progress`` is called with a fraction after each clip and at the end; it may raise to abort the render
(the temporary files go with the exception). ffmpeg is the binary bundled with imageio-ffmpeg, so no system
ffmpeg is needed; ``probe_media`` reads a file back with PyAV (ffprobe's library).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from PIL import Image, ImageOps

from lingjing.studio.media.wav import PcmFormat, decode_pcm, fit, read_format, silence, write_pcm
from lingjing.studio.spec import VIDEO_SIZES, Clip, VideoPreset


class VideoError(RuntimeError):
    pass


@cache
def ffmpeg_exe() -> str:
    """The ffmpeg binary shipped with imageio-ffmpeg (``IMAGEIO_FFMPEG_EXE`` overrides it)."""
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def _run(cmd: list[str], *, stdin: bytes | None = None, timeout: float = 1800) -> None:
    try:
        result = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout, check=False)  # noqa: S603
    except subprocess.TimeoutExpired as exc:
        raise VideoError(f"ffmpeg timed out after {timeout:.0f}s") from exc
    if result.returncode != 0:
        raise VideoError("ffmpeg failed: " + result.stderr.decode(errors="replace").strip()[-600:])


@dataclass(frozen=True)
class MediaInfo:
    duration: float  # seconds (container)
    video_codec: str | None
    audio_codec: str | None
    width: int
    height: int
    fps: float
    pix_fmt: str | None
    video_duration: float
    audio_duration: float


def probe_media(path: Path | str) -> MediaInfo:
    """Read a media file's streams and durations (PyAV)."""
    import av

    with av.open(str(path)) as container:
        video = next(iter(container.streams.video), None)
        audio = next(iter(container.streams.audio), None)

        def seconds(stream: av.stream.Stream | None) -> float:
            if stream is None or stream.duration is None or stream.time_base is None:
                return 0.0
            return float(stream.duration * stream.time_base)

        duration = container.duration / 1_000_000 if container.duration is not None else 0.0
        return MediaInfo(
            duration=duration,
            video_codec=video.codec_context.name if video is not None else None,
            audio_codec=audio.codec_context.name if audio is not None else None,
            width=video.codec_context.width if video is not None else 0,
            height=video.codec_context.height if video is not None else 0,
            fps=float(video.average_rate) if video is not None and video.average_rate else 0.0,
            pix_fmt=video.codec_context.pix_fmt if video is not None else None,
            video_duration=seconds(video),
            audio_duration=seconds(audio),
        )


def frame_counts(durations: Sequence[float], fps: int) -> list[int]:
    """Frames per clip, rounded on the cumulative timeline so the total never drifts."""
    counts = []
    start = 0.0
    for duration in durations:
        end = start + max(0.0, duration)
        counts.append(max(1, round(end * fps) - round(start * fps)))
        start = end
    return counts


# The still is converted from RGB to BT.709 YUV once, before it is repeated or moved, not once per frame.
_TO_YUV = "scale=out_color_matrix=bt709:out_range=tv,format="


def _motion_filter(move: str, frames: int, amount: float, size: tuple[int, int], fps: int) -> str:
    """The filter for a camera move over a source ``1 + amount`` times the frame size.

    Pans and tilts slide a frame-sized ``crop`` window across the source (no rescaling, nearly free);
    push-in and pull-out change the zoom every frame with ``zoompan``.
    """
    last = max(1, frames - 1)
    t = f"min(n/{last},1)"
    w, h = size
    if move in ("pan_left", "pan_right", "tilt_up", "tilt_down"):
        x, y = "(iw-ow)/2", "(ih-oh)/2"
        if move == "pan_left":  # the camera turns left: the view travels from the right edge to the left edge
            x = f"(iw-ow)*(1-{t})"
        elif move == "pan_right":
            x = f"(iw-ow)*{t}"
        elif move == "tilt_up":
            y = f"(ih-oh)*(1-{t})"
        else:
            y = f"(ih-oh)*{t}"
        # full-resolution chroma while the window moves (no 2-pixel steps), 4:2:0 only for the encoder
        return (
            f"{_TO_YUV}yuv444p,loop=loop={frames - 1}:size=1:start=0,setpts=N/({fps}*TB),"
            f"crop=w={w}:h={h}:x='{x}':y='{y}',format=yuv420p"
        )
    # zoompan: z=1 shows the whole source, z=1+amount a frame-sized window of it
    zt = f"(on/{last})"
    z = f"1+{amount:.4f}*{zt}" if move == "push_in" else f"1+{amount:.4f}*(1-{zt})"
    return f"{_TO_YUV}yuv420p,zoompan=z='{z}':x='(iw-iw/zoom)/2':y='(ih-ih/zoom)/2':d={frames}:s={w}x{h}:fps={fps}"


def _encode_clip(
    clip: Clip, frames: int, size: tuple[int, int], fps: int, out: Path, *, speed: str, crf: int, amount: float
) -> None:
    w, h = size
    moving = clip.camera_move != "static"
    scale = 1.0 + amount if moving else 1.0  # headroom: the moving window is never upscaled
    src = (round(w * scale) // 2 * 2, round(h * scale) // 2 * 2)
    try:
        with Image.open(clip.image_path) as im:
            picture = ImageOps.fit(im.convert("RGB"), src, Image.Resampling.BICUBIC)
    except OSError as exc:
        raise VideoError(f"cannot read the image of a clip: {Path(clip.image_path).name}") from exc
    if moving:
        vf = _motion_filter(clip.camera_move, frames, amount, size, fps)
    else:
        vf = f"{_TO_YUV}yuv420p,loop=loop={frames - 1}:size=1:start=0,setpts=N/({fps}*TB)"
    cmd = [
        ffmpeg_exe(), "-v", "error", "-nostdin", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{src[0]}x{src[1]}", "-framerate", str(fps), "-i", "-",
        "-vf", vf, "-frames:v", str(frames), "-r", str(fps), "-an",
        "-c:v", "libx264", "-preset", speed, "-crf", str(crf), "-pix_fmt", "yuv420p",
        "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
        "-video_track_timescale", str(fps * 1000), str(out),
    ]  # fmt: skip
    _run(cmd, stdin=picture.tobytes())


def _audio_format(clips: Sequence[Clip]) -> PcmFormat:
    for clip in clips:
        if clip.audio_path:
            try:
                fmt = read_format(Path(clip.audio_path))
                if fmt.sample_width == 2:
                    return fmt
            except Exception:  # noqa: S112 — not a WAV: the next clip may tell, else the default
                continue
    return PcmFormat(channels=1, sample_width=2, rate=24000)


def build_soundtrack(clips: Sequence[Clip], out_path: Path) -> float:
    """All clips' audio (silence where there is none) fitted to their durations, in one WAV; its duration."""
    fmt = _audio_format(clips)
    parts = []
    for clip in clips:
        if clip.audio_path:
            parts.append(fit(decode_pcm(Path(clip.audio_path), fmt), fmt, clip.duration))
        else:
            parts.append(silence(clip.duration, fmt))
    return write_pcm(out_path, fmt, b"".join(parts))


def render_video(
    clips: list[Clip],
    preset: VideoPreset,
    out_path: Path,
    *,
    progress: Callable[[float], None] | None = None,
    fps: int = 24,
    size: tuple[int, int] | None = None,
    speed: str = "veryfast",
    crf: int = 23,
    move_amount: float = 0.12,
    jobs: int | None = None,
) -> float:
    """Render ``clips`` into one MP4 at ``preset`` (``portrait`` 1080×1920, ``landscape`` 1920×1080) or ``size``.

    Clips are encoded ``jobs`` at a time (default: two, or one on a single core): ffmpeg's per-clip start-up,
    decoding and filtering are serial, so a second clip in flight keeps both cores busy. Returns the duration of
    the written file in seconds (probed, not computed).
    """
    if not clips:
        raise VideoError("no clips to render")
    if size is None:
        if preset not in VIDEO_SIZES:
            raise VideoError(f"unknown video preset: {preset!r}")
        size = VIDEO_SIZES[preset]
    size = (int(size[0]) // 2 * 2, int(size[1]) // 2 * 2)  # yuv420p needs even sides
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    report = progress or (lambda fraction: None)
    counts = frame_counts([c.duration for c in clips], fps)
    with tempfile.TemporaryDirectory(prefix="lj-video-", dir=out_path.parent) as tmp:
        work = Path(tmp)
        segments = [work / f"clip{i:05d}.mp4" for i in range(len(clips))]
        workers = max(1, jobs if jobs is not None else min(2, os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lj-clip") as pool:
            futures = [
                pool.submit(_encode_clip, clip, frames, size, fps, segment, speed=speed, crf=crf, amount=move_amount)
                for clip, frames, segment in zip(clips, counts, segments, strict=True)
            ]
            try:
                for done, future in enumerate(futures, start=1):
                    future.result()
                    report(0.95 * done / len(clips))
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        listing = work / "clips.txt"
        listing.write_text("".join(f"file '{s.name}'\n" for s in segments), encoding="utf-8")
        soundtrack = work / "soundtrack.wav"
        build_soundtrack(clips, soundtrack)
        partial = work / "out.mp4"
        _run([
            ffmpeg_exe(), "-v", "error", "-nostdin", "-y",
            "-f", "concat", "-safe", "0", "-i", str(listing), "-i", str(soundtrack),
            "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy",
            "-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2",
            "-movflags", "+faststart", str(partial),
        ])  # fmt: skip
        os.replace(partial, out_path)
    report(1.0)
    return probe_media(out_path).duration
