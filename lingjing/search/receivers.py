"""The search app listens to consent changes: withdrawing ``search_history`` deletes the saved history at once
(the consent notice promises it). The receiver runs after the consent committed and hands over to a task."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from lingjing.consent.events import consent_changed


@receiver(consent_changed, dispatch_uid="search.history_withdrawn")
def history_withdrawn(sender: Any, user_id: Any, purpose: str, granted: bool, **kwargs: Any) -> None:
    if purpose != "search_history" or granted:
        return
    from lingjing.search.tasks import drop_history

    drop_history.enqueue(str(user_id))
