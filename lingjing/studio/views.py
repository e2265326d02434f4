"""Studio pages: my works, the storyboard editor, the character bible, jobs with live progress, results.

Every object is fetched through ``studio.access`` (others get 404); every write is an action.
"""

from __future__ import annotations

import mimetypes
import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db.models import Count
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from lingjing.security.audit import AuditEvent
from lingjing.security.audit_models import AuditEntry
from lingjing.studio import actions
from lingjing.studio.access import access_asset, access_character, access_job, access_shot, access_studio_work
from lingjing.studio.forms import (
    CharacterForm,
    CreateWorkForm,
    MoveForm,
    ReferenceImageForm,
    SettingsForm,
    ShotForm,
    StartJobForm,
)
from lingjing.studio.models import AssetKind, Character, GeneratedAsset, JobKind, Shot, StudioJob
from lingjing.works.actions import do_create_work, do_delete_work
from lingjing.works.models import Work, WorkStatus


def _errors(request: HttpRequest, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


def _form_errors(request: HttpRequest, form: Any) -> None:
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, error)


# --- my works ---------------------------------------------------------------------------------------------


@login_required
def home(request: HttpRequest) -> HttpResponse:
    works = (Work.objects.filter(author_id=request.user.pk).exclude(status=WorkStatus.REMOVED)
             .annotate(shot_count=Count("shots", distinct=True)).order_by("-updated_at"))
    form = CreateWorkForm()
    if request.method == "POST":
        form = CreateWorkForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                work = do_create_work(request.user, title=form.cleaned_data["title"],
                                      script=form.cleaned_data["story"], acting_user=request.user)
                actions.do_start_job(work, JobKind.STORYBOARD, acting_user=request.user)
            except ValidationError as exc:
                _errors(request, exc)
            else:
                messages.success(request, _("作品已创建，正在导入并生成分镜"))
                return redirect("studio:work", work.pk)
    return render(request, "studio/home.html", {"works": works, "form": form})


def _latest_job(work: Work) -> StudioJob | None:
    return StudioJob.objects.filter(work=work).order_by("-created_at").first()


@login_required
def work_page(request: HttpRequest, work_id: uuid.UUID) -> HttpResponse:
    work = access_studio_work(request.user, work_id)
    choice = actions.studio_settings(work)
    initial = {k: getattr(choice, k) for k in SettingsForm.base_fields}
    disclosures = AuditEntry.objects.filter(
        subject=f"u:{request.user.pk}", event=AuditEvent.STUDIO_PROVIDER_DISCLOSURE
    ).order_by("-seq")[:20]
    context = {
        "work": work,
        "settings_form": SettingsForm(initial=initial),
        "episodes": work.episodes.order_by("index"),
        "shot_count": Shot.objects.filter(work=work).count(),
        "character_count": Character.objects.filter(work=work).count(),
        "job": _latest_job(work),
        "jobs": StudioJob.objects.filter(work=work).order_by("-created_at")[:10],
        "video": actions.chosen_outputs(work, AssetKind.VIDEO).get("video"),
        "disclosures": disclosures,
    }
    return render(request, "studio/work.html", context)


@login_required
@require_POST
def update_settings(request: HttpRequest, work_id: uuid.UUID) -> HttpResponse:
    work = access_studio_work(request.user, work_id)
    form = SettingsForm(request.POST)
    if form.is_valid():
        try:
            actions.do_update_studio_settings(work, acting_user=request.user, **form.cleaned_data)
            messages.success(request, _("设置已保存"))
        except ValidationError as exc:
            _errors(request, exc)
    else:
        _form_errors(request, form)
    return redirect("studio:work", work.pk)


@login_required
@require_POST
def delete_work(request: HttpRequest, work_id: uuid.UUID) -> HttpResponse:
    work = access_studio_work(request.user, work_id)
    do_delete_work(work, acting_user=request.user)
    messages.success(request, _("作品已删除"))
    return redirect("studio:home")


# --- storyboard -------------------------------------------------------------------------------------------


