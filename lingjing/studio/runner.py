"""Running a studio job: the pipeline steps (``studio.pipeline``) over a work's database rows and storage.

1. :func:`execute_job` claims the job (``studio.jobs.claim``); a job already taken, finished or cancelled is
   skipped, which makes the task safe to run twice. An attempt after an interrupted one (worker killed, job
   re-queued) skips the steps whose outputs that earlier attempt recorded, so no slot gets a second version.
2. :func:`plan` picks the steps: a single step, or for ``render`` everything, with import and storyboard only
   when the work has no episodes / shots yet (so the author's storyboard edits are kept).
3. Each step converts rows to specs, runs the pure step in a temporary directory, copies the files to storage
   under the work's prefix and records them with an action that re-checks the claim in its transaction. Files
   copied by a step that then fails or is cancelled are deleted again.
4. Progress goes to the job row through the heartbeat; the final status and a Chinese message close it.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage

from lingjing.core.faults import checkpoint
from lingjing.studio import pipeline
from lingjing.studio.actions import (
    NewOutput,
    chosen_outputs,
    do_add_outputs_for_job,
    do_import_chapters_for_job,
    do_save_storyboard_for_job,
    studio_settings,
)
from lingjing.studio.disclosure import OFFLINE, DisclosureRefused, check_and_log_disclosure
from lingjing.studio.importers import ImportRejected, check_text, split_chapters
from lingjing.studio.jobs import JobRun, JobStopped, claim
from lingjing.studio.media.voice import ShotAudio
from lingjing.studio.models import AssetKind, Character, Episode, GeneratedAsset, JobKind, JobStatus, Shot, StudioJob
from lingjing.studio.providers.http import ProviderError
from lingjing.studio.spec import CharacterSpec, Cue, LineSpec, ShotSpec, Storyboard
from lingjing.studio.storyboard import make_storyboard
from lingjing.works.files import work_media_prefix
from lingjing.works.models import Work

log = logging.getLogger(__name__)

RENDER_STEPS = pipeline.RENDER_STEPS


class StepError(Exception):
    """A step cannot run (missing inputs); the message is for the author."""


def provider_config(kind: str, name: str) -> dict[str, Any]:
    """The deployment's settings for a provider (``llm``, ``image.comfyui``, ``speech.openai`` …)."""
    configs: dict[str, Any] = getattr(settings, "LINGJING_STUDIO_PROVIDERS", {})
    key = kind if kind == "llm" else f"{kind}.{name}"
    return dict(configs.get(key) or {})


def render_options(work: Work) -> pipeline.RenderOptions:
    choice = studio_settings(work)
    size: tuple[int, int] | None = getattr(settings, "LINGJING_STUDIO_VIDEO_SIZE", None)
    return pipeline.RenderOptions(
        layout=choice.layout,  # type: ignore[arg-type]
        preset=choice.preset,  # type: ignore[arg-type]
        size=(int(size[0]), int(size[1])) if size else None,
        image_provider=choice.image_provider,
        speech_provider=choice.speech_provider,
        image_config=provider_config("image", choice.image_provider),
        speech_config=provider_config("speech", choice.speech_provider),
        style=choice.style,
    )


def plan(job: StudioJob) -> list[str]:
    if job.kind == JobKind.RENDER:
        steps = []
        if not Episode.objects.filter(work_id=job.work_id).exists():
            steps.append("import")
        if not Shot.objects.filter(work_id=job.work_id).exists():
            steps.append("storyboard")
        return [*steps, "images", "pages", "voice", "subtitles", "video"]
    if job.kind == JobKind.STORYBOARD and not Episode.objects.filter(work_id=job.work_id).exists():
        return ["import", "storyboard"]
    return [str(job.kind)]


# What each output step records (in one transaction, so one kind present means the step's outputs are).
STEP_KINDS: dict[str, str] = {"images": AssetKind.IMAGE, "pages": AssetKind.PDF, "voice": AssetKind.AUDIO,
                              "subtitles": AssetKind.SRT, "video": AssetKind.VIDEO}


