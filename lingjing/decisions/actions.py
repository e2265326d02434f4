"""Every write of the decisions app: recording a decision, reviews, the per-person refusal switch."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from lingjing.decisions.models import (
    AutomationChoice,
    Decision,
    DecisionKind,
    DecisionStatus,
    ReviewOrigin,
    ReviewRequest,
    ReviewStatus,
)
from lingjing.security.audit import AuditEvent, record

INPUTS_MAX_CHARS = 2000
REASON_MAX_CHARS = 1000


class AutomationRefused(Exception):
    """The person refused personalised recommendation by automated means (PIPL art. 24(2)); do not profile them."""


def allows_solely_automated(user: Any, kind: str) -> bool:
    """Whether decisions of ``kind`` about ``user`` may be made solely by automation (PIPL art. 24).

    False once the person refused them. Features ask before acting: a refused risk or moderation decision waits
    for a person (``record_decision`` queues it), a refused recommendation means the non-personalised feed.
    """
    if user is None or not getattr(user, "pk", None):
        return True
    return not AutomationChoice.objects.filter(user_id=user.pk, kind=kind, refuse=True).exists()


def _clean_inputs(inputs: Mapping[str, Any] | None) -> dict[str, Any]:
    data = dict(inputs or {})
    text = json.dumps(data, ensure_ascii=False, default=str)
    if len(text) > INPUTS_MAX_CHARS:
        raise ValidationError("决策输入只能记录摘要（信号名称、分数、计数），不能记录原始内容")
    return json.loads(text)  # type: ignore[no-any-return]


def record_decision(
    subject: Any,
    kind: str,
    *,
    outcome: str,
    rule_version: str,
    explanation_zh: str,
    explanation_en: str = "",
    inputs: Mapping[str, Any] | None = None,
    solely_automated: bool = True,
    significant: bool = False,
    object_ref: str = "",
    acting_user: Any = None,
) -> Decision:
    """Log one automated decision about ``subject``; other apps call this when they decide.

    1. Every decision carries its explanation, written by the rule that made it (zh required, en optional), the
       rule or model version, and a non-sensitive summary of the inputs.
    2. A significant decision made solely by automation, for a person who refused those for ``kind``, is not in
       force: it is stored ``awaiting_human`` with a review opened for staff (PIPL art. 24(3)). Check
       ``decision.effective`` before acting on the outcome.
    3. A personalised recommendation for a person who refused it raises :class:`AutomationRefused`.

    Joins the caller's transaction when there is one, so the decision and the change it causes commit together.
    """
    if kind not in DecisionKind.values:
        raise ValidationError(f"未知的决策类型：{kind}")
    if not explanation_zh.strip():
        raise ValidationError("自动化决策必须附带说明")
    if not outcome.strip() or not rule_version.strip():
        raise ValidationError("自动化决策必须记录结果和规则版本")
    refused = solely_automated and not allows_solely_automated(subject, kind)
    if refused and kind == DecisionKind.RECOMMENDATION:
        raise AutomationRefused("用户已关闭个性化推荐")
    queue = refused and significant
    with transaction.atomic():
        decision = Decision.objects.create(
            subject=subject,
            kind=kind,
            outcome=outcome.strip()[:60],
            inputs=_clean_inputs(inputs),
            rule_version=rule_version.strip()[:80],
            explanation_zh=explanation_zh.strip(),
            explanation_en=explanation_en.strip(),
            solely_automated=solely_automated,
            significant=significant,
            object_ref=object_ref[:80],
            status=DecisionStatus.AWAITING_HUMAN if queue else DecisionStatus.IN_FORCE,
        )
        if queue:
            ReviewRequest.objects.create(decision=decision, requester=subject, origin=ReviewOrigin.REFUSAL)
        record(
            AuditEvent.DECISION_RECORDED,
            acting_user=acting_user,
            subject=f"u:{subject.pk}",
            obj=decision,
            details={"kind": kind, "outcome": decision.outcome, "rule_version": decision.rule_version,
                     "significant": significant, "solely_automated": solely_automated, "queued": queue},
        )
    return decision


def do_request_review(decision: Decision, *, reason: str, acting_user: Any) -> ReviewRequest:
    """The person asks a human to review one of their decisions (policy 五(七): a remedy)."""
    if acting_user is None or acting_user.pk != decision.subject_id:
        raise PermissionDenied("只能对关于自己的决定申请复核")
    text = reason.strip()
    if not text:
        raise ValidationError({"reason": ["请说明申请复核的理由"]})
    if len(text) > REASON_MAX_CHARS:
        raise ValidationError({"reason": [f"理由最多 {REASON_MAX_CHARS} 字"]})
    with transaction.atomic(durable=True):
        locked = Decision.objects.select_for_update().get(pk=decision.pk)
        if locked.reviews.filter(status=ReviewStatus.OPEN).exists():
            raise ValidationError("该决定已在人工复核中")
        if locked.status in (DecisionStatus.OVERTURNED,) or locked.reviews.filter(origin=ReviewOrigin.APPEAL).exists():
            raise ValidationError("该决定已经人工复核，不能重复申请")
        review = ReviewRequest(decision=locked, requester=acting_user, origin=ReviewOrigin.APPEAL)
        review.reason = text
        review.save(force_insert=True)
        locked.status = DecisionStatus.UNDER_REVIEW
        locked.save(update_fields=["status"])
        record(AuditEvent.DECISION_REVIEW_REQUESTED, acting_user=acting_user, subject=f"u:{acting_user.pk}",
               obj=review, details={"decision": str(locked.pk), "kind": locked.kind},
               personal={"reason": text})
    return review


def do_resolve_review(review: ReviewRequest, *, uphold: bool, reason: str, acting_user: Any) -> ReviewRequest:
    """Staff decide a review: uphold or overturn the decision, with a reason the person will read."""
    from lingjing.decisions.signals import decision_reviewed

    if not (getattr(acting_user, "is_authenticated", False) and acting_user.is_staff
            and acting_user.has_perm("decisions.handle_reviewrequest")):
        raise PermissionDenied("没有处理决策复核的权限")
    if acting_user.pk == review.requester_id:
        raise PermissionDenied("不能复核关于自己的决定")
    if not reason.strip():
        raise ValidationError({"reason": ["请写明复核理由"]})
    with transaction.atomic(durable=True):
        locked = ReviewRequest.objects.select_for_update().select_related("decision").get(pk=review.pk)
        if locked.status != ReviewStatus.OPEN:
            raise ValidationError("该复核已处理")
        locked.status = ReviewStatus.UPHELD if uphold else ReviewStatus.OVERTURNED
        locked.handled_by = acting_user
        locked.handled_at = timezone.now()
        locked.resolution = reason.strip()
        locked.save(update_fields=["status", "handled_by", "handled_at", "resolution"])
        decision = locked.decision
        decision.status = DecisionStatus.UPHELD if uphold else DecisionStatus.OVERTURNED
        decision.save(update_fields=["status"])
        record(AuditEvent.DECISION_REVIEW_RESOLVED, acting_user=acting_user,
               subject=f"u:{decision.subject_id}" if decision.subject_id else "", obj=locked,
               details={"decision": str(decision.pk), "upheld": uphold, "origin": locked.origin})
        decision_id, kind, object_ref = decision.pk, decision.kind, decision.object_ref
        transaction.on_commit(lambda: decision_reviewed.send(
            sender=Decision, decision_id=decision_id, kind=kind, object_ref=object_ref, upheld=uphold
        ))
    return locked


def do_set_automation_choice(user: Any, kind: str, *, refuse: bool, acting_user: Any) -> AutomationChoice:
    """The person refuses (or accepts again) decisions of ``kind`` made solely by automation."""
    if kind not in DecisionKind.values:
        raise ValidationError(f"未知的决策类型：{kind}")
    with transaction.atomic(durable=True):
        choice, _ = AutomationChoice.objects.select_for_update().get_or_create(user=user, kind=kind)
        choice.refuse = refuse
        choice.updated_at = timezone.now()
        choice.save(update_fields=["refuse", "updated_at"])
        record(AuditEvent.DECISION_AUTOMATION_CHOICE, acting_user=acting_user, subject=f"u:{user.pk}", obj=choice,
               details={"kind": kind, "refuse": refuse})
    return choice
