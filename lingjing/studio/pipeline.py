"""The creation pipeline as plain steps over files (no database): shared by ``lingjing studio render`` and by the
web jobs (``studio.runner``), which wrap each step with storage and bookkeeping.

Steps: import → storyboard → images → pages → voice → subtitles → video. Each takes specs (``studio.spec``)
and paths, writes its files, and reports progress as a fraction through ``progress(step, fraction)``; a
progress callback may raise to stop the run (a cancelled job).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lingjing.studio.importers import check_text, split_chapters
from lingjing.studio.media.subtitles import timeline, write_srt
from lingjing.studio.media.video import render_video
from lingjing.studio.media.voice import ShotAudio, render_shot_audio
from lingjing.studio.providers.speech import get_speech_provider
from lingjing.studio.spec import (
    VIDEO_SIZES,
    CharacterSpec,
    Clip,
    Cue,
    ImageRequest,
    PageLayout,
    Panel,
    ShotSpec,
    Storyboard,
    VideoPreset,
)
from lingjing.studio.storyboard import make_storyboard, storyboard_to_dict

Progress = Callable[[str, float], None]

# Share of the whole run each step takes, for one overall percentage.
STEP_WEIGHTS: dict[str, int] = {
    "import": 2, "storyboard": 8, "images": 25, "pages": 10, "voice": 20, "subtitles": 2, "video": 33,
}
RENDER_STEPS = tuple(STEP_WEIGHTS)


def overall(steps: Sequence[str], step: str, fraction: float) -> float:
    """Percentage of a run of ``steps`` when ``step`` is ``fraction`` done."""
    total = sum(STEP_WEIGHTS[s] for s in steps) or 1
    before = sum(STEP_WEIGHTS[s] for s in steps[: steps.index(step)])
    return 100.0 * (before + STEP_WEIGHTS[step] * max(0.0, min(1.0, fraction))) / total


def _quiet(step: str, fraction: float) -> None:
    return None


@dataclass
class RenderOptions:
    layout: PageLayout = "grid"
    preset: VideoPreset = "portrait"
    size: tuple[int, int] | None = None  # video (and image) size override, e.g. small sizes in tests
    fps: int = 24
    image_provider: str = "offline"
    speech_provider: str = "offline"
    image_config: Mapping[str, Any] = field(default_factory=dict)  # the deployment's settings for the provider
    speech_config: Mapping[str, Any] = field(default_factory=dict)
    style: str = "anime"

    @property
    def frame_size(self) -> tuple[int, int]:
        return self.size or VIDEO_SIZES[self.preset]


# --- storyboard -------------------------------------------------------------------------------------------


def storyboard_text(text: str, *, title: str = "", characters: tuple[CharacterSpec, ...] = (),
                    style: str = "anime") -> Storyboard:
    """The whole story → one storyboard (chapters split first; shot indexes run on across chapters)."""
    board = Storyboard(title=title)
    cast: dict[str, CharacterSpec] = {c.name: c for c in characters}
    for chapter in split_chapters(check_text(text), default_title=title or "正文"):
        part = make_storyboard(chapter.text, title=title, characters=tuple(cast.values()), style=style,
                               start_index=len(board.shots))
        board.shots.extend(part.shots)
        for character in part.characters:
            cast.setdefault(character.name, character)
        board.locations.extend(loc for loc in part.locations if loc not in board.locations)
    board.characters = list(cast.values())
    return board


# --- images -----------------------------------------------------------------------------------------------


def render_image(request: ImageRequest, out_path: Path, *, provider: str = "offline",
                 config: Mapping[str, Any] | None = None) -> Path:
    """One shot's picture, written as PNG to ``out_path`` (``offline``: the storyboard sketch)."""
    from lingjing.studio.providers.images import get_image_provider

    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(get_image_provider(provider, dict(config or {})).generate(request))
    return out_path


def step_images(shots: Sequence[ShotSpec], out_dir: Path, options: RenderOptions,
                progress: Progress = _quiet) -> list[Path]:
    width, height = options.frame_size
    paths = []
    for n, shot in enumerate(shots):
        request = ImageRequest(shot=shot, width=width, height=height, style=options.style)
        paths.append(render_image(request, out_dir / f"shot_{shot.index:04d}.png", provider=options.image_provider,
                                  config=options.image_config))
        progress("images", (n + 1) / max(1, len(shots)))
    return paths