def recorded_by_this_run(job: StudioJob, step: str) -> bool:
    """True when an earlier attempt of the job's current run (since it was queued or retried) recorded the step."""
    kind = STEP_KINDS.get(step)
    if kind is None or job.started_at is None:
        return False
    return GeneratedAsset.objects.filter(job=job, kind=kind, created_at__gte=job.started_at).exists()


def execute_job(job_id: uuid.UUID | str) -> str:
    """Run the job if it can be claimed; returns the outcome (for the task result and logs)."""
    run = claim(job_id)
    if run is None:
        return "skipped"
    job = run.job()
    try:
        steps = plan(job)
        if job.attempts > 1:  # an earlier attempt was interrupted: its recorded steps are not made again
            steps = [step for step in steps if not recorded_by_this_run(job, step)]
        with WorkPipeline(job, run, steps) as work_pipeline:
            for step in steps:
                run.progress(pipeline.overall(steps, step, 0.0), step=step)
                getattr(work_pipeline, f"step_{step}")()
                checkpoint("studio.step")
        run.finish(JobStatus.SUCCEEDED)
        return JobStatus.SUCCEEDED
    except JobStopped:
        return "stopped"
    except ProviderError as exc:
        run.finish(JobStatus.FAILED, f"{exc.provider}：{exc.message_zh}")
    except (DisclosureRefused, ImportRejected, StepError) as exc:
        run.finish(JobStatus.FAILED, getattr(exc, "message", str(exc)))
    except ValidationError as exc:
        run.finish(JobStatus.FAILED, "；".join(exc.messages))
    except Exception:
        log.exception("studio job %s failed", job_id)
        run.finish(JobStatus.FAILED, "生成失败：内部错误，请稍后重试")
    return JobStatus.FAILED


