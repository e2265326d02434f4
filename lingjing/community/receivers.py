"""Signals the community app listens to. Receivers run after the sender's transaction committed and hand the
work to a task (which calls an action), as ``consent.events`` and ``decisions.signals`` ask."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from lingjing.consent.events import consent_changed
from lingjing.decisions.signals import decision_reviewed


@receiver(decision_reviewed, dispatch_uid="community.moderation_reviewed")
def moderation_reviewed(sender: Any, decision_id: Any, kind: str, object_ref: str, upheld: bool,
                        **kwargs: Any) -> None:
    """A moderation decision was reviewed: restore the content (overturned) or carry the decision out (upheld)."""
    if kind != "moderation":
        return
    from lingjing.community.tasks import apply_review

    apply_review.enqueue(str(decision_id), upheld)


@receiver(consent_changed, dispatch_uid="community.recommendation_withdrawn")
def recommendation_withdrawn(sender: Any, user_id: Any, purpose: str, granted: bool, **kwargs: Any) -> None:
    """Withdrawing personalised recommendation deletes the interest tags learnt under it."""
    if purpose != "personalised_recommendation" or granted:
        return
    from lingjing.community.tasks import drop_interests

    drop_interests.enqueue(str(user_id))