@login_required
def storyboard(request: HttpRequest, work_id: uuid.UUID) -> HttpResponse:
    work = access_studio_work(request.user, work_id)
    shots = list(Shot.objects.filter(work=work).select_related("scene__location", "scene__episode")
                 .prefetch_related("characters").order_by("position"))
    images = actions.chosen_outputs(work, AssetKind.IMAGE)
    rows = []
    for shot in shots:
        form = ShotForm(initial={
            "description": shot.description, "lines": actions.format_lines(shot.lines), "prompt": shot.prompt,
            "shot_type": shot.shot_type, "camera_move": shot.camera_move, "duration": shot.duration,
        }, prefix=f"s{shot.pk.hex[:8]}")
        rows.append({"shot": shot, "form": form, "image": images.get(f"shot:{shot.pk}:image")})
    total = round(sum(s.duration for s in shots), 1)
    return render(request, "studio/storyboard.html",
                  {"work": work, "rows": rows, "total": total, "job": _latest_job(work)})


def _shot_redirect(shot: Shot) -> HttpResponse:
    return redirect(reverse("studio:storyboard", args=[shot.work_id]) + f"#shot-{shot.pk}")


@login_required
@require_POST
def edit_shot(request: HttpRequest, work_id: uuid.UUID, shot_id: uuid.UUID) -> HttpResponse:
    shot = access_shot(request.user, work_id, shot_id, write=True)
    form = ShotForm(request.POST, prefix=f"s{shot.pk.hex[:8]}")
    if not form.is_valid():
        _form_errors(request, form)
        return _shot_redirect(shot)
    data = form.cleaned_data
    try:
        actions.do_update_shot(
            shot, acting_user=request.user, description=data["description"], prompt=data["prompt"],
            lines=actions.parse_lines(data["lines"]), shot_type=data["shot_type"], camera_move=data["camera_move"],
            duration=data["duration"] if data.get("duration") and data["duration"] != shot.duration else None,
        )
        messages.success(request, _("镜头 %(n)s 已保存") % {"n": shot.position + 1})
    except ValidationError as exc:
        _errors(request, exc)
    return _shot_redirect(shot)


@login_required
@require_POST
def move_shot(request: HttpRequest, work_id: uuid.UUID, shot_id: uuid.UUID) -> HttpResponse:
    shot = access_shot(request.user, work_id, shot_id, write=True)
    form = MoveForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        if data.get("position"):
            target = data["position"] - 1
        elif data.get("direction") == "up":
            target = shot.position - 1
        else:
            target = shot.position + 1
        try:
            actions.do_move_shot(shot, to_position=target, acting_user=request.user)
        except ValidationError as exc:
            _errors(request, exc)
    return _shot_redirect(shot)


@login_required
@require_POST
def split_shot(request: HttpRequest, work_id: uuid.UUID, shot_id: uuid.UUID) -> HttpResponse:
    shot = access_shot(request.user, work_id, shot_id, write=True)
    try:
        actions.do_split_shot(shot, acting_user=request.user)
        messages.success(request, _("镜头已拆分"))
    except ValidationError as exc:
        _errors(request, exc)
    return _shot_redirect(shot)


@login_required
@require_POST
def merge_shot(request: HttpRequest, work_id: uuid.UUID, shot_id: uuid.UUID) -> HttpResponse:
    shot = access_shot(request.user, work_id, shot_id, write=True)
    try:
        actions.do_merge_shot_with_next(shot, acting_user=request.user)
        messages.success(request, _("已与下一个镜头合并"))
    except ValidationError as exc:
        _errors(request, exc)
    return _shot_redirect(shot)


@login_required
@require_POST
def delete_shot(request: HttpRequest, work_id: uuid.UUID, shot_id: uuid.UUID) -> HttpResponse:
    shot = access_shot(request.user, work_id, shot_id, write=True)
    actions.do_delete_shot(shot, acting_user=request.user)
    messages.success(request, _("镜头已删除"))
    return redirect("studio:storyboard", work_id)


# --- characters -------------------------------------------------------------------------------------------


