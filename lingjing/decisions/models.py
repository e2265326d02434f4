"""The automated-decision log (policy 五(七); PIPL art. 24, 55; NDR art. 42).

* :class:`Decision` — one automated outcome that affects a person (a risk block, a moderation action, a
  recommendation profile), with a non-sensitive summary of its inputs, the rule or model version, and an
  explanation in Chinese and English written when the decision is made.
* :class:`ReviewRequest` — the person asks a human to look again (an appeal), or the system asks one because the
  person refused decisions made solely by automation; staff uphold or overturn it, with a reason.
* :class:`AutomationChoice` — the person's per-kind refusal of decisions made solely by automation
  (``allows_solely_automated``).

Decisions and reviews are records of processing (PIPL art. 55/56: kept at least three years), so erasure keeps
them for that time; the person's own words in an appeal are sealed under their key and become unreadable then.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from lingjing.privacy.registry import PD, NonPersonal, Retention, RowErase, declare
from lingjing.security.crypto import SealedField

RECORD_DAYS = 3 * 366  # PIPL art. 56: at least three years
_RECORD = Retention.for_days(RECORD_DAYS)


class DecisionKind(models.TextChoices):
    RISK = "risk", "风险控制"
    MODERATION = "moderation", "内容审核"
    RECOMMENDATION = "recommendation", "个性化推荐"
    ACCOUNT = "account", "账号处理"
    OTHER = "other", "其他"


KIND_EN = {
    DecisionKind.RISK: "Risk control",
    DecisionKind.MODERATION: "Content moderation",
    DecisionKind.RECOMMENDATION: "Personalised recommendation",
    DecisionKind.ACCOUNT: "Account handling",
    DecisionKind.OTHER: "Other",
}


class DecisionStatus(models.TextChoices):
    IN_FORCE = "in_force", "已生效"
    AWAITING_HUMAN = "awaiting_human", "待人工决定"  # the person refused solely automated decisions of this kind
    UNDER_REVIEW = "under_review", "复核中"
    UPHELD = "upheld", "复核后维持"
    OVERTURNED = "overturned", "复核后撤销"


STATUS_EN = {
    DecisionStatus.IN_FORCE: "In force",
    DecisionStatus.AWAITING_HUMAN: "Waiting for a person to decide",
    DecisionStatus.UNDER_REVIEW: "Under review",
    DecisionStatus.UPHELD: "Upheld after review",
    DecisionStatus.OVERTURNED: "Overturned after review",
}

_DECISION_PD = PD("privacy.decision", ("rights", "compliance"), "legal_duty", _RECORD,
                  note="PIPL art. 55-56: record of automated decision-making, kept three years")


@declare(
    subject="subject",
    fields={
        "kind": _DECISION_PD,
        "outcome": _DECISION_PD,
        "inputs": _DECISION_PD,
        "rule_version": _DECISION_PD,
        "explanation_zh": _DECISION_PD,
        "explanation_en": _DECISION_PD,
        "made_at": _DECISION_PD,
        "solely_automated": _DECISION_PD,
        "significant": _DECISION_PD,
        "object_ref": _DECISION_PD,
        "status": _DECISION_PD,
    },
    non_personal=NonPersonal(["id", "subject"], why="pseudonymous ids"),
    on_erase=RowErase.KEEP,
    keep_days=RECORD_DAYS,
    erase_order=30,
)
class Decision(models.Model):
    """One automated outcome affecting one person. Written only by ``record_decision`` and the review actions."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="automated_decisions"
    )
    kind = models.CharField(max_length=20, choices=DecisionKind.choices)
    outcome = models.CharField(max_length=60)  # e.g. "work_hidden", "login_blocked", "feed_profile_built"
    # A non-sensitive summary of what the decision looked at (signal names, scores, counts), never raw content.
    inputs = models.JSONField(default=dict)
    rule_version = models.CharField(max_length=80)
    explanation_zh = models.TextField()
    explanation_en = models.TextField(blank=True)
    made_at = models.DateTimeField(default=timezone.now, db_index=True)
    solely_automated = models.BooleanField(default=True)
    significant = models.BooleanField(default=False)  # significantly affects the person's rights (PIPL art. 24)
    object_ref = models.CharField(max_length=80, blank=True)  # what it was about, e.g. "work:<uuid>"
    status = models.CharField(max_length=16, choices=DecisionStatus.choices, default=DecisionStatus.IN_FORCE)

    class Meta:
        ordering: ClassVar = ["-made_at"]
        indexes: ClassVar = [models.Index(fields=["subject", "-made_at"], name="decisions_subject_made")]
        verbose_name = "自动化决策"
        verbose_name_plural = "自动化决策"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.outcome}"

    @property
    def effective(self) -> bool:
        """Whether the outcome should take effect now (features check this before acting on it)."""
        return self.status in (DecisionStatus.IN_FORCE, DecisionStatus.UPHELD, DecisionStatus.UNDER_REVIEW)

    def explanation(self, lang: str = "zh") -> str:
        return (self.explanation_en or self.explanation_zh) if lang.startswith("en") else self.explanation_zh

    def to_dict(self, lang: str = "zh") -> dict[str, Any]:
        en = lang.startswith("en")
        return {
            "id": str(self.id),
            "kind": self.kind,
            "kind_label": KIND_EN[DecisionKind(self.kind)] if en else self.get_kind_display(),
            "outcome": self.outcome,
            "inputs": dict(self.inputs),
            "rule_version": self.rule_version,
            "explanation": self.explanation(lang),
            "made_at": self.made_at.isoformat(),
            "solely_automated": self.solely_automated,
            "significant": self.significant,
            "object_ref": self.object_ref,
            "status": self.status,
            "status_label": STATUS_EN[DecisionStatus(self.status)] if en else self.get_status_display(),
            "effective": self.effective,
        }


