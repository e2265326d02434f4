"""The logic behind ``lingjing studio``: the offline pipeline from the command line (no database needed)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Protocol

from lingjing.studio.importers import ImportRejected, extract_text
from lingjing.studio.pipeline import RENDER_STEPS, RenderOptions, overall, render_story


class Writer(Protocol):
    def write(self, text: str) -> Any: ...


def parse_size(value: str) -> tuple[int, int] | None:
    if not value:
        return None
    try:
        width, height = (int(part) for part in value.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size 应为 宽x高，例如 540x960（不是 {value!r}）") from None
    if not (64 <= width <= 3840 and 64 <= height <= 3840):
        raise ValueError("--size 的宽和高应在 64 到 3840 之间")
    return width, height


def render(options: dict[str, Any], out: Writer) -> None:
    source = Path(options["input"])
    if not source.is_file():
        raise ValueError(f"找不到输入文件：{source}")
    try:
        text = extract_text(source.name, source.read_bytes())
    except ImportRejected as exc:
        raise ValueError(exc.message) from exc
    render_options = RenderOptions(layout=options["layout"], preset=options["preset"],
                                   size=parse_size(options.get("size") or ""), fps=int(options.get("fps") or 24))
    shown: dict[str, Any] = {"step": "", "percent": -10.0}
    started = time.monotonic()

    def progress(step: str, fraction: float) -> None:
        percent = overall(RENDER_STEPS, step, fraction)
        if step != shown["step"] or percent - shown["percent"] >= 5:
            shown.update(step=step, percent=percent)
            out.write(f"[{percent:5.1f}%] {step} ({time.monotonic() - started:.1f}s)\n")

    try:
        result = render_story(text, Path(options["out"]), title=options.get("title") or source.stem,
                              options=render_options, progress=progress)
    except ImportRejected as exc:
        raise ValueError(exc.message) from exc
    elapsed = time.monotonic() - started
    out.write(
        f"完成：{result.shots} 个镜头，{len(result.pages)} 页漫画，"
        f"视频 {result.video_duration:.2f} 秒，用时 {elapsed:.1f} 秒\n"
        f"  {result.storyboard}\n  {result.pages[0].parent}/\n  {result.subtitles}\n  {result.video}\n"
    )


def reclaim(out: Writer) -> None:
    from lingjing.studio.jobs import reclaim_stale

    ids = reclaim_stale()
    out.write(f"重新排队 {len(ids)} 个任务\n")
