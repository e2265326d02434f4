"""The studio's data: a work's episodes → scenes → shots, its reusable assets, generated outputs and jobs.

Everything an author writes or generates here (chapter text, shot descriptions and prompts, dialogue,
character bibles, reference images, images, audio, pages, video) is the author's personal data
(``content.script`` / ``content.asset``): prose is sealed under the author's key, files are exported as files,
and erasure deletes the rows (their files go with the work's storage prefix). Every row carries ``author`` so
the registry and the sealed fields find the person without a join.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from lingjing.privacy.registry import PD, NonPersonal, Retention, declare
from lingjing.security.crypto import SealedField
from lingjing.works.models import Work

_ACCOUNT = Retention.account()
_C = ("content",)


def _script(note: str = "", **kw: Any) -> PD:
    return PD("content.script", _C, "contract", _ACCOUNT, note=note, **kw)


def _asset(note: str = "", **kw: Any) -> PD:
    return PD("content.asset", _C, "contract", _ACCOUNT, note=note, **kw)


class ShotType(models.TextChoices):
    ESTABLISHING = "establishing", "全景（交代）"
    WIDE = "wide", "远景"
    MEDIUM = "medium", "中景"
    CLOSE = "close", "近景"
    EXTREME_CLOSE = "extreme_close", "特写"
    OVER_SHOULDER = "over_shoulder", "过肩"


class CameraMove(models.TextChoices):
    STATIC = "static", "固定"
    PUSH_IN = "push_in", "推"
    PULL_OUT = "pull_out", "拉"
    PAN_LEFT = "pan_left", "左摇"
    PAN_RIGHT = "pan_right", "右摇"
    TILT_UP = "tilt_up", "上摇"
    TILT_DOWN = "tilt_down", "下摇"


# --- per-work settings ------------------------------------------------------------------------------------


@declare(
    non_personal=NonPersonal(
        ["work", "storyboard_provider", "image_provider", "speech_provider", "layout", "preset", "style",
         "updated_at"],
        why="the author's choice of providers and output format; no content",
    ),
)
class StudioSettings(models.Model):
    """The studio's choices for one work (the 'project'): providers and output formats."""

    STORYBOARD_PROVIDERS: ClassVar = [("offline", "离线分镜（本机）"), ("llm", "大模型分镜（外部服务）")]
    IMAGE_PROVIDERS: ClassVar = [
        ("offline", "草图（本机）"), ("comfyui", "ComfyUI"), ("openai", "OpenAI 兼容图像"), ("sdwebui", "SD-WebUI"),
    ]
    SPEECH_PROVIDERS: ClassVar = [("offline", "espeak-ng（本机）"), ("openai", "OpenAI 兼容语音")]
    LAYOUTS: ClassVar = [("grid", "六格"), ("four", "四格"), ("strip", "条漫")]
    PRESETS: ClassVar = [("portrait", "竖屏 1080×1920"), ("landscape", "横屏 1920×1080")]

    work = models.OneToOneField(Work, on_delete=models.CASCADE, primary_key=True, related_name="studio_settings")
    storyboard_provider = models.CharField(max_length=16, choices=STORYBOARD_PROVIDERS, default="offline")
    image_provider = models.CharField(max_length=16, choices=IMAGE_PROVIDERS, default="offline")
    speech_provider = models.CharField(max_length=16, choices=SPEECH_PROVIDERS, default="offline")
    layout = models.CharField(max_length=8, choices=LAYOUTS, default="grid")
    preset = models.CharField(max_length=12, choices=PRESETS, default="portrait")
    style = models.CharField(max_length=40, default="anime")
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"settings of {self.work_id}"


# --- reusable assets --------------------------------------------------------------------------------------


