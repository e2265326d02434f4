"""Studio API (mounted at ``/api/v1/studio``): start a render, follow its progress, list the outputs.

Only a work's author reaches its studio: everyone else gets 404 ``not_found``.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from ninja import File, Form, Router, Schema
from ninja.files import UploadedFile
from ninja.responses import Status

from lingjing.api import AUTH, ApiError
from lingjing.studio.access import access_job, access_studio_work
from lingjing.studio.actions import chosen_outputs, do_cancel_job, do_retry_job, do_start_job
from lingjing.studio.models import GeneratedAsset, StudioJob
from lingjing.works.models import Work

PREFIX = "/studio"
router = Router(tags=["studio"], auth=AUTH)


class JobOut(Schema):
    id: str
    work_id: str
    kind: str
    status: str
    progress: int
    step: str
    message: str
    attempts: int
    created_at: str
    started_at: str | None
    finished_at: str | None
    url: str


JobKindParam = Literal["render", "import", "storyboard", "images", "pages", "voice", "subtitles", "video"]


class StartOut(Schema):
    job: JobOut
    created: bool


class OutputOut(Schema):
    id: str
    kind: str
    slot: str
    version: int
    chosen: bool
    url: str
    meta: dict[str, Any]
    created_at: str


class OutputList(Schema):
    items: list[OutputOut]


def _work(request: HttpRequest, work_id: uuid.UUID) -> Work:
    try:
        return access_studio_work(request.user, work_id)
    except Http404:
        raise ApiError(404, "not_found", "作品不存在") from None


def _job(request: HttpRequest, job_id: uuid.UUID) -> StudioJob:
    try:
        return access_job(request.user, job_id)
    except Http404:
        raise ApiError(404, "not_found", "任务不存在") from None


def _job_out(request: HttpRequest, job: StudioJob) -> dict[str, Any]:
    from django.urls import reverse

    data = job.to_dict()
    data["url"] = request.build_absolute_uri(reverse("api:studio_job", args=[job.pk]))
    return data


@router.post("/works/{work_id}/render", response={202: StartOut, 200: StartOut}, url_name="studio_render")
def start_render(request: HttpRequest, work_id: uuid.UUID, kind: JobKindParam = "render") -> Status[dict[str, Any]]:
    """Start the pipeline for a work (``?kind=`` one step; the full render by default). 202 when queued; 200 with
    the job already active for this work (one active job per work)."""
    work = _work(request, work_id)
    try:
        job, created = do_start_job(work, kind, acting_user=request.user)
    except ValidationError as exc:
        raise ApiError(422, "invalid_request", "；".join(exc.messages)) from None
    job.refresh_from_db()
    return Status(202 if created else 200, {"job": _job_out(request, job), "created": created})


class ImportOut(Schema):
    id: str
    title: str
    status: str
    chars: int
    job: JobOut


@router.post("/import", response={201: ImportOut}, url_name="studio_import", summary="上传故事文件创建作品")
def import_story(request: HttpRequest, title: Form[str], file: File[UploadedFile]) -> Status[dict[str, Any]]:
    """The studio page's import as an API: txt, md, docx or epub (at most 5 MiB) becomes a new work whose
    storyboard job starts at once. A refused file answers 422 with the importer's code (``archive_bomb``,
    ``too_large``, ``bad_encoding``, …) and a Chinese message; nothing is created."""
    from django.utils.datastructures import MultiValueDict

    from lingjing.accounts.policy import can_create, denial_reason
    from lingjing.studio.forms import CreateWorkForm
    from lingjing.works.actions import do_create_work

    if not can_create(request.user):
        raise ApiError(403, "forbidden", denial_reason(request.user))
    form = CreateWorkForm({"title": title}, MultiValueDict({"file": [file]}))
    if not form.is_valid():
        error = next(iter(form.errors.as_data().values()))[0]
        raise ApiError(422, error.code or "invalid_request", error.messages[0])
    try:
        work = do_create_work(request.user, title=form.cleaned_data["title"], script=form.cleaned_data["story"],
                              acting_user=request.user)
        job, _ = do_start_job(work, "storyboard", acting_user=request.user)
    except ValidationError as exc:
        raise ApiError(422, exc.code or "invalid_request", "；".join(exc.messages)) from None
    job.refresh_from_db()
    return Status(201, {"id": str(work.pk), "title": work.title, "status": work.status,
                        "chars": len(work.script), "job": _job_out(request, job)})


@router.get("/jobs/{job_id}", response=JobOut, url_name="studio_job")
def job_status(request: HttpRequest, job_id: uuid.UUID) -> dict[str, Any]:
    return _job_out(request, _job(request, job_id))


@router.post("/jobs/{job_id}/cancel", response=JobOut, url_name="studio_job_cancel")
def cancel(request: HttpRequest, job_id: uuid.UUID) -> dict[str, Any]:
    job = _job(request, job_id)
    if not do_cancel_job(job, acting_user=request.user):
        raise ApiError(409, "not_active", "任务已结束，无法取消")
    return _job_out(request, job)


@router.post("/jobs/{job_id}/retry", response={202: JobOut}, url_name="studio_job_retry")
def retry(request: HttpRequest, job_id: uuid.UUID) -> Status[dict[str, Any]]:
    job = _job(request, job_id)
    try:
        job = do_retry_job(job, acting_user=request.user)
    except ValidationError as exc:
        raise ApiError(409, "not_retryable", "；".join(exc.messages)) from None
    return Status(202, _job_out(request, job))


@router.get("/works/{work_id}/outputs", response=OutputList, url_name="studio_outputs")
def outputs(request: HttpRequest, work_id: uuid.UUID, kind: str | None = None,
            all_versions: bool = False) -> dict[str, Any]:
    """The work's generated outputs: the chosen version of every slot, or every candidate with ``all_versions``."""
    from django.urls import reverse

    work = _work(request, work_id)
    chosen = {a.pk for a in chosen_outputs(work).values()}
    rows = GeneratedAsset.objects.filter(work=work).order_by("kind", "slot", "version")
    if kind:
        rows = rows.filter(kind=kind)
    items = [
        {
            "id": str(a.pk), "kind": a.kind, "slot": a.slot, "version": a.version, "chosen": a.pk in chosen,
            "url": request.build_absolute_uri(reverse("api:studio_output_file", args=[a.pk])), "meta": a.meta,
            "created_at": a.created_at.isoformat(),
        }
        for a in rows
        if all_versions or a.pk in chosen
    ]
    return {"items": items}


@router.get("/outputs/{asset_id}/file", url_name="studio_output_file", response={200: None})
def output_file(request: HttpRequest, asset_id: uuid.UUID) -> HttpResponseBase:
    """Download one output (its author only)."""
    from lingjing.studio.access import access_asset
    from lingjing.studio.views import asset_response

    try:
        asset = access_asset(request.user, asset_id)
    except Http404:
        raise ApiError(404, "not_found", "文件不存在") from None
    return asset_response(asset, download=True)
