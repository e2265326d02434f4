"""Works API (API-CONTRACT.md): create, read, change, delete, publish; the public feed.

``GET /works`` and ``GET /works/{id}`` need no account; with a Bearer token or a session they also say what the
caller liked. Works that are not public answer 404 to everyone but their author (a draft's existence is not
disclosed).
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest
from ninja import Router, Schema
from ninja.responses import Status

from lingjing.api import AUTH, ApiError, bearer, session
from lingjing.works import feed as feeds
from lingjing.works.access import access_work
from lingjing.works.actions import do_create_work, do_delete_work, do_update_work
from lingjing.works.models import Work, WorkStatus
from lingjing.works.publishing import do_publish_work, do_unpublish_work

PREFIX = "/"
router = Router(tags=["works"])


def anonymous(request: HttpRequest) -> bool:
    """Last in an auth list: lets a request without credentials through as anonymous (public reads)."""
    return True


OPTIONAL_AUTH = [bearer, session, anonymous]


class WorkAuthorOut(Schema):
    id: str
    nickname: str
    avatar_url: str | None


class WorkOut(Schema):
    id: str
    title: str
    status: str
    published_at: str | None
    author: WorkAuthorOut | None


class WorkCardOut(WorkOut):
    tags: list[str]
    likes: int
    comments: int
    liked: bool | None
    url: str
    cover_url: str | None


class WorkFeedOut(Schema):
    items: list[WorkCardOut]
    next: int | None
    feed: str
    personalised: bool


class WorkCreateIn(Schema):
    title: str
    script: str = ""
    tags: list[str] = []


class WorkCreatedOut(Schema):
    id: str
    title: str
    status: str


class WorkPatchIn(Schema):
    title: str | None = None
    script: str | None = None
    tags: list[str] | None = None


class WorkOutputOut(Schema):
    kind: str
    slot: str
    url: str


class WorkDetailOut(WorkCardOut):
    tags: list[str]
    outputs: list[WorkOutputOut]


def _invalid(exc: ValidationError) -> ApiError:
    code = getattr(exc, "code", None) or "invalid_request"
    return ApiError(422, str(code), "；".join(exc.messages))


def _forbidden(exc: PermissionDenied) -> ApiError:
    return ApiError(403, "forbidden", str(exc) or "没有权限")


def _work(request: HttpRequest, work_id: uuid.UUID, *, write: bool = False) -> Work:
    try:
        return access_work(request.user, work_id, write=write)
    except Http404:
        raise ApiError(404, "not_found", "作品不存在") from None


def detail_dict(request: HttpRequest, work: Work) -> dict[str, Any]:
    """The contract fields plus counts, tags and the public outputs (video, pages) of a work."""
    from lingjing.studio.actions import chosen_outputs
    from lingjing.studio.models import AssetKind

    listed = feeds.cards_for_ids([work.pk], request.user)
    if listed:
        data = listed[0]
    else:  # the author reading a draft: no counts, no public URL yet
        data = feeds.work_dict(work) | {"tags": list(work.tags), "likes": 0, "comments": 0, "liked": None,
                                        "url": "", "cover_url": None}
    from django.urls import reverse

    outputs = [
        {"kind": a.kind, "slot": a.slot, "url": request.build_absolute_uri(reverse("works:file", args=[work.pk, a.pk]))}
        for a in chosen_outputs(work).values() if a.kind in (AssetKind.VIDEO, AssetKind.PAGE, AssetKind.PDF,
                                                              AssetKind.SRT)
    ]
    data["outputs"] = sorted(outputs, key=lambda o: (o["kind"], o["slot"]))
    return data


@router.get("/works", response=WorkFeedOut, auth=OPTIONAL_AUTH, summary="作品广场（公开，无需登录）")
def list_works(request: HttpRequest, page: int = 1,
               feed: Literal["latest", "recommended", "following"] = "latest") -> dict[str, Any]:
    """Published works, newest first (``feed=latest``); ``recommended`` ranks recent works by interactions,
    personalised only with the caller's consent; ``following`` lists the authors the caller follows."""
    result = feeds.feed(feed, request, page, viewer=request.user)
    return {"items": result.items, "next": result.next_page, "feed": result.feed,
            "personalised": result.personalised}


@router.post("/works", response={201: WorkCreatedOut}, auth=AUTH, summary="创建作品")
def create_work(request: HttpRequest, payload: WorkCreateIn) -> Status[dict[str, Any]]:
    from lingjing.accounts.policy import can_create, denial_reason

    if not can_create(request.user):
        raise ApiError(403, "forbidden", denial_reason(request.user))
    try:
        work = do_create_work(request.user, title=payload.title, script=payload.script, tags=payload.tags,
                              acting_user=request.user)
    except ValidationError as exc:
        raise _invalid(exc) from None
    return Status(201, {"id": str(work.pk), "title": work.title, "status": work.status})


@router.get("/works/{work_id}", response=WorkDetailOut, auth=OPTIONAL_AUTH, summary="作品详情")
def get_work(request: HttpRequest, work_id: uuid.UUID) -> dict[str, Any]:
    return detail_dict(request, _work(request, work_id))


@router.patch("/works/{work_id}", response=WorkDetailOut, auth=AUTH, summary="修改作品")
def patch_work(request: HttpRequest, work_id: uuid.UUID, payload: WorkPatchIn) -> dict[str, Any]:
    work = _work(request, work_id, write=True)
    try:
        do_update_work(work, title=payload.title, script=payload.script, tags=payload.tags,
                       acting_user=request.user)
    except ValidationError as exc:
        raise _invalid(exc) from None
    return detail_dict(request, work)


@router.delete("/works/{work_id}", response={204: None}, auth=AUTH, summary="删除作品")
def delete_work(request: HttpRequest, work_id: uuid.UUID) -> Status[None]:
    do_delete_work(_work(request, work_id, write=True), acting_user=request.user)
    return Status(204, None)


@router.post("/works/{work_id}/publish", response=WorkDetailOut, auth=AUTH, summary="发布作品（所有人可见）")
def publish(request: HttpRequest, work_id: uuid.UUID) -> dict[str, Any]:
    """Publish: the work becomes visible to everyone and searchable. A title or tag the moderation filter
    refuses answers 422 ``moderation_blocked`` with a decision id the author can have reviewed."""
    work = _work(request, work_id, write=True)
    try:
        result = do_publish_work(work, acting_user=request.user)
    except PermissionDenied as exc:
        raise _forbidden(exc) from None
    except ValidationError as exc:
        raise _invalid(exc) from None
    if not result.published:
        raise ApiError(422, "moderation_blocked",
                       f"作品标题或标签未通过自动审核，暂未公开。可在隐私中心“自动化决策”查看说明并申请人工复核"
                       f"（决定编号 {result.decision.pk}）。")
    return detail_dict(request, work)


@router.post("/works/{work_id}/unpublish", response=WorkDetailOut, auth=AUTH, summary="下架作品")
def unpublish(request: HttpRequest, work_id: uuid.UUID) -> dict[str, Any]:
    work = _work(request, work_id, write=True)
    if work.status != WorkStatus.PUBLISHED:
        raise ApiError(409, "not_published", "作品未发布")
    do_unpublish_work(work, acting_user=request.user)
    return detail_dict(request, work)
