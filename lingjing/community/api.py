"""Community API: comments, likes, follows, reports; the caller's interest tags and feed choice (NDR art. 42)."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest
from ninja import Router, Schema
from ninja.responses import Status
from pydantic import StrictBool

from lingjing.api import AUTH, ApiError, PageNumber
from lingjing.community import actions, recommend
from lingjing.community.access import access_comment, access_profile, visible_comments
from lingjing.community.models import Comment
from lingjing.works.access import access_work
from lingjing.works.api import OPTIONAL_AUTH, WorkAuthorOut
from lingjing.works.feed import author_dict
from lingjing.works.models import Work

PREFIX = "/"
router = Router(tags=["community"])
COMMENTS_PAGE = 50


class CommunityCommentOut(Schema):
    id: str
    body: str  # sanitised HTML (a few inline tags)
    status: str
    created_at: str
    author: WorkAuthorOut


class CommunityCommentsOut(Schema):
    items: list[CommunityCommentOut]
    next: int | None


class CommunityCommentIn(Schema):
    body: str


class CommunityLikeOut(Schema):
    liked: bool
    likes: int


class CommunityFollowOut(Schema):
    following: bool
    followers: int


class CommunityReportIn(Schema):
    work_id: uuid.UUID
    comment_id: uuid.UUID | None = None
    reason: Literal["spam", "illegal", "porn", "abuse", "infringement", "minors", "other"]
    detail: str = ""


class CommunityReportOut(Schema):
    id: str
    case_status: str


class CommunityInterestOut(Schema):
    tag: str
    weight: float


class CommunityInterestsOut(Schema):
    items: list[CommunityInterestOut]
    learning: bool  # whether new likes and comments are learnt from now (consent, no DNT/GPC, not refused)
    personalised: bool  # the caller's feed choice


class CommunityFeedChoiceIn(Schema):
    personalised: StrictBool


class CommunityDeletedOut(Schema):
    deleted: int


def _public_work(request: HttpRequest, work_id: uuid.UUID) -> Work:
    try:
        return access_work(request.user, work_id)
    except Http404:
        raise ApiError(404, "not_found", "作品不存在") from None


def _comment(request: HttpRequest, comment_id: uuid.UUID) -> Comment:
    try:
        return access_comment(request.user, comment_id)
    except Http404:
        raise ApiError(404, "not_found", "评论不存在") from None


def _fail(exc: Exception) -> ApiError:
    if isinstance(exc, PermissionDenied):
        return ApiError(403, "forbidden", str(exc) or "没有权限")
    assert isinstance(exc, ValidationError)
    return ApiError(422, str(getattr(exc, "code", None) or "invalid_request"), "；".join(exc.messages))


def comment_dict(comment: Comment) -> dict[str, Any]:
    return {"id": str(comment.pk), "body": comment.body, "status": comment.status,
            "created_at": comment.created_at.isoformat(), "author": author_dict(comment.author)}


@router.get("/works/{work_id}/comments", response=CommunityCommentsOut, auth=OPTIONAL_AUTH, summary="作品评论")
def list_comments(request: HttpRequest, work_id: uuid.UUID, page: PageNumber = 1) -> dict[str, Any]:
    work = _public_work(request, work_id)
    page = max(page, 1)
    start = (page - 1) * COMMENTS_PAGE
    rows = list(visible_comments(work, request.user)[start:start + COMMENTS_PAGE + 1])
    return {"items": [comment_dict(c) for c in rows[:COMMENTS_PAGE]],
            "next": page + 1 if len(rows) > COMMENTS_PAGE else None}


@router.post("/works/{work_id}/comments", response={201: CommunityCommentOut}, auth=AUTH, summary="发表评论")
def post_comment(request: HttpRequest, work_id: uuid.UUID, payload: CommunityCommentIn) -> Status[dict[str, Any]]:
    """Plain text with a few inline marks (``b i em strong code del`` and http(s) links); anything else is
    removed. The automated filter may hide the comment: ``status`` is then ``hidden`` (see the decision)."""
    work = _public_work(request, work_id)
    try:
        comment = actions.do_post_comment(work, request.user, payload.body,
                                          learn=recommend.personalisation_allowed(request.user, request),
                                          acting_user=request.user)
    except (PermissionDenied, ValidationError) as exc:
        raise _fail(exc) from None
    return Status(201, comment_dict(comment))


@router.delete("/comments/{comment_id}", response={204: None}, auth=AUTH, summary="删除评论")
def delete_comment(request: HttpRequest, comment_id: uuid.UUID) -> Status[None]:
    comment = _comment(request, comment_id)
    try:
        actions.do_delete_comment(comment, acting_user=request.user)
    except PermissionDenied as exc:
        raise _fail(exc) from None
    return Status(204, None)


def _like_state(request: HttpRequest, work: Work) -> dict[str, Any]:
    from lingjing.community.models import Like

    return {"liked": Like.objects.filter(user_id=str(request.user.pk), work=work).exists(),
            "likes": Like.objects.filter(work=work).count()}


@router.post("/works/{work_id}/like", response=CommunityLikeOut, auth=AUTH, summary="点赞")
def like(request: HttpRequest, work_id: uuid.UUID) -> dict[str, Any]:
    work = _public_work(request, work_id)
    try:
        actions.do_like_work(request.user, work, learn=recommend.personalisation_allowed(request.user, request),
                             acting_user=request.user)
    except (PermissionDenied, ValidationError) as exc:
        raise _fail(exc) from None
    return _like_state(request, work)


@router.delete("/works/{work_id}/like", response=CommunityLikeOut, auth=AUTH, summary="取消点赞")
def unlike(request: HttpRequest, work_id: uuid.UUID) -> dict[str, Any]:
    work = _public_work(request, work_id)
    actions.do_unlike_work(request.user, work, learn=recommend.personalisation_allowed(request.user, request),
                           acting_user=request.user)
    return _like_state(request, work)


def _follow_state(request: HttpRequest, author: Any) -> dict[str, Any]:
    from lingjing.community.models import Follow

    return {"following": Follow.objects.filter(follower_id=request.user.pk, followee=author).exists(),
            "followers": Follow.objects.filter(followee=author).count()}


@router.post("/users/{user_id}/follow", response=CommunityFollowOut, auth=AUTH, summary="关注作者")
def follow(request: HttpRequest, user_id: uuid.UUID) -> dict[str, Any]:
    try:
        author = access_profile(request.user, user_id)
        actions.do_follow(request.user, author, acting_user=request.user)
    except Http404:
        raise ApiError(404, "not_found", "用户不存在") from None
    except (PermissionDenied, ValidationError) as exc:
        raise _fail(exc) from None
    return _follow_state(request, author)


@router.delete("/users/{user_id}/follow", response=CommunityFollowOut, auth=AUTH, summary="取消关注")
def unfollow(request: HttpRequest, user_id: uuid.UUID) -> dict[str, Any]:
    try:
        author = access_profile(request.user, user_id)
    except Http404:
        raise ApiError(404, "not_found", "用户不存在") from None
    actions.do_unfollow(request.user, author, acting_user=request.user)
    return _follow_state(request, author)


@router.post("/reports", response={201: CommunityReportOut}, auth=AUTH, summary="举报作品或评论")
def report(request: HttpRequest, payload: CommunityReportIn) -> Status[dict[str, Any]]:
    work = _public_work(request, payload.work_id)
    comment = None
    if payload.comment_id is not None:
        comment = _comment(request, payload.comment_id)
        if comment.work_id != work.pk:
            raise ApiError(404, "not_found", "评论不存在")
    try:
        row = actions.do_report(request.user, work=work, comment=comment, reason=payload.reason,
                                detail=payload.detail, acting_user=request.user)
    except (PermissionDenied, ValidationError) as exc:
        raise _fail(exc) from None
    return Status(201, {"id": str(row.pk), "case_status": row.case.status})


@router.get("/me/interests", response=CommunityInterestsOut, auth=AUTH, summary="我的兴趣标签")
def interests(request: HttpRequest) -> dict[str, Any]:
    """Every interest tag kept about the caller, with its current weight (NDR art. 42: see and delete them)."""
    return {"items": [{"tag": t, "weight": w} for t, w, _ in recommend.interests(request.user)],
            "learning": recommend.consents(request.user, request),
            "personalised": recommend.prefers_personalised(request.user)}


@router.delete("/me/interests", response=CommunityDeletedOut, auth=AUTH, summary="删除全部兴趣标签")
def delete_interests(request: HttpRequest) -> dict[str, int]:
    return {"deleted": actions.do_delete_interests(request.user, acting_user=request.user)}


@router.delete("/me/interests/{tag}", response=CommunityDeletedOut, auth=AUTH, summary="删除一个兴趣标签")
def delete_interest(request: HttpRequest, tag: str) -> dict[str, int]:
    count = actions.do_delete_interests(request.user, tags=[tag], acting_user=request.user)
    if not count:
        raise ApiError(404, "not_found", "没有这个兴趣标签")
    return {"deleted": count}


@router.put("/me/feed-preference", response=CommunityFeedChoiceIn, auth=AUTH, summary="推荐方式（个性化或非个性化）")
def feed_preference(request: HttpRequest, payload: CommunityFeedChoiceIn) -> dict[str, bool]:
    pref = actions.do_set_feed_preference(request.user, personalised=payload.personalised, acting_user=request.user)
    return {"personalised": pref.personalised}