# --- comic pages ------------------------------------------------------------------------------------------


def step_pages(shots: Sequence[ShotSpec], images: Sequence[Path], out_dir: Path, pdf_path: Path,
               options: RenderOptions, *, title: str = "", progress: Progress = _quiet) -> tuple[list[Path], Path]:
    """Comic pages (``out_dir/page-NNN.png``) and the same pages bound as one PDF at ``pdf_path``."""
    from lingjing.studio.media.comic import compose_pages, pages_to_pdf
    from lingjing.studio.media.sketch import figure_positions

    width, height = options.frame_size
    panels = []
    for shot, path in zip(shots, images, strict=True):
        # The sketch knows where it drew each character, so bubbles point at the speaker.
        figures = tuple(figure_positions(shot, width, height).items()) if options.image_provider == "offline" else ()
        panels.append(Panel(image_path=str(path), lines=shot.lines, caption="" if shot.lines else shot.description,
                            figure_x=figures))
    pages = compose_pages(panels, options.layout, out_dir, title=title)
    progress("pages", 0.8)
    pdf = pages_to_pdf(pages, pdf_path)
    progress("pages", 1.0)
    return pages, pdf


# --- voice and subtitles ----------------------------------------------------------------------------------


def step_voice(shots: Sequence[ShotSpec], out_dir: Path, options: RenderOptions,
               progress: Progress = _quiet) -> list[ShotAudio]:
    provider = get_speech_provider(options.speech_provider, options.speech_config)
    audios = []
    for n, shot in enumerate(shots):
        audios.append(render_shot_audio(shot, out_dir / f"shot_{shot.index:04d}.wav", provider, fps=options.fps))
        progress("voice", (n + 1) / max(1, len(shots)))
    return audios


def step_subtitles(audios: Sequence[ShotAudio], out_path: Path, progress: Progress = _quiet) -> list[Cue]:
    cues = timeline(audios)
    write_srt(cues, out_path)
    progress("subtitles", 1.0)
    return cues


# --- video ------------------------------------------------------------------------------------------------


def step_video(shots: Sequence[ShotSpec], images: Sequence[Path], audios: Sequence[ShotAudio], out_path: Path,
               options: RenderOptions, progress: Progress = _quiet) -> float:
    clips = [Clip(image_path=str(image), audio_path=str(audio.path), duration=audio.duration,
                  camera_move=shot.camera_move)
             for shot, image, audio in zip(shots, images, audios, strict=True)]
    return render_video(clips, options.preset, out_path, fps=options.fps, size=options.size,
                        progress=lambda fraction: progress("video", fraction))


# --- the whole run (CLI) ----------------------------------------------------------------------------------


@dataclass
class RenderResult:
    storyboard: Path
    images: list[Path]
    pages: list[Path]
    pdf: Path
    audio: list[Path]
    subtitles: Path
    video: Path
    video_duration: float
    shots: int


def render_story(text: str, out_dir: Path, *, title: str = "", options: RenderOptions | None = None,
                 progress: Progress = _quiet) -> RenderResult:
    """Run every step on ``text`` into ``out_dir`` (storyboard.json, images/, pages/, audio/, subtitles.srt,
    comic.pdf, video.mp4)."""
    options = options or RenderOptions()
    out_dir.mkdir(parents=True, exist_ok=True)
    progress("import", 0.0)
    board = storyboard_text(text, title=title, style=options.style)
    if not board.shots:
        from lingjing.studio.importers import ImportRejected

        raise ImportRejected("no_shots", "没有从文本中切分出任何镜头")
    progress("import", 1.0)
    storyboard_path = out_dir / "storyboard.json"
    storyboard_path.write_text(json.dumps(storyboard_to_dict(board), ensure_ascii=False, indent=2), encoding="utf-8")
    progress("storyboard", 1.0)
    images = step_images(board.shots, out_dir / "images", options, progress)
    pages, pdf = step_pages(board.shots, images, out_dir / "pages", out_dir / "comic.pdf", options, title=title,
                            progress=progress)
    audios = step_voice(board.shots, out_dir / "audio", options, progress)
    subtitles = out_dir / "subtitles.srt"
    step_subtitles(audios, subtitles, progress)
    video = out_dir / "video.mp4"
    duration = step_video(board.shots, images, audios, video, options, progress)
    return RenderResult(storyboard_path, images, pages, pdf, [a.path for a in audios], subtitles, video, duration,
                        len(board.shots))