class ReviewOrigin(models.TextChoices):
    APPEAL = "appeal", "当事人申请复核"
    REFUSAL = "refusal", "当事人拒绝仅由自动化作出决定"


class ReviewStatus(models.TextChoices):
    OPEN = "open", "待处理"
    UPHELD = "upheld", "维持"
    OVERTURNED = "overturned", "撤销"


_REVIEW_PD = PD("privacy.decision", ("rights",), "legal_duty", _RECORD)


@declare(
    subject="requester",
    fields={
        "origin": _REVIEW_PD,
        "reason": PD("privacy.decision", ("rights",), "legal_duty", _RECORD, note="the person's own words, sealed"),
        "created_at": _REVIEW_PD,
        "status": _REVIEW_PD,
        "handled_at": _REVIEW_PD,
        "resolution": _REVIEW_PD,
    },
    non_personal=NonPersonal(["id", "decision", "requester", "handled_by"], why="pseudonymous ids"),
    on_erase=RowErase.KEEP,
    keep_days=RECORD_DAYS,
    erase_order=25,
)
class ReviewRequest(models.Model):
    """A human look at one decision (PIPL art. 24(3); policy 五(七): "适当的救济方式")."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    decision = models.ForeignKey(Decision, on_delete=models.CASCADE, related_name="reviews")
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    origin = models.CharField(max_length=10, choices=ReviewOrigin.choices, default=ReviewOrigin.APPEAL)
    reason = SealedField(owner="requester")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    status = models.CharField(max_length=12, choices=ReviewStatus.choices, default=ReviewStatus.OPEN)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    handled_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True)  # the reviewer's reason, shown to the person

    class Meta:
        ordering: ClassVar = ["created_at"]
        permissions: ClassVar = [("handle_reviewrequest", "处理自动化决策复核")]
        verbose_name = "决策复核"
        verbose_name_plural = "决策复核"

    def __str__(self) -> str:
        return f"review {str(self.pk)[:8]} ({self.status})"


@declare(
    subject="user",
    fields={
        "kind": PD("privacy.decision", ("rights",), "legal_duty", Retention.account()),
        "refuse": PD("privacy.decision", ("rights",), "legal_duty", Retention.account()),
        "updated_at": PD("privacy.decision", ("rights",), "legal_duty", Retention.account()),
    },
    non_personal=NonPersonal(["id", "user"], why="pseudonymous ids"),
    on_erase=RowErase.DELETE,
    erase_order=20,
)
class AutomationChoice(models.Model):
    """The person refuses (or accepts again) decisions of one kind made solely by automation."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="automation_choices")
    kind = models.CharField(max_length=20, choices=DecisionKind.choices)
    refuse = models.BooleanField(default=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [models.UniqueConstraint(fields=["user", "kind"], name="decisions_choice_once")]
