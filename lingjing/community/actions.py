"""Every write of the community app. Each ``do_*`` is one durable transaction with its audit row.

Interest tags are learnt inside the like/comment transaction, and only when the caller passes ``learn=True``
(``community.recommend.personalisation_allowed``: consent, no DNT/GPC, automation not refused, the person's feed
choice) — the action itself never decides to profile anyone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from lingjing.community.models import (
    BlockedTerm,
    CaseOutcome,
    CaseStatus,
    Comment,
    CommentStatus,
    FeedPreference,
    Follow,
    InterestTag,
    Like,
    ModerationCase,
    Report,
    ReportReason,
)
from lingjing.security.audit import AuditEvent, record
from lingjing.works.models import Work, WorkStatus

INTEREST_HALF_LIFE_DAYS = 30.0
INTEREST_MAX_TAGS = 50
LEARN_LIKE = 3.0
LEARN_COMMENT = 2.0
REPORT_DETAIL_MAX = 500
RESOLUTION_MAX = 1000


def _u(user_or_id: Any) -> str:
    pk = getattr(user_or_id, "pk", user_or_id)
    return f"u:{pk}" if pk else ""


def _require_active(user: Any, what: str) -> None:
    from lingjing.accounts.policy import can_create, denial_reason

    if not can_create(user):
        raise PermissionDenied(f"{denial_reason(user)}，暂不能{what}")


def _require_public(work: Work) -> None:
    if work.status != WorkStatus.PUBLISHED:
        raise ValidationError("作品未公开", code="not_public")


def is_moderator(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_staff
                and user.has_perm("community.moderate_content"))


# --- interest tags ----------------------------------------------------------------------------------------


def decayed(weight: float, updated_at: dt.datetime, now: dt.datetime) -> float:
    age_days = max((now - updated_at).total_seconds(), 0.0) / 86400
    return float(weight * 0.5 ** (age_days / INTEREST_HALF_LIFE_DAYS))


def _learn(user: Any, tags: Iterable[str], amount: float) -> int:
    """Add ``amount`` to the person's interest in each tag (inside the caller's transaction)."""
    now = timezone.now()
    names = [t for t in dict.fromkeys(str(t)[:40] for t in tags) if t]
    if not names:
        return 0
    existing = {row.tag: row for row in InterestTag.objects.select_for_update().filter(user=user, tag__in=names)}
    for name in names:
        row = existing.get(name)
        if row is None:
            if amount > 0:
                InterestTag.objects.create(user=user, tag=name, weight=amount, created_at=now, updated_at=now)
            continue
        row.weight = decayed(row.weight, row.updated_at, now) + amount
        row.updated_at = now
        if row.weight <= 0.05:
            row.delete()
        else:
            row.save(update_fields=["weight", "updated_at"])
    extra = list(InterestTag.objects.filter(user=user).order_by("-weight", "-updated_at")
                 .values_list("pk", flat=True)[INTEREST_MAX_TAGS:])
    if extra:
        InterestTag.objects.filter(pk__in=extra).delete()
    return len(names)


def do_delete_interests(user: Any, *, tags: Iterable[str] | None = None, reason: str = "user",
                        acting_user: Any) -> int:
    """Delete some (``tags``) or all of the interest tags kept about ``user`` (NDR art. 42)."""
    with transaction.atomic(durable=True):
        rows = InterestTag.objects.filter(user=user)
        if tags is not None:
            rows = rows.filter(tag__in=list(tags))
        count, _ = rows.delete()
        record(AuditEvent.INTERESTS_DELETED, acting_user=acting_user, subject=_u(user),
               details={"count": count, "all": tags is None, "reason": reason})
    return count


def do_set_feed_preference(user: Any, *, personalised: bool, acting_user: Any) -> FeedPreference:
    with transaction.atomic(durable=True):
        pref, _ = FeedPreference.objects.select_for_update().get_or_create(user=user)
        pref.personalised = personalised
        pref.updated_at = timezone.now()
        pref.save(update_fields=["personalised", "updated_at"])
        record(AuditEvent.FEED_PREFERENCE_CHANGED, acting_user=acting_user, subject=_u(user),
               details={"personalised": personalised})
    return pref


# --- comments ---------------------------------------------------------------------------------------------


def do_post_comment(work: Work, author: Any, body: str, *, learn: bool = False, acting_user: Any) -> Comment:
    """Post a comment under a published work. The text is sanitised; the automated filter may hide it (an
    automated decision the author can have reviewed)."""
    from lingjing.community.filters import check_comment
    from lingjing.community.text import sanitise_comment
    from lingjing.decisions.service import record_decision

    _require_active(author, "发表评论")
    clean = sanitise_comment(body)
    with transaction.atomic(durable=True):
        work = Work.objects.select_for_update().get(pk=work.pk)
        _require_public(work)
        verdict = check_comment(author, clean)
        comment = Comment.objects.create(work=work, author=author, body=clean)
        hidden = False
        if verdict:
            zh, en = verdict.explanation("评论", "comment", "评论已被隐藏，仅您自己可见。",
                                         "The comment is hidden; only you can see it.")
            decision = record_decision(
                author, "moderation", outcome="comment_hidden", rule_version="mod-filter-1", explanation_zh=zh,
                explanation_en=en, inputs=verdict.inputs, significant=True, object_ref=f"comment:{comment.pk}",
            )
            if decision.effective:
                comment.status = CommentStatus.HIDDEN
                comment.save(update_fields=["status"])
                hidden = True
        learnt = _learn(author, work.tags, LEARN_COMMENT) if learn and not hidden else 0
        record(AuditEvent.COMMENT_POSTED, acting_user=acting_user, subject=_u(author), obj=comment,
               details={"work": str(work.pk), "chars": len(clean), "filtered": verdict.rule, "hidden": hidden,
                        "interests": learnt})
    return comment


def do_delete_comment(comment: Comment, *, acting_user: Any) -> None:
    """The comment's author, or the work's author under their own work, deletes a comment."""
    allowed = acting_user is not None and acting_user.pk in (comment.author_id, comment.work.author_id)
    if not allowed:
        raise PermissionDenied("只能删除自己的评论或自己作品下的评论")
    with transaction.atomic(durable=True):
        record(AuditEvent.COMMENT_DELETED, acting_user=acting_user, subject=_u(comment.author_id), obj=comment,
               details={"work": str(comment.work_id), "by_work_author": acting_user.pk != comment.author_id})
        comment.delete()


# --- likes and follows ------------------------------------------------------------------------------------


def do_like_work(user: Any, work: Work, *, learn: bool = False, acting_user: Any) -> bool:
    """Like a published work; True when the like is new (liking twice is harmless)."""
    _require_active(user, "点赞")
    _require_public(work)
    with transaction.atomic(durable=True):
        try:
            with transaction.atomic():
                like = Like.objects.create(user=user, work=work)
        except IntegrityError:
            return False
        learnt = _learn(user, work.tags, LEARN_LIKE) if learn else 0
        record(AuditEvent.WORK_LIKED, acting_user=acting_user, subject=_u(user), obj=like,
               details={"work": str(work.pk), "interests": learnt})
    return True


def do_unlike_work(user: Any, work: Work, *, learn: bool = False, acting_user: Any) -> bool:
    with transaction.atomic(durable=True):
        count, _ = Like.objects.filter(user=user, work=work).delete()
        if not count:
            return False
        learnt = _learn(user, work.tags, -LEARN_LIKE) if learn else 0
        record(AuditEvent.WORK_UNLIKED, acting_user=acting_user, subject=_u(user),
               details={"work": str(work.pk), "interests": learnt})
    return True


def do_follow(follower: Any, followee: Any, *, acting_user: Any) -> bool:
    _require_active(follower, "关注")
    if follower.pk == followee.pk:
        raise ValidationError("不能关注自己", code="self")
    with transaction.atomic(durable=True):
        try:
            with transaction.atomic():
                follow = Follow.objects.create(follower=follower, followee=followee)
        except IntegrityError:
            return False
        record(AuditEvent.USER_FOLLOWED, acting_user=acting_user, subject=_u(follower), obj=follow,
               details={"followee": _u(followee)})
    return True


def do_unfollow(follower: Any, followee: Any, *, acting_user: Any) -> bool:
    with transaction.atomic(durable=True):
        count, _ = Follow.objects.filter(follower=follower, followee=followee).delete()
        if count:
            record(AuditEvent.USER_UNFOLLOWED, acting_user=acting_user, subject=_u(follower),
                   details={"followee": _u(followee)})
    return bool(count)


# --- reports and moderation -------------------------------------------------------------------------------


def do_report(reporter: Any, *, work: Work, comment: Comment | None = None, reason: str, detail: str = "",
              acting_user: Any) -> Report:
    """Report a work or a comment. Reports of one target gather in its open case; reporting twice is harmless."""
    if not getattr(reporter, "is_authenticated", False):
        raise PermissionDenied("请先登录")
    if reason not in ReportReason.values:
        raise ValidationError("请选择举报原因", code="reason")
    text = (detail or "").strip()
    if len(text) > REPORT_DETAIL_MAX:
        raise ValidationError(f"说明最多 {REPORT_DETAIL_MAX} 个字", code="too_long")
    target_author = comment.author_id if comment is not None else work.author_id
    if target_author == reporter.pk:
        raise ValidationError("不能举报自己的内容", code="own")
    with transaction.atomic(durable=True):
        case = _open_case(work, comment, target_author)
        report = Report.objects.filter(case=case, reporter=reporter).first()
        if report is not None:
            return report
        report = Report(case=case, reporter=reporter, reason=reason)
        report.detail = text
        report.save(force_insert=True)
        ModerationCase.objects.filter(pk=case.pk).update(report_count=Report.objects.filter(case=case).count())
        record(AuditEvent.CONTENT_REPORTED, acting_user=acting_user, subject=_u(reporter), obj=report,
               details={"case": str(case.pk), "reason": reason, "target": case.target_kind})
    return report


def _open_case(work: Work, comment: Comment | None, target_author: Any) -> ModerationCase:
    rows = ModerationCase.objects.select_for_update().filter(status=CaseStatus.OPEN, work=work)
    rows = rows.filter(comment=comment) if comment is not None else rows.filter(comment__isnull=True)
    case = rows.first()
    if case is not None:
        return case
    case = ModerationCase.objects.create(work=work, comment=comment, target_author_id=target_author)
    record(AuditEvent.MODERATION_CASE_OPENED, actor="system", subject=_u(target_author), obj=case,
           details={"target": case.target_kind, "work": str(work.pk)})
    return case


def do_decide_case(case: ModerationCase, *, remove: bool, resolution: str, acting_user: Any) -> ModerationCase:
    """A moderator decides a case: remove the work or comment (a decision the author sees and can appeal), or
    dismiss the reports. A moderator never decides about their own content."""
    from lingjing.decisions.service import record_decision
    from lingjing.works.publishing import remove_work

    if not is_moderator(acting_user):
        raise PermissionDenied("没有内容审核权限")
    text = (resolution or "").strip()
    if not text:
        raise ValidationError("请写明处理理由（会告知作者）", code="resolution")
    if len(text) > RESOLUTION_MAX:
        raise ValidationError(f"理由最多 {RESOLUTION_MAX} 个字", code="too_long")
    with transaction.atomic(durable=True):
        locked = (ModerationCase.objects.select_for_update(of=("self",)).select_related("work", "comment")
                  .get(pk=case.pk))
        if locked.status != CaseStatus.OPEN:
            raise ValidationError("该工单已处理", code="decided")
        if locked.target_author_id == acting_user.pk:
            raise PermissionDenied("不能审核自己的内容")
        decision = None
        if remove:
            kind = locked.target_kind
            assert locked.work is not None
            if kind == "comment" and locked.comment is not None:
                previous = locked.comment.status
                _set_comment_status(locked.comment, CommentStatus.REMOVED, acting_user=acting_user)
                outcome = "comment_removed"
            else:
                previous = remove_work(locked.work, acting_user=acting_user, case_id=locked.pk)
                outcome = "work_removed"
            reasons = "、".join(sorted({r.get_reason_display() for r in locked.reports.all()})) or "违反社区规范"
            what = "评论" if kind == "comment" else "作品"
            if locked.target_author_id:
                from lingjing.accounts.models import User

                author = User.objects.get(pk=locked.target_author_id)
                decision = record_decision(
                    author, "moderation", outcome=outcome, rule_version="mod-human-1", solely_automated=False,
                    significant=True, object_ref=f"{kind}:{locked.comment_id or locked.work_id}",
                    explanation_zh=f"您的{what}被举报（{reasons}），经审核人员审核后已移除。审核说明：{text}"
                                   "如有异议，可申请复核，由另一位审核人员重新审核。",
                    explanation_en=f"Your {'comment' if kind == 'comment' else 'work'} was reported and removed "
                                   f"after a moderator's review. The moderator's note: {text} You can ask for "
                                   "another moderator to review it.",
                    inputs={"case": str(locked.pk), "reports": locked.report_count, "previous": previous},
                    acting_user=acting_user,
                )
        locked.status = CaseStatus.DECIDED
        locked.outcome = CaseOutcome.REMOVED if remove else CaseOutcome.DISMISSED
        locked.resolution = text
        locked.decided_at = timezone.now()
        locked.handled_by = acting_user
        locked.decision = decision
        locked.save(update_fields=["status", "outcome", "resolution", "decided_at", "handled_by", "decision"])
        record(AuditEvent.MODERATION_DECIDED, acting_user=acting_user, subject=_u(locked.target_author_id),
               obj=locked, details={"outcome": locked.outcome, "target": locked.target_kind,
                                    "decision": str(decision.pk) if decision else ""})
    return locked


def _set_comment_status(comment: Comment, status: str, *, acting_user: Any) -> None:
    previous = comment.status
    if previous == status:
        return
    comment.status = status
    comment.save(update_fields=["status"])
    event = AuditEvent.COMMENT_RESTORED if status == CommentStatus.VISIBLE else AuditEvent.COMMENT_HIDDEN
    record(event, acting_user=acting_user, actor=None if acting_user else "system", subject=_u(comment.author_id),
           obj=comment, details={"previous": previous, "status": status})


def do_apply_review(decision_id: Any, *, upheld: bool) -> str:
    """A moderation decision was reviewed (``decision_reviewed``): make the content match the outcome.

    Upheld: the decision takes (or keeps) effect — this is how a decision that waited for a person because the
    author refused solely automated ones is carried out. Overturned: what it took away is restored. Safe to run
    twice. Returns what was done.
    """
    from lingjing.decisions.models import Decision
    from lingjing.works.publishing import do_publish_work, do_restore_work, do_unpublish_work, remove_work

    decision = Decision.objects.filter(pk=decision_id, kind="moderation").first()
    if decision is None or ":" not in decision.object_ref:
        return "ignored"
    kind, _, target = decision.object_ref.partition(":")
    outcome = decision.outcome
    if kind == "comment":
        comment = Comment.objects.filter(pk=target).first()
        if comment is None:
            return "gone"
        status = {"comment_hidden": CommentStatus.HIDDEN, "comment_removed": CommentStatus.REMOVED}.get(outcome)
        if status is None:
            return "ignored"
        with transaction.atomic(durable=True):
            _set_comment_status(comment, status if upheld else CommentStatus.VISIBLE, acting_user=None)
        return "applied" if upheld else "restored"
    work = Work.objects.filter(pk=target).select_related("author").first()
    if work is None or work.author_id is None:
        return "gone"
    if outcome == "work_removed":
        if upheld:
            with transaction.atomic(durable=True):
                remove_work(work, acting_user=None)
            return "applied"
        previous = str(decision.inputs.get("previous") or WorkStatus.PUBLISHED)
        do_restore_work(work, status=previous, acting_user=None, decision_id=decision.pk)
        return "restored"
    if outcome in ("work_publish_blocked", "work_hidden"):
        if upheld:
            do_unpublish_work(work, acting_user=None, reason="moderation")
            return "applied"
        if work.status in (WorkStatus.UNPUBLISHED, WorkStatus.DRAFT):
            try:
                do_publish_work(work, acting_user=None, screen=False)
            except PermissionDenied:  # the author can no longer publish (closing account): leave it private
                return "author_inactive"
        return "restored"
    return "ignored"


def do_save_blocked_term(term: str, *, active: bool = True, acting_user: Any) -> BlockedTerm:
    from lingjing.community.filters import normalise_term

    if not is_moderator(acting_user):
        raise PermissionDenied("没有内容审核权限")
    norm = normalise_term(term)
    if len(norm) < 2 or len(norm) > 40:
        raise ValidationError("屏蔽词须为 2 到 40 个字（不计空格和标点）", code="term")
    with transaction.atomic(durable=True):
        row, created = BlockedTerm.objects.get_or_create(term=norm, defaults={"active": active})
        if not created and row.active != active:
            row.active = active
            row.save(update_fields=["active"])
        record(AuditEvent.MODERATION_TERM_SAVED, acting_user=acting_user, obj=row,
               details={"active": active, "created": created})
    return row