@declare(
    subject="author",
    fields={
        "name": _script(),
        "static_features": _script("face, build, hair; sealed"),
        "dynamic_features": _script("costume; sealed"),
        "seed": _script("fixed seed so every image of the character matches"),
        "voice": _script(),
        "reference_images": _asset("storage paths of reference images", export="file"),
        "created_at": _script(),
    },
    non_personal=NonPersonal(["id", "work", "author"], why="pseudonymous ids"),
    erase_order=30,
)
class Character(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    work = models.ForeignKey(Work, on_delete=models.CASCADE, related_name="characters")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField("名字", max_length=40)
    static_features = SealedField(owner="author")
    dynamic_features = SealedField(owner="author")
    seed = models.PositiveIntegerField(default=0)
    voice = models.CharField(max_length=60, default="cmn")
    reference_images = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["name"]
        constraints: ClassVar = [models.UniqueConstraint(fields=["work", "name"], name="studio_character_name")]

    def __str__(self) -> str:
        return self.name


@declare(
    subject="author",
    fields={"name": _script(), "description": _script("sealed"), "created_at": _script()},
    non_personal=NonPersonal(["id", "work", "author"], why="pseudonymous ids"),
    erase_order=30,
)
class Location(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    work = models.ForeignKey(Work, on_delete=models.CASCADE, related_name="locations")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField("地点", max_length=40)
    description = SealedField(owner="author")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["name"]
        constraints: ClassVar = [models.UniqueConstraint(fields=["work", "name"], name="studio_location_name")]

    def __str__(self) -> str:
        return self.name


@declare(
    subject="author",
    fields={"name": _script(), "description": _script("sealed"), "created_at": _script()},
    non_personal=NonPersonal(["id", "work", "author"], why="pseudonymous ids"),
    erase_order=30,
)
class Prop(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    work = models.ForeignKey(Work, on_delete=models.CASCADE, related_name="props")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField("道具", max_length=40)
    description = SealedField(owner="author")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["name"]
        constraints: ClassVar = [models.UniqueConstraint(fields=["work", "name"], name="studio_prop_name")]

    def __str__(self) -> str:
        return self.name


# --- episode → scene → shot -------------------------------------------------------------------------------


@declare(
    subject="author",
    fields={"title": _script(), "source_text": _script("the chapter's text; sealed"), "created_at": _script()},
    non_personal=NonPersonal(["id", "work", "author", "index"], why="pseudonymous ids and order"),
    erase_order=20,
)
class Episode(models.Model):
    """One chapter of the imported story."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    work = models.ForeignKey(Work, on_delete=models.CASCADE, related_name="episodes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    index = models.PositiveIntegerField()
    title = models.CharField(max_length=120, blank=True)
    source_text = SealedField(owner="author")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["index"]
        constraints: ClassVar = [models.UniqueConstraint(fields=["work", "index"], name="studio_episode_index")]

    def __str__(self) -> str:
        return self.title or f"第{self.index + 1}集"


@declare(
    subject="author",
    fields={"title": _script()},
    non_personal=NonPersonal(["id", "episode", "author", "index", "location"], why="pseudonymous ids and order"),
    erase_order=15,
)
class Scene(models.Model):
    """A run of shots at one location within an episode."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="scenes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    index = models.PositiveIntegerField()
    title = models.CharField(max_length=120, blank=True)
    location = models.ForeignKey(Location, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering: ClassVar = ["episode__index", "index"]

    def __str__(self) -> str:
        return self.title or f"场景 {self.index + 1}"


@declare(
    subject="author",
    fields={
        "description": _script("what is seen; sealed"),
        "prompt": _script("image prompt; sealed"),
        "lines_json": _script("dialogue and narration lines; sealed"),
        "created_at": _script(),
        "updated_at": _script(),
    },
    non_personal=NonPersonal(
        ["id", "work", "scene", "author", "position", "shot_type", "camera_move", "duration", "seed"],
        why="pseudonymous ids, order and technical shot parameters",
    ),
    erase_order=10,
)
class Shot(models.Model):
    """One shot of the storyboard. ``position`` orders the shots of the whole work (0-based, gap-free)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    work = models.ForeignKey(Work, on_delete=models.CASCADE, related_name="shots")
    scene = models.ForeignKey(Scene, on_delete=models.CASCADE, related_name="shots")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField()
    description = SealedField(owner="author")
    prompt = SealedField(owner="author")
    lines_json = SealedField(owner="author")
    shot_type = models.CharField(max_length=16, choices=ShotType.choices, default=ShotType.MEDIUM)
    camera_move = models.CharField(max_length=12, choices=CameraMove.choices, default=CameraMove.STATIC)
    duration = models.FloatField(default=3.0)
    seed = models.PositiveIntegerField(default=0)
    characters = models.ManyToManyField(Character, blank=True, related_name="shots")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["position"]
        indexes: ClassVar = [models.Index(fields=["work", "position"], name="studio_shot_order")]

    def __str__(self) -> str:
        return f"镜头 {self.position + 1}"

    @property
    def lines(self) -> list[dict[str, Any]]:
        """``[{"text": ..., "speaker": name or None}]``; narration has no speaker."""
        raw = self.lines_json
        if not raw:
            return []
        data = json.loads(raw)
        return [d for d in data if isinstance(d, dict) and d.get("text")]

    def set_lines(self, lines: list[dict[str, Any]]) -> None:
        clean = [{"text": str(d["text"]), "speaker": d.get("speaker") or None} for d in lines if d.get("text")]
        self.lines_json = json.dumps(clean, ensure_ascii=False)


# --- generated outputs ------------------------------------------------------------------------------------


class AssetKind(models.TextChoices):
    IMAGE = "image", "画面"
    AUDIO = "audio", "配音"
    PAGE = "page", "漫画页"
    PDF = "pdf", "漫画 PDF"
    SRT = "srt", "字幕"
    VIDEO = "video", "视频"


@declare(
    subject="author",
    fields={
        "file": _asset("the generated file in storage", export="file"),
        "created_at": _asset(),
    },
    non_personal=NonPersonal(
        ["id", "work", "author", "shot", "job", "kind", "slot", "version", "provider", "meta", "chosen_at"],
        why="pseudonymous ids and technical metadata (sizes, durations, provider name)",
    ),
    erase_order=5,
)
class GeneratedAsset(models.Model):
    """One candidate output for a *slot* (``shot:<id>:image``, ``page:3``, ``video`` …).

    Candidates are kept. The chosen one of a slot is the candidate with the latest ``chosen_at``; a new
    candidate is chosen when generated; "undo" clears the current choice so the previous one is chosen again.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    work = models.ForeignKey(Work, on_delete=models.CASCADE, related_name="generated_assets")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    shot = models.ForeignKey(Shot, on_delete=models.SET_NULL, null=True, blank=True, related_name="assets")
    job = models.ForeignKey("StudioJob", on_delete=models.SET_NULL, null=True, blank=True, related_name="assets")
    kind = models.CharField(max_length=8, choices=AssetKind.choices)
    slot = models.CharField(max_length=80)
    version = models.PositiveIntegerField()
    file = models.CharField(max_length=300)
    provider = models.CharField(max_length=40, default="offline")
    meta = models.JSONField(default=dict, blank=True)
    chosen_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["slot", "version"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["work", "slot", "version"], name="studio_asset_version"),
        ]
        indexes: ClassVar = [models.Index(fields=["work", "kind", "slot"], name="studio_asset_slot")]

    def __str__(self) -> str:
        return f"{self.slot} v{self.version}"

    @property
    def url(self) -> str:
        from django.urls import reverse

        return reverse("studio:asset_file", args=[self.pk])


# --- jobs -------------------------------------------------------------------------------------------------


class JobKind(models.TextChoices):
    IMPORT = "import", "导入"
    STORYBOARD = "storyboard", "分镜"
    IMAGES = "images", "画面"
    PAGES = "pages", "漫画页"
    VOICE = "voice", "配音"
    SUBTITLES = "subtitles", "字幕"
    VIDEO = "video", "视频"
    RENDER = "render", "一键生成"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "排队中"
    RUNNING = "running", "进行中"
    SUCCEEDED = "succeeded", "已完成"
    FAILED = "failed", "失败"
    CANCELLED = "cancelled", "已取消"


ACTIVE_JOB_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)


@declare(
    subject="author",
    fields={
        "created_at": PD("behaviour.usage", _C, "contract", _ACCOUNT),
        "started_at": PD("behaviour.usage", _C, "contract", _ACCOUNT),
        "finished_at": PD("behaviour.usage", _C, "contract", _ACCOUNT),
    },
    non_personal=NonPersonal(
        ["id", "work", "author", "kind", "status", "progress", "step", "message", "attempts", "max_attempts",
         "dedupe_key", "heartbeat_at", "claim_token", "worker", "params"],
        why="job bookkeeping: status, progress, claim and technical parameters (no content)",
    ),
    erase_order=8,
)
class StudioJob(models.Model):
    """One run of a pipeline step (or of all of them). Claimed by a conditional UPDATE, kept alive by a
    heartbeat; a job whose heartbeat went stale is claimed again by the next worker (see ``studio.jobs``)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    work = models.ForeignKey(Work, on_delete=models.CASCADE, related_name="studio_jobs")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=12, choices=JobKind.choices)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0)
    step = models.CharField(max_length=12, blank=True)
    message = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    dedupe_key = models.CharField(max_length=80)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True)
    worker = models.CharField(max_length=80, blank=True)
    params = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["dedupe_key"],
                condition=Q(status__in=["queued", "running"]),
                name="studio_job_active_dedupe",
            ),
        ]
        indexes: ClassVar = [models.Index(fields=["status", "heartbeat_at"], name="studio_job_heartbeat")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.get_status_display()}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_JOB_STATUSES

    @property
    def step_label(self) -> str:
        return str(dict(JobKind.choices).get(self.step, self.step))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "work_id": str(self.work_id),
            "kind": self.kind,
            "status": self.status,
            "progress": self.progress,
            "step": self.step,
            "message": self.message,
            "attempts": self.attempts,
            "created_at": self.created_at.isoformat(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }
