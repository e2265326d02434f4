"""Community tasks (queue ``default``). They take ids and are safe to run twice."""

from __future__ import annotations

from django.tasks import task


@task()
def apply_review(decision_id: str, upheld: bool) -> str:
    """Make moderated content match a reviewed decision (``community.actions.do_apply_review``)."""
    from lingjing.community.actions import do_apply_review

    return do_apply_review(decision_id, upheld=upheld)


@task()
def drop_interests(user_id: str) -> int:
    """Delete a person's interest tags after they withdrew consent to personalised recommendation."""
    from lingjing.accounts.models import User
    from lingjing.community.actions import do_delete_interests
    from lingjing.community.models import InterestTag

    user = User.objects.filter(pk=user_id).first()
    if user is None or not InterestTag.objects.filter(user=user).exists():
        return 0
    return do_delete_interests(user, reason="consent_withdrawn", acting_user=None)
