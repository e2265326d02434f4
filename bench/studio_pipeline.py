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
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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
    CharacterSpec("老王", "灰白短发，微胖", "蓝色工装", seed=11, voice="cmn+m7 rate=160 pitch=35"),
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


def _ffmpeg_seconds(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([ffmpeg_exe(), "-v", "error", "-nostdin", "-y", *args], check=True, capture_output=True)
    return time.perf_counter() - start


def run(shots: int, size: tuple[int, int], speed: str, fps: int, work: Path) -> dict[str, float]:
    items = make_shots(shots)
    speech = EspeakProvider()
    t0 = time.perf_counter()
    images = []
    for shot in items:
        path = work / f"shot_{shot.index:04d}.png"
        render_sketch(ImageRequest(shot, *size)).save(path, format="PNG", compress_level=1)
        images.append(path)
    t1 = time.perf_counter()
    audios = [render_shot_audio(s, work / f"shot_{s.index:04d}.wav", speech, fps=fps) for s in items]
    write_srt(timeline(audios), work / "subtitles.srt")
    t2 = time.perf_counter()
    clips = [
        Clip(str(i), str(a.path), a.duration, s.camera_move) for s, i, a in zip(items, images, audios, strict=True)
    ]
    video = work / "video.mp4"
    duration = render_video(clips, "portrait", video, fps=fps, size=size, speed=speed)
    t3 = time.perf_counter()

    # Baseline: encode the very same frames again (same codec settings, no audio), minus decoding them.
    decode = _ffmpeg_seconds(["-i", str(video), "-an", "-f", "null", "-"])
    reencode = _ffmpeg_seconds(["-i", str(video), "-an", "-c:v", "libx264", "-preset", speed, "-crf", "23",
                                "-pix_fmt", "yuv420p", str(work / "baseline.mp4")])  # fmt: skip
    info = probe_media(video)
    return {
        "shots": shots,
        "frames": round(info.video_duration * fps),
        "duration": duration,
        "sketch": t1 - t0,
        "voice": t2 - t1,
        "video": t3 - t2,
        "pipeline": t3 - t0,
        "decode": decode,
        "baseline": max(1e-6, reencode - decode),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--shots", type=int, default=10)
    parser.add_argument("--size", default="portrait", help="portrait, landscape or WxH (default portrait)")
    parser.add_argument("--speed", default="veryfast", help="x264 preset (default veryfast)")
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--keep", type=Path, help="keep the outputs in this folder")
    args = parser.parse_args(argv)
    if args.size in VIDEO_SIZES:
        size = VIDEO_SIZES[args.size]
    else:
        w, _, h = args.size.partition("x")
        size = (int(w), int(h))
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        result = run(args.shots, size, args.speed, args.fps, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="lj-bench-") as tmp:
            result = run(args.shots, size, args.speed, args.fps, Path(tmp))
    ratio = result["pipeline"] / result["baseline"]
    print(f"studio pipeline: {result['shots']:.0f} shots, {size[0]}x{size[1]}, {result['frames']:.0f} frames, "
          f"{result['duration']:.2f} s of video, x264 {args.speed}, {os.cpu_count()} cpus")  # fmt: skip
    print(f"  sketches   {result['sketch']:7.2f} s")
    print(f"  voice+srt  {result['voice']:7.2f} s")
    print(f"  video      {result['video']:7.2f} s")
    print(f"  pipeline   {result['pipeline']:7.2f} s")
    print(f"  baseline   {result['baseline']:7.2f} s  (ffmpeg encoding the same frames; decode {result['decode']:.2f} s"
          " measured and subtracted)")  # fmt: skip
    print(f"  ratio      {ratio:7.2f}x  (goal <= 2x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
