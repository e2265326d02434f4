"""Publishing: the life of a work in public. Every change is one durable transaction with its audit row, and
the search index changes in that same transaction (``search.index``).

::

    draft ──publish──▶ published ──unpublish──▶ unpublished ──publish──▶ published
                           │  ▲
           moderator ──────┘  └────── review overturned (restore)
                           ▼
                        removed          (hidden from everyone, the author included; the decision says why)

* Publishing records the time (``published_at``, policy 一(二)2); the public pages show it with the author's
  nickname and avatar. Only an active account may publish (``accounts.policy.can_publish``: a child waiting for
  a guardian's consent may not).
* Before a work goes public its title and tags pass the keyword filter (``community.filters``). A hit is an
  automated moderation decision: the work stays private and the author sees why and may ask for a review. If
  the author refused solely automated decisions (PIPL art. 24), the work is published and a moderator decides.
* A change to a published work's title or tags (``works.actions.do_update_work``) is screened the same way and
  re-indexed (:func:`work_changed`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from lingjing.security.audit import AuditEvent, record
from lingjing.works.models import Work, WorkStatus


@dataclass(frozen=True)
class PublishResult:
    work: Work
    published: bool
    decision: Any = None  # the automated moderation decision, when the filter matched


def _subject(work: Work) -> str:
    return f"u:{work.author_id}" if work.author_id else ""


def _screen(work: Work, outcome: str, effect_zh: str, effect_en: str) -> Any:
    """Run the keyword filter over the work; on a hit record the decision and return it (else None)."""
    from lingjing.community.filters import check_work
    from lingjing.decisions.service import record_decision

    verdict = check_work(work.title, list(work.tags))
    if not verdict or work.author is None:
        return None
    zh, en = verdict.explanation("作品标题或标签", "work's title or tags", effect_zh, effect_en)
    return record_decision(
        work.author, "moderation", outcome=outcome, rule_version="mod-filter-1", explanation_zh=zh,
        explanation_en=en, inputs=verdict.inputs, significant=True, object_ref=f"work:{work.pk}",
    )


def do_publish_work(work: Work, *, acting_user: Any, screen: bool = True) -> PublishResult:
    """Make a draft or unpublished work public. ``acting_user`` is the author (None: the system restoring a work
    after a review overturned the filter's decision, with ``screen=False``)."""
    from lingjing.accounts.policy import can_publish, denial_reason
    from lingjing.search.index import reindex_work

    if acting_user is not None and acting_user.pk != work.author_id:
        raise PermissionDenied("只有作者可以发布作品")
    if work.author is None or not can_publish(work.author):
        raise PermissionDenied(denial_reason(work.author))
    with transaction.atomic(durable=True):
        locked = Work.objects.select_for_update(of=("self",)).select_related("author").get(pk=work.pk)
        if locked.status == WorkStatus.REMOVED:
            raise ValidationError("作品已被移除，不能发布", code="removed")
        if locked.status == WorkStatus.PUBLISHED:
            return PublishResult(locked, True)
        decision = None
        if screen:
            decision = _screen(locked, "work_publish_blocked", "作品暂未公开。", "The work was not made public.")
            if decision is not None and decision.effective:
                return PublishResult(locked, False, decision)
        previous = locked.status
        now = timezone.now()
        locked.status = WorkStatus.PUBLISHED
        locked.published_at = now
        locked.updated_at = now
        locked.save(update_fields=["status", "published_at", "updated_at"])
        reindex_work(locked)
        record(AuditEvent.WORK_PUBLISHED, acting_user=acting_user, subject=_subject(locked), obj=locked,
               details={"previous": previous, "published_at": now.isoformat(),
                        "awaiting_review": str(decision.pk) if decision is not None else ""})
    _copy(locked, work)
    return PublishResult(work, True, decision)


def do_unpublish_work(work: Work, *, acting_user: Any, reason: str = "author") -> Work:
    """Take a published work out of public view (the author's choice, or an upheld filter decision)."""
    from lingjing.search.index import remove_work_from_index

    if acting_user is not None and acting_user.pk != work.author_id:
        raise PermissionDenied("只有作者可以下架作品")
    with transaction.atomic(durable=True):
        locked = Work.objects.select_for_update().get(pk=work.pk)
        if locked.status != WorkStatus.PUBLISHED:
            return locked
        locked.status = WorkStatus.UNPUBLISHED
        locked.updated_at = timezone.now()
        locked.save(update_fields=["status", "updated_at"])
        remove_work_from_index(locked.pk)
        record(AuditEvent.WORK_UNPUBLISHED, acting_user=acting_user, subject=_subject(locked), obj=locked,
               details={"reason": reason})
    _copy(locked, work)
    return work


def remove_work(work: Work, *, acting_user: Any, case_id: Any = None) -> str:
    """Moderation (inside the moderation action's transaction): hide the work from everyone. Returns the status
    it had, which a review that overturns the decision restores."""
    from lingjing.search.index import remove_work_from_index

    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("remove_work runs inside the moderation action's transaction")
    locked = Work.objects.select_for_update().get(pk=work.pk)
    previous = locked.status
    if previous == WorkStatus.REMOVED:
        return previous
    locked.status = WorkStatus.REMOVED
    locked.updated_at = timezone.now()
    locked.save(update_fields=["status", "updated_at"])
    remove_work_from_index(locked.pk)
    record(AuditEvent.WORK_REMOVED, acting_user=acting_user, subject=_subject(locked), obj=locked,
           details={"previous": previous, "case": str(case_id or "")})
    _copy(locked, work)
    return previous


def do_restore_work(work: Work, *, status: str, acting_user: Any, decision_id: Any = None) -> Work:
    """Undo a removal (a review overturned it): back to ``status`` (published or unpublished)."""
    from lingjing.search.index import reindex_work

    if status not in (WorkStatus.PUBLISHED, WorkStatus.UNPUBLISHED, WorkStatus.DRAFT):
        raise ValidationError("无效的作品状态")
    with transaction.atomic(durable=True):
        locked = Work.objects.select_for_update().get(pk=work.pk)
        if locked.status != WorkStatus.REMOVED or locked.author_id is None:
            return locked  # already restored, or erased meanwhile
        locked.status = status
        locked.updated_at = timezone.now()
        locked.save(update_fields=["status", "updated_at"])
        reindex_work(locked)
        record(AuditEvent.WORK_RESTORED, acting_user=acting_user, subject=_subject(locked), obj=locked,
               details={"status": status, "decision": str(decision_id or "")})
    _copy(locked, work)
    return work


def work_changed(work: Work, changed: list[str], *, acting_user: Any) -> None:
    """Called by ``do_update_work`` inside its transaction: keep the index in step, screen a published work's
    new title or tags (a hit unpublishes it, as an automated decision the author can have reviewed)."""
    from lingjing.search.index import reindex_work

    if work.status != WorkStatus.PUBLISHED or not {"title", "tags"} & set(changed):
        return
    decision = _screen(work, "work_hidden", "作品已暂停公开。", "The work was taken out of public view.")
    if decision is not None and decision.effective:
        work.status = WorkStatus.UNPUBLISHED
        work.save(update_fields=["status"])
        record(AuditEvent.WORK_UNPUBLISHED, actor="system", subject=_subject(work), obj=work,
               details={"reason": "filter", "decision": str(decision.pk)})
    reindex_work(work)


def _copy(source: Work, target: Work) -> None:
    if source is not target:
        for name in ("status", "published_at", "updated_at"):
            setattr(target, name, getattr(source, name))