@login_required
def characters(request: HttpRequest, work_id: uuid.UUID) -> HttpResponse:
    work = access_studio_work(request.user, work_id)
    if request.method == "POST":
        form = CharacterForm(request.POST)
        if form.is_valid():
            try:
                actions.do_save_character(work, acting_user=request.user, **form.cleaned_data)
                messages.success(request, _("角色已添加"))
                return redirect("studio:characters", work.pk)
            except ValidationError as exc:
                _errors(request, exc)
        else:
            _form_errors(request, form)
    rows = [
        {
            "character": character,
            "form": CharacterForm(initial={
                "name": character.name, "static_features": character.static_features,
                "dynamic_features": character.dynamic_features, "voice": character.voice, "seed": character.seed,
            }, prefix=f"c{character.pk.hex[:8]}"),
            "references": list(enumerate(character.reference_images)),
        }
        for character in Character.objects.filter(work=work).annotate(shot_count=Count("shots")).order_by("name")
    ]
    return render(request, "studio/characters.html",
                  {"work": work, "rows": rows, "new_form": CharacterForm(), "image_form": ReferenceImageForm()})


@login_required
@require_POST
def edit_character(request: HttpRequest, work_id: uuid.UUID, character_id: uuid.UUID) -> HttpResponse:
    character = access_character(request.user, work_id, character_id, write=True)
    form = CharacterForm(request.POST, prefix=f"c{character.pk.hex[:8]}")
    if form.is_valid():
        try:
            actions.do_save_character(character.work, character=character, acting_user=request.user,
                                      **form.cleaned_data)
            messages.success(request, _("角色已保存"))
        except ValidationError as exc:
            _errors(request, exc)
    else:
        _form_errors(request, form)
    return redirect("studio:characters", work_id)


@login_required
@require_POST
def add_reference(request: HttpRequest, work_id: uuid.UUID, character_id: uuid.UUID) -> HttpResponse:
    character = access_character(request.user, work_id, character_id, write=True)
    form = ReferenceImageForm(request.POST, request.FILES)
    if form.is_valid():
        actions.do_add_character_reference(character, png=form.cleaned_data["image"], acting_user=request.user)
        messages.success(request, _("参考图已上传"))
    else:
        _form_errors(request, form)
    return redirect("studio:characters", work_id)


@login_required
def reference_file(request: HttpRequest, work_id: uuid.UUID, character_id: uuid.UUID, n: int) -> HttpResponseBase:
    character = access_character(request.user, work_id, character_id)
    if not 0 <= n < len(character.reference_images):
        raise Http404("参考图不存在")
    return FileResponse(default_storage.open(character.reference_images[n], "rb"), content_type="image/png")


# --- jobs -------------------------------------------------------------------------------------------------


@login_required
@require_POST
def start_job(request: HttpRequest, work_id: uuid.UUID) -> HttpResponse:
    work = access_studio_work(request.user, work_id)
    form = StartJobForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
        return redirect("studio:work", work.pk)
    try:
        job, created = actions.do_start_job(work, form.cleaned_data["kind"], acting_user=request.user)
    except ValidationError as exc:
        _errors(request, exc)
        return redirect("studio:work", work.pk)
    if not created:
        messages.info(request, _("这个作品已有任务在进行中"))
    return redirect("studio:job", work.pk, job.pk)


def _job_for(request: HttpRequest, work_id: uuid.UUID, job_id: uuid.UUID) -> StudioJob:
    job = access_job(request.user, job_id)
    if job.work_id != work_id:
        raise Http404("任务不存在")
    return job


@login_required
def job_page(request: HttpRequest, work_id: uuid.UUID, job_id: uuid.UUID) -> HttpResponse:
    job = _job_for(request, work_id, job_id)
    return render(request, "studio/job.html", {"work": job.work, "job": job})


@login_required
def job_progress(request: HttpRequest, work_id: uuid.UUID, job_id: uuid.UUID) -> HttpResponse:
    """The small partial htmx polls every second while the job is active."""
    job = _job_for(request, work_id, job_id)
    return render(request, "studio/_job_progress.html", {"work": job.work, "job": job})


