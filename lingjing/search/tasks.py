"""Search tasks (queue ``default``). They take ids and are safe to run twice."""

from __future__ import annotations

from django.tasks import task


@task()
def drop_history(user_id: str) -> int:
    """Delete a person's search history after they withdrew the ``search_history`` consent."""
    from lingjing.accounts.models import User
    from lingjing.search.actions import do_delete_search_history
    from lingjing.search.models import SearchHistory

    user = User.objects.filter(pk=user_id).first()
    if user is None or not SearchHistory.objects.filter(user=user).exists():
        return 0
    return do_delete_search_history(user, reason="consent_withdrawn", acting_user=None)
