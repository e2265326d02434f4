"""Community: comments, likes, follows, reports and the moderation queue, interest tags and the feed choice.

* :class:`Comment` — public text under a published work, sanitised on the way in (``community.text``).
* :class:`Like`, :class:`Follow` — interactions; counted on the cards, learnt from only with consent.
* :class:`Report` → :class:`ModerationCase` — reports of a work or a comment gather in one open case per
  target, the queue of the ``content_moderator`` role. A decision on a case, and every automated filter hit,
  is recorded in the decisions app (``record_decision``), where the affected person reads the explanation
  and asks for a human review (appeal); the review's outcome comes back through ``decision_reviewed``.
* :class:`BlockedTerm` — the keyword list of the automated filter, kept by moderators.
* :class:`InterestTag` — what personalised recommendation learnt about a person, only with their consent;
  they see and delete the tags on ``/me/interests`` (NDR art. 42). :class:`FeedPreference` — their one-click
  choice of a feed that does not use their personal traits.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from lingjing.privacy.registry import PD, NonPersonal, Retention, RowErase, declare
from lingjing.security.crypto import SealedField
from lingjing.works.models import Work

_ACCOUNT = Retention.account()
_INTERACTION = PD("content.comment", ("content",), "contract", _ACCOUNT)
RECORD_DAYS = 3 * 366  # moderation records, like the decisions they lead to (PIPL art. 56)
COMMENT_MAX = 1000


class CommentStatus(models.TextChoices):
    VISIBLE = "visible", "可见"
    HIDDEN = "hidden", "已被自动隐藏"
    REMOVED = "removed", "已被移除"


@declare(
    subject="author",
    fields={
        "body": PD("content.comment", ("content",), "contract", _ACCOUNT,
                   note="sanitised with nh3 (a few inline tags, no attributes but safe links)"),
        "status": _INTERACTION,
        "created_at": _INTERACTION,
    },
    non_personal=NonPersonal(["id", "work", "author"], why="pseudonymous ids"),
    erase_order=20,
)
class Comment(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    work = models.ForeignKey(Work, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="comments")
    body = models.TextField()
    status = models.CharField(max_length=10, choices=CommentStatus.choices, default=CommentStatus.VISIBLE)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["created_at"]
        indexes: ClassVar = [
            models.Index(fields=["work", "status", "created_at"], name="community_comment_work"),
            models.Index(fields=["author", "-created_at"], name="community_comment_author"),
        ]
        verbose_name = "评论"
        verbose_name_plural = "评论"

    def __str__(self) -> str:
        return f"comment {str(self.pk)[:8]}"


@declare(
    subject="user",
    fields={"created_at": _INTERACTION},
    non_personal=NonPersonal(["id", "user", "work"], why="pseudonymous ids"),
    erase_order=20,
)
class Like(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="likes")
    work = models.ForeignKey(Work, on_delete=models.CASCADE, related_name="likes")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [models.UniqueConstraint(fields=["user", "work"], name="community_like_once")]
        indexes: ClassVar = [models.Index(fields=["work"], name="community_like_work")]
        verbose_name = "点赞"
        verbose_name_plural = "点赞"

    def __str__(self) -> str:
        return f"like {self.pk}"


@declare(
    subject="follower",
    fields={"followee": _INTERACTION, "created_at": _INTERACTION},
    non_personal=NonPersonal(["id", "follower"], why="pseudonymous ids"),
    erase_order=20,
)
class Follow(models.Model):
    follower = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="following")
    followee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="followers")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["follower", "followee"], name="community_follow_once"),
            models.CheckConstraint(condition=~Q(follower=models.F("followee")), name="community_no_self_follow"),
        ]
        verbose_name = "关注"
        verbose_name_plural = "关注"

    def __str__(self) -> str:
        return f"follow {self.pk}"


# --- reports and moderation -------------------------------------------------------------------------------


class CaseStatus(models.TextChoices):
    OPEN = "open", "待处理"
    DECIDED = "decided", "已处理"


class CaseOutcome(models.TextChoices):
    NONE = "", "—"
    REMOVED = "removed", "移除"
    DISMISSED = "dismissed", "不予处理"


_CASE = PD("privacy.decision", ("compliance",), "legal_duty", Retention.for_days(RECORD_DAYS),
           note="a moderation record about the person's content")


@declare(
    subject="target_author",
    fields={
        "status": _CASE,
        "outcome": _CASE,
        "resolution": _CASE,
        "opened_at": _CASE,
        "decided_at": _CASE,
        "report_count": _CASE,
    },
    non_personal=NonPersonal(["id", "work", "comment", "target_author", "handled_by", "decision"],
                             why="pseudonymous ids"),
    on_erase=RowErase.KEEP,
    keep_days=RECORD_DAYS,
    erase_order=40,
)
class ModerationCase(models.Model):
    """One target (a work, or a comment of a work) in the moderation queue. At most one open case per target."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    work = models.ForeignKey(Work, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    comment = models.ForeignKey(Comment, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    target_author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="+")
    status = models.CharField(max_length=8, choices=CaseStatus.choices, default=CaseStatus.OPEN, db_index=True)
    outcome = models.CharField(max_length=10, choices=CaseOutcome.choices, default=CaseOutcome.NONE, blank=True)
    resolution = models.TextField(blank=True)  # the moderator's reason, shown to the author with the decision
    report_count = models.PositiveIntegerField(default=0)
    opened_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decision = models.ForeignKey("decisions.Decision", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")

    class Meta:
        ordering: ClassVar = ["opened_at"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["work"], condition=Q(status="open", comment__isnull=True),
                                    name="community_case_open_work"),
            models.UniqueConstraint(fields=["comment"], condition=Q(status="open", comment__isnull=False),
                                    name="community_case_open_comment"),
            models.CheckConstraint(condition=Q(work__isnull=False), name="community_case_has_work"),
        ]
        permissions: ClassVar = [("moderate_content", "审核内容（处理举报、移除作品和评论）")]
        verbose_name = "审核工单"
        verbose_name_plural = "审核工单"

    def __str__(self) -> str:
        return f"case {str(self.pk)[:8]} ({self.status})"

    @property
    def target_kind(self) -> str:
        return "comment" if self.comment_id else "work"


