"""Access chokepoints of the community app: comments through the work they belong to, people by id for follows,
moderation cases for moderators only. Everyone else gets 404 (pages) / ``not_found`` (API)."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404

from lingjing.community.models import Comment, CommentStatus, ModerationCase
from lingjing.works.access import access_work
from lingjing.works.models import Work


def _pk(value: Any) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (TypeError, ValueError):
        raise Http404("不存在") from None


def visible_comments(work: Work, viewer: Any) -> QuerySet[Comment]:
    """The comments everyone sees under a work, plus the viewer's own hidden ones (they are told why)."""
    shown = Q(status=CommentStatus.VISIBLE)
    if getattr(viewer, "is_authenticated", False):
        shown |= Q(author_id=viewer.pk)
    return Comment.objects.filter(shown, work=work).select_related("author").order_by("created_at")


def access_comment(user: Any, comment_id: Any, *, write: bool = False) -> Comment:
    """A comment under a work ``user`` may see, that ``user`` may see (visible, or their own)."""
    comment = Comment.objects.filter(pk=_pk(comment_id)).select_related("work", "author").first()
    if comment is None:
        raise Http404("评论不存在")
    access_work(user, comment.work_id)
    is_author = getattr(user, "is_authenticated", False) and comment.author_id == user.pk
    if comment.status != CommentStatus.VISIBLE and not is_author:
        raise Http404("评论不存在")
    return comment


def access_profile(user: Any, user_id: Any) -> Any:
    """A person others may follow: an active account (not one being closed or erased)."""
    from lingjing.accounts.models import User, UserStatus

    person = User.objects.filter(pk=_pk(user_id), status=UserStatus.ACTIVE).first()
    if person is None:
        raise Http404("用户不存在")
    return person


def access_case(user: Any, case_id: Any, *, write: bool = False) -> ModerationCase:
    """A moderation case, for moderators (staff with ``community.moderate_content``)."""
    from lingjing.community.actions import is_moderator

    if not is_moderator(user):
        raise Http404("工单不存在")
    case = (ModerationCase.objects.filter(pk=_pk(case_id))
            .select_related("work", "work__author", "comment", "comment__author", "target_author", "decision")
            .first())
    if case is None:
        raise Http404("工单不存在")
    return case