@login_required
@require_POST
def cancel_job(request: HttpRequest, work_id: uuid.UUID, job_id: uuid.UUID) -> HttpResponse:
    job = _job_for(request, work_id, job_id)
    if actions.do_cancel_job(job, acting_user=request.user):
        messages.success(request, _("任务已取消"))
    return redirect("studio:job", work_id, job.pk)


@login_required
@require_POST
def retry_job(request: HttpRequest, work_id: uuid.UUID, job_id: uuid.UUID) -> HttpResponse:
    job = _job_for(request, work_id, job_id)
    try:
        actions.do_retry_job(job, acting_user=request.user)
        messages.success(request, _("任务已重新开始"))
    except ValidationError as exc:
        _errors(request, exc)
    return redirect("studio:job", work_id, job.pk)


# --- results ----------------------------------------------------------------------------------------------


@login_required
def results(request: HttpRequest, work_id: uuid.UUID) -> HttpResponse:
    work = access_studio_work(request.user, work_id)
    chosen = actions.chosen_outputs(work)
    shots = list(Shot.objects.filter(work=work).order_by("position"))
    candidates: dict[str, list[GeneratedAsset]] = {}
    for asset in GeneratedAsset.objects.filter(work=work, kind=AssetKind.IMAGE).order_by("slot", "-version"):
        candidates.setdefault(asset.slot, []).append(asset)
    images = [{"shot": s, "image": chosen.get(f"shot:{s.pk}:image"),
               "candidates": candidates.get(f"shot:{s.pk}:image", [])} for s in shots]
    pages = sorted((a for a in chosen.values() if a.kind == AssetKind.PAGE), key=lambda a: a.meta.get("page", 0))
    return render(request, "studio/results.html", {
        "work": work, "images": images, "pages": pages, "pdf": chosen.get("pdf"), "srt": chosen.get("srt"),
        "video": chosen.get("video"), "video_versions": GeneratedAsset.objects.filter(
            work=work, slot="video").order_by("-version"),
    })


@login_required
@require_POST
def choose_output(request: HttpRequest, work_id: uuid.UUID, asset_id: uuid.UUID) -> HttpResponse:
    asset = access_asset(request.user, asset_id, write=True)
    if asset.work_id != work_id:
        raise Http404("文件不存在")
    actions.do_choose_output(asset, acting_user=request.user)
    messages.success(request, _("已选用第 %(v)s 版") % {"v": asset.version})
    return redirect("studio:results", work_id)


@login_required
@require_POST
def undo_choice(request: HttpRequest, work_id: uuid.UUID) -> HttpResponse:
    work = access_studio_work(request.user, work_id)
    try:
        current = actions.do_undo_choice(work, request.POST.get("slot", ""), acting_user=request.user)
        if current is not None:
            messages.success(request, _("已撤销，恢复第 %(v)s 版") % {"v": current.version})
    except ValidationError as exc:
        _errors(request, exc)
    return redirect("studio:results", work_id)


_TYPES: dict[str, str] = {
    AssetKind.SRT: "application/x-subrip", AssetKind.PDF: "application/pdf", AssetKind.VIDEO: "video/mp4",
    AssetKind.AUDIO: "audio/wav", AssetKind.IMAGE: "image/png", AssetKind.PAGE: "image/png",
}


@login_required
def asset_file(request: HttpRequest, asset_id: uuid.UUID) -> HttpResponseBase:
    """An output file, for its author only (never a public media URL)."""
    return asset_response(access_asset(request.user, asset_id), download=request.GET.get("download") == "1")


def asset_response(asset: GeneratedAsset, *, download: bool) -> HttpResponseBase:
    if not default_storage.exists(asset.file):
        raise Http404("文件不存在")
    content_type = _TYPES.get(asset.kind) or mimetypes.guess_type(asset.file)[0] or "application/octet-stream"
    suffix = asset.file.rsplit(".", 1)[-1]
    filename = f"{asset.work.title}-{asset.slot.replace(':', '-')}-v{asset.version}.{suffix}"
    return FileResponse(default_storage.open(asset.file, "rb"), content_type=content_type,
                        as_attachment=download, filename=filename)