class ReportReason(models.TextChoices):
    SPAM = "spam", "垃圾广告"
    ILLEGAL = "illegal", "违法违规"
    PORN = "porn", "色情低俗"
    ABUSE = "abuse", "辱骂攻击"
    INFRINGEMENT = "infringement", "侵权"
    MINORS = "minors", "危害未成年人"
    OTHER = "other", "其他"


@declare(
    subject="reporter",
    fields={
        "detail": PD("content.comment", ("content", "compliance"), "legal_duty", _ACCOUNT,
                     note="the reporter's own words, sealed"),
    },
    non_personal=NonPersonal(["id", "case", "reporter", "reason", "created_at"],
                             why="pseudonymous ids; the reason is a category of the reported content and the time "
                                 "belongs to the case, which outlives the reporter's link"),
    on_erase=RowErase.ANONYMISE,
    erase_order=35,
)
class Report(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(ModerationCase, on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    reason = models.CharField(max_length=16, choices=ReportReason.choices)
    detail = SealedField(owner="reporter")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["created_at"]
        constraints: ClassVar = [models.UniqueConstraint(fields=["case", "reporter"], name="community_report_once")]
        verbose_name = "举报"
        verbose_name_plural = "举报"

    def __str__(self) -> str:
        return f"report {str(self.pk)[:8]} ({self.reason})"


@declare(non_personal=NonPersonal(["id", "term", "active", "created_at"],
                                  why="the filter's keyword list; no person in it"))
class BlockedTerm(models.Model):
    term = models.CharField(max_length=40, unique=True)  # stored normalised (see community.filters)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["term"]
        verbose_name = "屏蔽词"
        verbose_name_plural = "屏蔽词"

    def __str__(self) -> str:
        return self.term


# --- recommendation ---------------------------------------------------------------------------------------

_INTEREST = PD("behaviour.interest", ("recommend",), "consent", Retention.until_withdrawn(),
               note="learnt from likes and comments only with personalised_recommendation consent")


@declare(
    subject="user",
    fields={"tag": _INTEREST, "weight": _INTEREST, "created_at": _INTEREST, "updated_at": _INTEREST},
    non_personal=NonPersonal(["id", "user"], why="pseudonymous ids"),
    erase_order=20,
)
class InterestTag(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="interest_tags")
    tag = models.CharField(max_length=40)
    weight = models.FloatField(default=0.0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["-weight"]
        constraints: ClassVar = [models.UniqueConstraint(fields=["user", "tag"], name="community_interest_once")]
        verbose_name = "兴趣标签"
        verbose_name_plural = "兴趣标签"

    def __str__(self) -> str:
        return self.tag


@declare(
    subject="user",
    fields={
        "personalised": PD("profile.preferences", ("recommend",), "contract", _ACCOUNT),
        "updated_at": PD("profile.preferences", ("recommend",), "contract", _ACCOUNT),
    },
    non_personal=NonPersonal(["user"], why="the pseudonymous id"),
    erase_order=20,
)
class FeedPreference(models.Model):
    """The person's choice between the personalised and the non-personalised recommended feed."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True,
                                related_name="feed_preference")
    personalised = models.BooleanField(default=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "推荐方式"
        verbose_name_plural = "推荐方式"

    def __str__(self) -> str:
        return f"feed preference of {self.user_id}"
