"""Every write the studio makes. One durable transaction per action, with its audit row inside it.

Actions called by a running job (``*_for_job``) take the :class:`~lingjing.studio.jobs.JobRun` and re-check,
inside their transaction, that the job is still running under that claim: a cancelled or reclaimed worker's
late writes roll back instead of landing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils import timezone

from lingjing.security.audit import AuditEvent, record
from lingjing.studio.importers import Chapter
from lingjing.studio.jobs import JobRun
from lingjing.studio.models import (
    ACTIVE_JOB_STATUSES,
    CameraMove,
    Character,
    Episode,
    GeneratedAsset,
    JobKind,
    JobStatus,
    Location,
    Scene,
    Shot,
    ShotType,
    StudioJob,
    StudioSettings,
)
from lingjing.studio.spec import CharacterSpec, Storyboard
from lingjing.studio.storyboard import estimate_duration, stable_seed
from lingjing.works.models import Work

MAX_TEXT = 4000


def _subject(work: Work) -> str:
    return f"u:{work.author_id}" if work.author_id else ""


def _author(work: Work) -> uuid.UUID:
    if work.author_id is None:
        raise ValidationError("作品已没有作者，不能再编辑", code="no_author")
    return work.author_id


def _check_claim(run: JobRun | None) -> None:
    if run is None:
        return
    if not StudioJob.objects.select_for_update().filter(
        pk=run.job_id, claim_token=run.token, status=JobStatus.RUNNING
    ).exists():
        raise run.stopped_error()


# --- settings ---------------------------------------------------------------------------------------------


def studio_settings(work: Work) -> StudioSettings:
    """The work's studio settings (defaults when never changed; not saved until changed)."""
    found = StudioSettings.objects.filter(work=work).first()
    return found or StudioSettings(work=work)


def do_update_studio_settings(work: Work, *, acting_user: Any, **choices: str) -> StudioSettings:
    current = studio_settings(work)
    allowed = {
        "storyboard_provider": dict(StudioSettings.STORYBOARD_PROVIDERS),
        "image_provider": dict(StudioSettings.IMAGE_PROVIDERS),
        "speech_provider": dict(StudioSettings.SPEECH_PROVIDERS),
        "layout": dict(StudioSettings.LAYOUTS),
        "preset": dict(StudioSettings.PRESETS),
    }
    changed = []
    for name, value in choices.items():
        if name not in allowed or value not in allowed[name]:
            raise ValidationError(f"无效的设置：{name}", code="invalid_setting")
        if getattr(current, name) != value:
            setattr(current, name, value)
            changed.append(name)
    if not changed:
        return current
    current.updated_at = timezone.now()
    with transaction.atomic(durable=True):
        current.save()
        record(AuditEvent.STUDIO_SETTINGS_CHANGED, acting_user=acting_user, subject=_subject(work), obj=work,
               details={k: getattr(current, k) for k in changed})
    return current


# --- import and storyboard (run by jobs) ------------------------------------------------------------------


def do_import_chapters_for_job(work: Work, chapters: Sequence[Chapter], *, run: JobRun | None) -> list[Episode]:
    """Replace the work's episodes (and with them scenes and shots) by ``chapters``."""
    with transaction.atomic(durable=True):
        _check_claim(run)
        Episode.objects.filter(work=work).delete()
        episodes = []
        for index, chapter in enumerate(chapters):
            episode = Episode(work=work, author_id=_author(work), index=index, title=chapter.title[:120],
                              source_text=chapter.text)
            episode.save(force_insert=True)
            episodes.append(episode)
        record(AuditEvent.STUDIO_STORY_IMPORTED, subject=_subject(work), obj=work,
               details={"episodes": len(episodes), "chars": sum(len(c.text) for c in chapters),
                        "job": str(run.job_id) if run else None})
    return episodes


