"""Children's tasks (django.tasks). Each takes ids and is safe to run twice."""

from __future__ import annotations

from django.tasks import task


@task(queue_name="privacy")
def check_unconsented_child(user_id: str, trigger: str) -> bool:
    """Delete the data of a child found without a guardian's consent. Answers whether a deletion was started.

    1. Decide on the committed state: a readable birth date under 14, the account ``active`` (a ``pending_guardian``
       account is already in the accounts app's guardian flow, which deletes it if nobody consents), and no
       confirmed guardian consent.
    2. Record the finding (``do_record_unconsented_child``; a second run finds it recorded and stops).
    3. Erase through the accounts app's child deletion (the registry's erasure engine), then mark it done.
    """
    from lingjing.accounts.guardian import delete_child_data
    from lingjing.children.actions import do_finish_unconsented_child, do_record_unconsented_child, needs_deletion

    child = needs_deletion(user_id)
    if child is None:
        return False
    finding = do_record_unconsented_child(child, trigger=trigger)
    if finding is None:
        return False
    delete_child_data(child.pk, reason="unconsented")
    do_finish_unconsented_child(finding)
    return True