class WorkPipeline:
    """The steps of one job over one work. Use as a context manager (a temporary directory lives with it)."""

    def __init__(self, job: StudioJob, run: JobRun, steps: Sequence[str]) -> None:
        self.job = job
        self.run = run
        self.steps = list(steps)
        self.work = job.work
        self.author = job.author
        self.options = render_options(self.work)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._fetched: dict[str, Path] = {}
        self._uploaded: list[str] = []

    def __enter__(self) -> WorkPipeline:
        self._tmp = tempfile.TemporaryDirectory(prefix="lj-studio-")
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            for name in self._uploaded:  # files of a step that did not get recorded
                default_storage.delete(name)
        if self._tmp is not None:
            self._tmp.cleanup()

    @property
    def tmp(self) -> Path:
        assert self._tmp is not None
        return Path(self._tmp.name)

    def progress(self, step: str, fraction: float) -> None:
        self.run.progress(pipeline.overall(self.steps, step, fraction), step=None)

    # -- storage helpers --

    def _store(self, local: Path, kind: str, suffix: str) -> str:
        name = f"{work_media_prefix(self.work.pk)}/studio/{kind}/{uuid.uuid4().hex}{suffix}"
        with local.open("rb") as handle:
            saved = default_storage.save(name, File(handle, name=local.name))
        self._uploaded.append(saved)
        return saved

    def _record(self, outputs: list[NewOutput], *, replace_kind: str | None = None) -> None:
        do_add_outputs_for_job(self.work, outputs, run=self.run, replace_kind=replace_kind)
        self._uploaded.clear()

    def _local(self, asset: GeneratedAsset, suffix: str) -> Path:
        if asset.file in self._fetched:
            return self._fetched[asset.file]
        target = self.tmp / "fetched" / f"{asset.pk}{suffix}"
        target.parent.mkdir(parents=True, exist_ok=True)
        with default_storage.open(asset.file, "rb") as source, target.open("wb") as sink:
            shutil.copyfileobj(source, sink)
        self._fetched[asset.file] = target
        return target

    def _disclose(self, provider: str, categories: list[str], purpose: str) -> None:
        if provider != OFFLINE:
            check_and_log_disclosure(self.author, provider, categories, purpose)

    # -- specs from rows --

    def characters(self) -> dict[uuid.UUID, CharacterSpec]:
        return {
            c.pk: CharacterSpec(name=c.name, static_features=c.static_features or "",
                                dynamic_features=c.dynamic_features or "", seed=c.seed,
                                reference_images=tuple(c.reference_images), voice=c.voice or "cmn")
            for c in Character.objects.filter(work=self.work)
        }

    def shots(self) -> list[tuple[Shot, ShotSpec]]:
        cast = self.characters()
        rows = list(Shot.objects.filter(work=self.work).select_related("scene__location")
                    .prefetch_related("characters").order_by("position"))
        if not rows:
            raise StepError("还没有分镜：请先生成分镜")
        specs = []
        for shot in rows:
            location = shot.scene.location.name if shot.scene.location else ""
            specs.append((shot, ShotSpec(
                index=shot.position,
                description=shot.description or "",
                shot_type=shot.shot_type,  # type: ignore[arg-type]
                camera_move=shot.camera_move,  # type: ignore[arg-type]
                location=location,
                characters=tuple(cast[c.pk] for c in shot.characters.all() if c.pk in cast),
                lines=tuple(LineSpec(d["text"], d.get("speaker")) for d in shot.lines),
                duration=shot.duration,
                prompt=shot.prompt or "",
                seed=shot.seed,
            )))
        return specs

    def chosen(self, kind: str, shots: list[tuple[Shot, ShotSpec]], what: str) -> list[GeneratedAsset]:
        found = chosen_outputs(self.work, kind)
        missing = [s.position + 1 for s, _ in shots if f"shot:{s.pk}:{kind}" not in found]
        if missing:
            listed = "、".join(str(n) for n in missing[:10])
            raise StepError(f"镜头 {listed} 还没有{what}：请先生成{what}")
        return [found[f"shot:{s.pk}:{kind}"] for s, _ in shots]

    # -- the steps --

    def step_import(self) -> None:
        text = check_text(self.work.script or "")
        chapters = split_chapters(text, default_title=self.work.title)
        do_import_chapters_for_job(self.work, chapters, run=self.run)
        self.progress("import", 1.0)

    def step_storyboard(self) -> None:
        episodes = list(Episode.objects.filter(work=self.work).order_by("index"))
        if not episodes:
            raise StepError("还没有导入故事：请先导入文本")
        provider = studio_settings(self.work).storyboard_provider
        known = tuple(self.characters().values())
        boards: list[tuple[Episode, Storyboard]] = []
        start = 0
        llm = None
        if provider == "llm":
            from lingjing.studio.providers.llm import LLMStoryboarder

            self._disclose("llm", ["content.script"], "storyboard")
            llm = LLMStoryboarder(provider_config("llm", "llm"))
        try:
            for n, episode in enumerate(episodes):
                text = episode.source_text or ""
                if llm is not None:
                    board = llm.storyboard(text, title=episode.title, characters=known,
                                           style=self.options.style, start_index=start)
                else:
                    board = make_storyboard(text, title=episode.title, characters=known, style=self.options.style,
                                            start_index=start)
                boards.append((episode, board))
                start += len(board.shots)
                known = tuple({c.name: c for c in (*known, *board.characters)}.values())
                self.progress("storyboard", (n + 1) / len(episodes))
        finally:
            if llm is not None:
                llm.close()
        if not start:
            raise StepError("没有从文本中切分出任何镜头")
        do_save_storyboard_for_job(self.work, boards, run=self.run, provider=provider)

    def step_images(self) -> None:
        shots = self.shots()
        options = self.options
        categories = ["content.script"] + (["content.asset"] if any(s.characters for _, s in shots) else [])
        self._disclose(options.image_provider, categories, "images")
        width, height = options.frame_size
        outputs = []
        for n, (shot, spec) in enumerate(shots):
            from lingjing.studio.spec import ImageRequest

            local = pipeline.render_image(
                ImageRequest(shot=spec, width=width, height=height, style=options.style),
                self.tmp / "images" / f"{shot.pk}.png",
                provider=options.image_provider,
                config=options.image_config,
            )
            outputs.append(NewOutput(AssetKind.IMAGE, f"shot:{shot.pk}:image", self._store(local, "images", ".png"),
                                     options.image_provider, shot.pk, {"width": width, "height": height}))
            self.progress("images", (n + 1) / len(shots))
        self._record(outputs)

    def step_pages(self) -> None:
        shots = self.shots()
        images = [self._local(a, ".png") for a in self.chosen(AssetKind.IMAGE, shots, "画面")]
        pages, pdf = pipeline.step_pages([s for _, s in shots], images, self.tmp / "pages", self.tmp / "comic.pdf",
                                         self.options, title=self.work.title, progress=self.progress)
        outputs = [NewOutput(AssetKind.PAGE, f"page:{n + 1}", self._store(p, "pages", ".png"), "offline",
                             None, {"page": n + 1, "layout": self.options.layout})
                   for n, p in enumerate(pages)]
        outputs.append(NewOutput(AssetKind.PDF, "pdf", self._store(pdf, "pages", ".pdf"), "offline", None,
                                 {"pages": len(pages), "layout": self.options.layout}))
        self._record(outputs, replace_kind=AssetKind.PAGE)

    def step_voice(self) -> None:
        from lingjing.studio.media.voice import render_shot_audio
        from lingjing.studio.providers.speech import get_speech_provider

        shots = self.shots()
        options = self.options
        self._disclose(options.speech_provider, ["content.script"], "voice")
        provider = get_speech_provider(options.speech_provider, options.speech_config)
        outputs = []
        for n, (shot, spec) in enumerate(shots):
            audio = render_shot_audio(spec, self.tmp / "audio" / f"{shot.pk}.wav", provider, fps=options.fps)
            meta = {"duration": audio.duration, "cues": [[c.start, c.end] for c in audio.cues]}
            outputs.append(NewOutput(AssetKind.AUDIO, f"shot:{shot.pk}:audio",
                                     self._store(audio.path, "audio", ".wav"), options.speech_provider, shot.pk, meta))
            self.progress("voice", (n + 1) / len(shots))
        self._record(outputs)

    def _audios(self, shots: list[tuple[Shot, ShotSpec]], *, fetch: bool) -> list[ShotAudio]:
        audios = []
        for (shot, spec), asset in zip(shots, self.chosen(AssetKind.AUDIO, shots, "配音"), strict=True):
            times = asset.meta.get("cues") or []
            spoken = [line for line in spec.lines if line.text.strip()]
            if len(times) != len(spoken):
                raise StepError(f"镜头 {shot.position + 1} 的台词在配音之后改过：请重新生成配音")
            cues = tuple(Cue(float(s), float(e), line.text.strip()) for (s, e), line in zip(times, spoken, strict=True))
            path = self._local(asset, ".wav") if fetch else Path(asset.file)
            audios.append(ShotAudio(path, float(asset.meta["duration"]), cues))
        return audios

    def step_subtitles(self) -> None:
        shots = self.shots()
        audios = self._audios(shots, fetch=False)
        local = self.tmp / "subtitles.srt"
        pipeline.step_subtitles(audios, local, self.progress)
        total = round(sum(a.duration for a in audios), 3)
        self._record([NewOutput(AssetKind.SRT, "srt", self._store(local, "subtitles", ".srt"), "offline", None,
                                {"duration": total})])

    def step_video(self) -> None:
        shots = self.shots()
        images = [self._local(a, ".png") for a in self.chosen(AssetKind.IMAGE, shots, "画面")]
        audios = self._audios(shots, fetch=True)
        local = self.tmp / "video.mp4"
        duration = pipeline.step_video([s for _, s in shots], images, audios, local, self.options, self.progress)
        width, height = self.options.frame_size
        self._record([NewOutput(AssetKind.VIDEO, "video", self._store(local, "video", ".mp4"), "offline", None,
                                {"duration": round(duration, 3), "width": width, "height": height,
                                 "preset": self.options.preset})])