def _upsert_characters(work: Work, specs: Iterable[CharacterSpec]) -> dict[str, Character]:
    existing = {c.name: c for c in Character.objects.filter(work=work)}
    for spec in specs:
        if spec.name in existing:
            continue  # the author's bible wins over what a storyboard guessed
        character = Character(work=work, author_id=_author(work), name=spec.name[:40],
                              static_features=spec.static_features, dynamic_features=spec.dynamic_features,
                              seed=spec.seed or stable_seed("character", spec.name), voice=spec.voice or "cmn")
        character.save(force_insert=True)
        existing[spec.name] = character
    return existing


def _upsert_locations(work: Work, names: Iterable[str]) -> dict[str, Location]:
    existing = {loc.name: loc for loc in Location.objects.filter(work=work)}
    for name in names:
        if name and name not in existing:
            location = Location(work=work, author_id=_author(work), name=name[:40], description="")
            location.save(force_insert=True)
            existing[name] = location
    return existing


def do_save_storyboard_for_job(
    work: Work, boards: Sequence[tuple[Episode, Storyboard]], *, run: JobRun | None, provider: str = "offline"
) -> int:
    """Replace the work's scenes and shots by the storyboards of its episodes; returns the number of shots."""
    with transaction.atomic(durable=True):
        _check_claim(run)
        Scene.objects.filter(episode__work=work).delete()
        characters = _upsert_characters(work, [c for _, board in boards for c in board.characters])
        locations = _upsert_locations(work, [name for _, board in boards for name in board.locations])
        position = 0
        for episode, board in boards:
            scene: Scene | None = None
            scene_location: str | None = None
            for spec in board.shots:
                if scene is None or (spec.location and spec.location != scene_location):
                    scene_location = spec.location or scene_location
                    scene = Scene(episode=episode, author_id=_author(work),
                                  index=(scene.index + 1) if scene else 0,
                                  title=(spec.location or episode.title)[:120],
                                  location=locations.get(spec.location or ""))
                    scene.save(force_insert=True)
                shot = Shot(work=work, scene=scene, author_id=_author(work), position=position,
                            description=spec.description, prompt=spec.prompt, shot_type=spec.shot_type,
                            camera_move=spec.camera_move, duration=spec.duration, seed=spec.seed)
                shot.set_lines([{"text": ln.text, "speaker": ln.speaker} for ln in spec.lines])
                shot.save(force_insert=True)
                cast = [characters[c.name] for c in spec.characters if c.name in characters]
                if cast:
                    shot.characters.set(cast)
                position += 1
        record(AuditEvent.STUDIO_STORYBOARD_SAVED, subject=_subject(work), obj=work,
               details={"shots": position, "provider": provider, "job": str(run.job_id) if run else None})
    return position


# --- shot editing -----------------------------------------------------------------------------------------


