"""Benchmark: the offline studio media pipeline against ffmpeg encoding the same frames alone.

Pipeline (timed): for N shots, the storyboard sketch (Pillow) → the voice track (espeak-ng) → SRT → the video
(per-shot pan/zoom clips with libx264, concat, AAC), exactly as ``lingjing studio render`` does it.

Baseline (timed, same run): ffmpeg encoding the pipeline's own output frames again with the same encoder
settings and no audio. Decoding is part of that command, so it is measured separately and subtracted: the
baseline is the pure cost of encoding those frames. The ratio pipeline ÷ baseline says what everything around
the encoder costs (goal ≤ 2×).

    .venv/bin/python bench/studio_pipeline.py                  # 10 shots, 1080×1920
    .venv/bin/python bench/studio_pipeline.py --shots 4 --size 540x960 --speed ultrafast
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lingjing.studio.media.sketch import render_sketch
from lingjing.studio.media.subtitles import timeline, write_srt
from lingjing.studio.media.video import ffmpeg_exe, probe_media, render_video
from lingjing.studio.media.voice import render_shot_audio
from lingjing.studio.providers.speech import EspeakProvider
from lingjing.studio.spec import VIDEO_SIZES, CharacterSpec, Clip, ImageRequest, LineSpec, ShotSpec

CAST = (
    CharacterSpec("林小雨", "黑色长发，蓝色眼睛，娇小", "白色校服", seed=7, voice="cmn+f3 pitch=62"),
    CharacterSpec("陈默", "银色短发，高大", "黑色风衣", seed=3, voice="cmn+m3"),
    CharacterSpec("老王", "灰白短发，微胖", "蓝色工装", seed=11, voice="cmn+m7 rate=235 pitch=35"),
)
SCRIPT = (
    ("establishing", "static", "黄昏的商业街", None, "放学后，街上的灯一盏一盏亮了起来。"),
    ("medium", "push_in", "高二三班教室", "林小雨", "你今天怎么这么晚才来？"),
    ("close", "pan_left", "高二三班教室", "陈默", "路上遇到了一点麻烦，不过已经解决了。"),
    ("wide", "pan_right", "夜晚的湖边公园", None, "夜色渐深，湖面上泛起了微光。"),
    ("over_shoulder", "pull_out", "山间小村", "林小雨", "我不会放弃的。"),
    ("extreme_close", "tilt_up", "卧室", "老王", "那就让我看看你的决心吧。"),
)


def make_shots(n: int) -> list[ShotSpec]:
    shots = []
    for i in range(n):
        kind, move, place, speaker, text = SCRIPT[i % len(SCRIPT)]
        shots.append(
            ShotSpec(
                index=i + 1,
                description=text,
                shot_type=kind,  # type: ignore[arg-type]
                camera_move=move,  # type: ignore[arg-type]
                location=place,
                characters=CAST[: 1 + i % 3],
                lines=(LineSpec(text, speaker),),
                seed=i,
            )
        )
    return shots


class Clock:
    """Wall time and CPU time (this process and the children it waited for: ffmpeg, espeak-ng)."""

    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = self._cpu()

    @staticmethod
    def _cpu() -> float:
        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

    def lap(self) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), self._cpu()
        elapsed = (wall - self.wall, cpu - self.cpu)
        self.wall, self.cpu = wall, cpu
        return elapsed


def _ffmpeg(args: list[str]) -> tuple[float, float]:
    clock = Clock()
    subprocess.run([ffmpeg_exe(), "-v", "error", "-nostdin", "-y", *args], check=True, capture_output=True)
    return clock.lap()


def run(shots: int, size: tuple[int, int], speed: str, fps: int, work: Path, jobs: int | None = None) -> dict[str, Any]:
    items = make_shots(shots)
    speech = EspeakProvider()
    clock = Clock()
    images = []
    for shot in items:
        path = work / f"shot_{shot.index:04d}.png"
        render_sketch(ImageRequest(shot, *size)).save(path, format="PNG", compress_level=1)
        images.append(path)
    sketch = clock.lap()
    audios = [render_shot_audio(s, work / f"shot_{s.index:04d}.wav", speech, fps=fps) for s in items]
    write_srt(timeline(audios), work / "subtitles.srt")
    voice = clock.lap()
    clips = [
        Clip(str(i), str(a.path), a.duration, s.camera_move) for s, i, a in zip(items, images, audios, strict=True)
    ]
    video = work / "video.mp4"
    duration = render_video(clips, "portrait", video, fps=fps, size=size, speed=speed, jobs=jobs)
    film = clock.lap()

    # Baseline: encode the very same frames again (same codec settings, no audio), minus decoding them.
    decode = _ffmpeg(["-i", str(video), "-an", "-f", "null", "-"])
    reencode = _ffmpeg(["-i", str(video), "-an", "-c:v", "libx264", "-preset", speed, "-crf", "23",
                        "-pix_fmt", "yuv420p", str(work / "baseline.mp4")])  # fmt: skip
    info = probe_media(video)
    pipeline = (sketch[0] + voice[0] + film[0], sketch[1] + voice[1] + film[1])
    baseline = (max(1e-6, reencode[0] - decode[0]), max(1e-6, reencode[1] - decode[1]))
    return {
        "shots": shots,
        "frames": round(info.video_duration * fps),
        "duration": duration,
        "sketch": sketch,
        "voice": voice,
        "video": film,
        "pipeline": pipeline,
        "decode": decode,
        "baseline": baseline,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--shots", type=int, default=10)
    parser.add_argument("--size", default="portrait", help="portrait, landscape or WxH (default portrait)")
    parser.add_argument("--speed", default="veryfast", help="x264 preset (default veryfast)")
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--jobs", type=int, help="clips encoded at once (default: render_video's)")
    parser.add_argument("--keep", type=Path, help="keep the outputs in this folder")
    args = parser.parse_args(argv)
    if args.size in VIDEO_SIZES:
        size = VIDEO_SIZES[args.size]
    else:
        w, _, h = args.size.partition("x")
        size = (int(w), int(h))
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        result = run(args.shots, size, args.speed, args.fps, args.keep, args.jobs)
    else:
        with tempfile.TemporaryDirectory(prefix="lj-bench-") as tmp:
            result = run(args.shots, size, args.speed, args.fps, Path(tmp), args.jobs)
    wall_ratio = result["pipeline"][0] / result["baseline"][0]
    cpu_ratio = result["pipeline"][1] / result["baseline"][1]
    print(f"studio pipeline: {result['shots']} shots, {size[0]}x{size[1]}, {result['frames']} frames, "
          f"{result['duration']:.2f} s of video, x264 {args.speed}, {os.cpu_count()} cpus, "
          f"load {os.getloadavg()[0]:.1f}")  # fmt: skip
    print("                wall s    cpu s")
    for label, key in (("sketches", "sketch"), ("voice+srt", "voice"), ("video", "video"), ("pipeline", "pipeline"),
                       ("baseline", "baseline")):  # fmt: skip
        wall, cpu = result[key]
        print(f"  {label:<10} {wall:9.2f} {cpu:8.2f}")
    print(f"  (baseline: ffmpeg encoding the same frames; decoding them, {result['decode'][0]:.2f} s wall / "
          f"{result['decode'][1]:.2f} s cpu, measured and subtracted)")  # fmt: skip
    print(f"  ratio      {wall_ratio:8.2f}x wall, {cpu_ratio:.2f}x cpu  (goal <= 2x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