def _clean_text(value: str, what: str, *, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationError(f"请填写{what}", code="required")
    if len(value) > MAX_TEXT:
        raise ValidationError(f"{what}最多 {MAX_TEXT} 字", code="too_long")
    return value


def parse_lines(text: str) -> list[dict[str, Any]]:
    """Editor form → lines: one per row, ``名字：台词`` for dialogue, anything else narration."""
    lines: list[dict[str, Any]] = []
    for row in (text or "").splitlines():
        row = row.strip()
        if not row:
            continue
        for sep in ("：", ":"):
            name, found, said = row.partition(sep)
            if found and 0 < len(name.strip()) <= 12 and said.strip() and name.strip() != "旁白":
                lines.append({"text": said.strip(), "speaker": name.strip()})
                break
            if found and name.strip() == "旁白" and said.strip():
                lines.append({"text": said.strip(), "speaker": None})
                break
        else:
            lines.append({"text": row, "speaker": None})
    return lines


def format_lines(lines: list[dict[str, Any]]) -> str:
    return "\n".join(f"{d['speaker']}：{d['text']}" if d.get("speaker") else d["text"] for d in lines)


def do_update_shot(
    shot: Shot,
    *,
    acting_user: Any,
    description: str | None = None,
    prompt: str | None = None,
    lines: list[dict[str, Any]] | None = None,
    shot_type: str | None = None,
    camera_move: str | None = None,
    duration: float | None = None,
) -> Shot:
    changed = []
    if description is not None:
        shot.description = _clean_text(description, "画面描述", required=True)
        changed.append("description")
    if prompt is not None:
        shot.prompt = _clean_text(prompt, "提示词")
        changed.append("prompt")
    if lines is not None:
        for line in lines:
            _clean_text(str(line.get("text", "")), "台词")
        shot.set_lines(lines)
        changed.append("lines_json")
    if shot_type is not None:
        if shot_type not in ShotType.values:
            raise ValidationError("无效的景别", code="invalid_shot_type")
        shot.shot_type = shot_type
        changed.append("shot_type")
    if camera_move is not None:
        if camera_move not in CameraMove.values:
            raise ValidationError("无效的运镜", code="invalid_camera_move")
        shot.camera_move = camera_move
        changed.append("camera_move")
    if duration is not None:
        if not 0.5 <= duration <= 60:
            raise ValidationError("时长应在 0.5 到 60 秒之间", code="invalid_duration")
        shot.duration = round(duration, 2)
        changed.append("duration")
    elif lines is not None:
        shot.duration = estimate_duration("".join(d["text"] for d in shot.lines) or (shot.description or ""))
        changed.append("duration")
    if not changed:
        return shot
    shot.updated_at = timezone.now()
    with transaction.atomic(durable=True):
        shot.save(update_fields=[*dict.fromkeys(changed), "updated_at"])
        record(AuditEvent.STUDIO_SHOT_EDITED, acting_user=acting_user, subject=_subject(shot.work), obj=shot,
               details={"fields": list(dict.fromkeys(changed))})
    return shot


def _renumber(work: Work) -> None:
    for index, pk in enumerate(Shot.objects.filter(work=work).order_by("position", "created_at")
                               .values_list("pk", flat=True)):
        Shot.objects.filter(pk=pk).exclude(position=index).update(position=index)


def do_move_shot(shot: Shot, *, to_position: int, acting_user: Any) -> None:
    """Move ``shot`` to ``to_position`` (0-based) in the work's order."""
    work = shot.work
    with transaction.atomic(durable=True):
        ids = list(Shot.objects.select_for_update().filter(work=work).order_by("position")
                   .values_list("pk", flat=True))
        if shot.pk not in ids:
            raise ValidationError("镜头不存在", code="not_found")
        target = max(0, min(len(ids) - 1, to_position))
        ids.remove(shot.pk)
        ids.insert(target, shot.pk)
        for index, pk in enumerate(ids):
            Shot.objects.filter(pk=pk).exclude(position=index).update(position=index)
        record(AuditEvent.STUDIO_SHOTS_REORDERED, acting_user=acting_user, subject=_subject(work), obj=shot,
               details={"to": target})


def do_split_shot(shot: Shot, *, acting_user: Any) -> Shot:
    """Split a shot in two: its lines halve (or its single line's text does, at a sentence end)."""
    lines = shot.lines
    if len(lines) >= 2:
        half = len(lines) // 2
        first, second = lines[:half], lines[half:]
    elif lines and len(lines[0]["text"]) >= 4:
        text = lines[0]["text"]
        cut = _cut_point(text)
        first = [{"text": text[:cut], "speaker": lines[0].get("speaker")}]
        second = [{"text": text[cut:], "speaker": lines[0].get("speaker")}]
    else:
        raise ValidationError("这个镜头太短，无法拆分", code="too_short")
    work = shot.work
    with transaction.atomic(durable=True):
        Shot.objects.filter(work=work, position__gt=shot.position).update(position=F("position") + 1)
        new = Shot(work=work, scene_id=shot.scene_id, author_id=shot.author_id, position=shot.position + 1,
                   description="".join(d["text"] for d in second), prompt=shot.prompt, shot_type=shot.shot_type,
                   camera_move="static", seed=stable_seed(str(shot.pk), "split"),
                   duration=estimate_duration("".join(d["text"] for d in second)))
        new.set_lines(second)
        new.save(force_insert=True)
        new.characters.set(shot.characters.all())
        shot.set_lines(first)
        shot.duration = estimate_duration("".join(d["text"] for d in first))
        shot.updated_at = timezone.now()
        shot.save(update_fields=["lines_json", "duration", "updated_at"])
        record(AuditEvent.STUDIO_SHOT_SPLIT, acting_user=acting_user, subject=_subject(work), obj=shot,
               details={"new_shot": str(new.pk)})
    return new


def _cut_point(text: str) -> int:
    middle = len(text) // 2
    ends = [i + 1 for i, ch in enumerate(text) if ch in "。！？!?；;，,"]
    inner = [i for i in ends if 0 < i < len(text)]
    return min(inner, key=lambda i: abs(i - middle)) if inner else middle


def do_merge_shot_with_next(shot: Shot, *, acting_user: Any) -> Shot:
    """Merge ``shot`` with the shot after it; the next one goes."""
    work = shot.work
    with transaction.atomic(durable=True):
        following = Shot.objects.filter(work=work, position__gt=shot.position).order_by("position").first()
        if following is None:
            raise ValidationError("这是最后一个镜头，没有可合并的下一个镜头", code="no_next")
        lines = shot.lines + following.lines
        shot.set_lines(lines)
        shot.description = f"{shot.description or ''}{following.description or ''}"[:MAX_TEXT]
        shot.duration = estimate_duration("".join(d["text"] for d in lines) or shot.description)
        shot.updated_at = timezone.now()
        shot.save(update_fields=["lines_json", "description", "duration", "updated_at"])
        shot.characters.add(*following.characters.all())
        merged_id = str(following.pk)
        following.delete()
        _renumber(work)
        record(AuditEvent.STUDIO_SHOTS_MERGED, acting_user=acting_user, subject=_subject(work), obj=shot,
               details={"merged": merged_id})
    return shot


def do_delete_shot(shot: Shot, *, acting_user: Any) -> None:
    work = shot.work
    with transaction.atomic(durable=True):
        record(AuditEvent.STUDIO_SHOT_DELETED, acting_user=acting_user, subject=_subject(work), obj=shot)
        shot.delete()
        _renumber(work)


# --- character bible --------------------------------------------------------------------------------------


def do_save_character(
    work: Work,
    *,
    acting_user: Any,
    character: Character | None = None,
    name: str,
    static_features: str = "",
    dynamic_features: str = "",
    voice: str = "cmn",
    seed: int | None = None,
) -> Character:
    name = _clean_text(name, "角色名", required=True)
    if len(name) > 40:
        raise ValidationError("角色名最多 40 个字", code="too_long")
    voice = (voice or "cmn").strip()[:60]
    target = character or Character(work=work, author_id=_author(work))
    target.name = name
    target.static_features = _clean_text(static_features, "固定特征")
    target.dynamic_features = _clean_text(dynamic_features, "服装特征")
    target.voice = voice
    target.seed = seed if seed is not None else (target.seed or stable_seed("character", name))
    try:
        with transaction.atomic(durable=True):
            target.save()
            record(AuditEvent.STUDIO_CHARACTER_SAVED, acting_user=acting_user, subject=_subject(work), obj=target,
                   details={"created": character is None})
    except IntegrityError:
        raise ValidationError("已有同名角色", code="duplicate") from None
    return target


def do_add_character_reference(character: Character, *, png: bytes, acting_user: Any) -> Character:
    """Store a reference image (already re-encoded to PNG) and attach it; keeps the newest eight."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from lingjing.works.files import work_media_prefix

    name = f"{work_media_prefix(character.work_id)}/studio/references/{uuid.uuid4().hex}.png"
    path = default_storage.save(name, ContentFile(png))
    try:
        with transaction.atomic(durable=True):
            character.reference_images = [*character.reference_images, path][-8:]
            character.save(update_fields=["reference_images"])
            record(AuditEvent.STUDIO_CHARACTER_SAVED, acting_user=acting_user, subject=_subject(character.work),
                   obj=character, details={"reference_images": len(character.reference_images)})
    except Exception:
        default_storage.delete(path)
        raise
    return character


def do_save_location(work: Work, *, acting_user: Any, location: Location | None = None, name: str,
                     description: str = "") -> Location:
    name = _clean_text(name, "地点名", required=True)[:40]
    target = location or Location(work=work, author_id=_author(work))
    target.name = name
    target.description = _clean_text(description, "地点描述")
    try:
        with transaction.atomic(durable=True):
            target.save()
            record(AuditEvent.STUDIO_ASSET_SAVED, acting_user=acting_user, subject=_subject(work), obj=target)
    except IntegrityError:
        raise ValidationError("已有同名地点", code="duplicate") from None
    return target


# --- generated outputs ------------------------------------------------------------------------------------


@dataclass
class NewOutput:
    kind: str
    slot: str
    file: str  # storage path, already written
    provider: str = "offline"
    shot_id: uuid.UUID | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def do_add_outputs_for_job(
    work: Work, outputs: Sequence[NewOutput], *, run: JobRun | None, replace_kind: str | None = None
) -> list[GeneratedAsset]:
    """Record new candidates (each becomes its slot's chosen one; older candidates stay for undo).

    ``replace_kind``: slots of that kind not among ``outputs`` stop being chosen (e.g. pages beyond a shorter
    storyboard's last page).
    """
    now = timezone.now()
    rows = []
    with transaction.atomic(durable=True):
        _check_claim(run)
        slots = {o.slot for o in outputs}
        latest = dict(GeneratedAsset.objects.filter(work=work, slot__in=slots).values("slot")
                      .annotate(v=Max("version")).values_list("slot", "v"))
        for item in outputs:
            version = latest.get(item.slot, 0) + 1
            latest[item.slot] = version
            asset = GeneratedAsset(work=work, author_id=_author(work), shot_id=item.shot_id,
                                   job_id=run.job_id if run else None, kind=item.kind, slot=item.slot,
                                   version=version, file=item.file, provider=item.provider, meta=item.meta,
                                   chosen_at=now)
            asset.save(force_insert=True)
            rows.append(asset)
        if replace_kind is not None:
            GeneratedAsset.objects.filter(work=work, kind=replace_kind, chosen_at__isnull=False).exclude(
                slot__in=slots
            ).update(chosen_at=None)
        kinds: dict[str, int] = {}
        for item in outputs:
            kinds[item.kind] = kinds.get(item.kind, 0) + 1
        record(AuditEvent.STUDIO_OUTPUTS_ADDED, subject=_subject(work), obj=work,
               details={"kinds": kinds, "job": str(run.job_id) if run else None})
    return rows


def chosen_outputs(work: Work, kind: str | None = None) -> dict[str, GeneratedAsset]:
    """slot → the chosen candidate (latest ``chosen_at``) of every slot of the work."""
    qs = GeneratedAsset.objects.filter(work=work, chosen_at__isnull=False)
    if kind is not None:
        qs = qs.filter(kind=kind)
    chosen: dict[str, GeneratedAsset] = {}
    for asset in qs.order_by("slot", "chosen_at", "version"):
        chosen[asset.slot] = asset
    return chosen


def do_choose_output(asset: GeneratedAsset, *, acting_user: Any) -> GeneratedAsset:
    with transaction.atomic(durable=True):
        asset.chosen_at = timezone.now()
        asset.save(update_fields=["chosen_at"])
        record(AuditEvent.STUDIO_OUTPUT_CHOSEN, acting_user=acting_user, subject=_subject(asset.work), obj=asset,
               details={"slot": asset.slot, "version": asset.version})
    return asset


def do_undo_choice(work: Work, slot: str, *, acting_user: Any) -> GeneratedAsset | None:
    """Go back to the candidate chosen before the current one; returns the newly current candidate."""
    with transaction.atomic(durable=True):
        current = (GeneratedAsset.objects.select_for_update().filter(work=work, slot=slot, chosen_at__isnull=False)
                   .order_by("-chosen_at", "-version").first())
        if current is None:
            raise ValidationError("没有可撤销的选择", code="nothing_to_undo")
        earlier = (GeneratedAsset.objects.filter(work=work, slot=slot, chosen_at__isnull=False)
                   .exclude(pk=current.pk).order_by("-chosen_at", "-version").first())
        if earlier is None:
            raise ValidationError("这已经是最早的版本", code="nothing_to_undo")
        current.chosen_at = None
        current.save(update_fields=["chosen_at"])
        record(AuditEvent.STUDIO_OUTPUT_CHOSEN, acting_user=acting_user, subject=_subject(work), obj=earlier,
               details={"slot": slot, "version": earlier.version, "undo": True})
    return earlier


# --- jobs -------------------------------------------------------------------------------------------------


def job_dedupe_key(work: Work) -> str:
    """One active job per work: two pipelines writing the same outputs at once would race."""
    return f"studio:{work.pk}"


def do_start_job(
    work: Work, kind: str, *, acting_user: Any, params: dict[str, Any] | None = None
) -> tuple[StudioJob, bool]:
    """Queue a job; returns ``(job, created)``. While the work has an active job, that job is returned."""
    from lingjing.studio.tasks import enqueue_job

    if kind not in JobKind.values:
        raise ValidationError("未知的任务类型", code="invalid_kind")
    key = job_dedupe_key(work)
    with transaction.atomic(durable=True):
        active = StudioJob.objects.filter(dedupe_key=key, status__in=ACTIVE_JOB_STATUSES).first()
        if active is not None:
            return active, False
        job = StudioJob(work=work, author_id=_author(work), kind=kind, dedupe_key=key, params=params or {})
        try:
            with transaction.atomic():
                job.save(force_insert=True)
        except IntegrityError:  # another request queued one in between
            found = StudioJob.objects.filter(dedupe_key=key, status__in=ACTIVE_JOB_STATUSES).first()
            if found is None:
                raise
            return found, False
        record(AuditEvent.STUDIO_JOB_STARTED, acting_user=acting_user, subject=_subject(work), obj=job,
               details={"kind": kind})
        job_id = job.pk
        transaction.on_commit(lambda: enqueue_job(job_id))
    return job, True


def do_cancel_job(job: StudioJob, *, acting_user: Any) -> bool:
    """Cancel a queued or running job. A running worker notices at its next heartbeat and stops."""
    with transaction.atomic(durable=True):
        done = StudioJob.objects.filter(pk=job.pk, status__in=ACTIVE_JOB_STATUSES).update(
            status=JobStatus.CANCELLED, claim_token=None, finished_at=timezone.now(), message="已取消"
        )
        if done:
            record(AuditEvent.STUDIO_JOB_CANCELLED, acting_user=acting_user, subject=_subject(job.work), obj=job,
                   details={"kind": job.kind, "progress": job.progress})
    job.refresh_from_db()
    return bool(done)


def do_retry_job(job: StudioJob, *, acting_user: Any) -> StudioJob:
    """Put a failed or cancelled job back in the queue (fresh attempts)."""
    from lingjing.studio.tasks import enqueue_job

    try:
        with transaction.atomic(durable=True):
            done = StudioJob.objects.filter(pk=job.pk, status__in=[JobStatus.FAILED, JobStatus.CANCELLED]).update(
                status=JobStatus.QUEUED, progress=0, step="", message="", attempts=0, finished_at=None,
                heartbeat_at=None, claim_token=None, started_at=None,  # a new run: every step is made again
            )
            if not done:
                raise ValidationError("只有失败或已取消的任务可以重试", code="not_retryable")
            record(AuditEvent.STUDIO_JOB_RETRIED, acting_user=acting_user, subject=_subject(job.work), obj=job,
                   details={"kind": job.kind})
            job_id = job.pk
            transaction.on_commit(lambda: enqueue_job(job_id))
    except IntegrityError:
        raise ValidationError("这个作品已有任务在进行中", code="job_active") from None
    job.refresh_from_db()
    return job

