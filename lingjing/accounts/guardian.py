"""Guardian consent for children under 14 (policy 六; PIPL art. 31).

1. Sign-up with a birth date under 14 requires a guardian's phone number. The account starts ``pending_guardian``
   (no creating, no publishing) and a pending :class:`~lingjing.accounts.models.GuardianConsent` is stored with
   the guardian's number sealed under the child's key; an SMS code (purpose ``guardian``) goes to that number.
2. On ``/accounts/guardian/`` the guardian proves the number with a code and sees the requests made with it:
   confirm (the account becomes ``active``), decline, or — later — withdraw an earlier consent.
3. Declining, withdrawing, or no decision within ``LINGJING_GUARDIAN_EXPIRY_DAYS`` (7) days deletes the child's
   data: through the registry's erasure engine (``lingjing.privacy.engines.erasure.erase_person``: every declared
   row deleted or anonymised, the person's keys shredded), or, where that engine is absent, by deleting the user
   row and shredding the keys (:func:`~lingjing.accounts.actions.do_delete_pending_child`).
   :func:`purge_expired_pending_children` runs from the ``purge_expired_pending_children`` task; it is safe to run
   twice (each request is claimed by a conditional update in ``do_expire_guardian_request``).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from django.conf import settings
from django.utils import timezone

from lingjing.accounts.models import CodePurpose, GuardianConsent, GuardianStatus, User
from lingjing.security.crypto import blind_index

log = logging.getLogger("lingjing.accounts.guardian")


def send_guardian_code(guardian_phone: str, *, ip: str, child_nickname: str | None = None) -> None:
    from lingjing.accounts.codes import request_code

    request_code(guardian_phone, CodePurpose.GUARDIAN, ip=ip, context={"child_nickname": child_nickname})


def requests_for(guardian_phone: str) -> list[GuardianConsent]:
    """The children's requests made with this guardian number that the guardian can still act on."""
    return list(
        GuardianConsent.objects.filter(
            guardian_phone_index=blind_index(guardian_phone),
            status__in=[GuardianStatus.PENDING, GuardianStatus.CONFIRMED],
        )
        .select_related("child")
        .order_by("-requested_at")
    )


def delete_child_data(user_id: Any, *, reason: str) -> None:
    """Erase a child account's data (outside any transaction)."""
    try:
        from lingjing.privacy.engines.erasure import erase_person
    except ImportError:  # the erasure engine is optional; fall back to deleting the rows
        erase_person = None  # type: ignore[assignment]
    if erase_person is not None:
        erase_person(user_id, reason=f"guardian:{reason}")
        return
    from lingjing.accounts.actions import do_delete_pending_child

    do_delete_pending_child(user_id, reason=reason)


def decline(consent_id: Any, *, guardian_phone: str) -> bool:
    from lingjing.accounts.actions import do_decline_guardian

    child_id = do_decline_guardian(consent_id, guardian_phone=guardian_phone)
    if child_id is None:
        return False
    delete_child_data(child_id, reason="declined")
    return True


def withdraw(consent_id: Any, *, guardian_phone: str) -> bool:
    from lingjing.accounts.actions import do_withdraw_guardian

    child_id = do_withdraw_guardian(consent_id, guardian_phone=guardian_phone)
    if child_id is None:
        return False
    delete_child_data(child_id, reason="withdrawn")
    return True


def purge_expired_pending_children(*, limit: int = 500) -> int:
    """Delete the data of children whose guardian did not decide in time. Answers how many were deleted."""
    from lingjing.accounts.actions import do_expire_guardian_request

    now = timezone.now()
    due = list(
        GuardianConsent.objects.filter(status=GuardianStatus.PENDING, expires_at__lte=now)
        .order_by("expires_at")
        .values_list("pk", flat=True)[:limit]
    )
    done = 0
    for consent_id in due:
        child_id = do_expire_guardian_request(consent_id)
        if child_id is None:  # someone else claimed it, or the guardian decided meanwhile
            continue
        still_pending = User.objects.filter(pk=child_id, status="pending_guardian").exists()
        if still_pending:
            delete_child_data(child_id, reason="expired")
            done += 1
    # Accounts left pending without any live request (e.g. a request already expired by an earlier crash).
    cutoff = now - dt.timedelta(days=settings.LINGJING_GUARDIAN_EXPIRY_DAYS)
    orphans = User.objects.filter(status="pending_guardian", date_joined__lte=cutoff).exclude(
        guardian_consents__status__in=[GuardianStatus.PENDING, GuardianStatus.CONFIRMED]
    )
    for child_id in list(orphans.values_list("pk", flat=True)[:limit]):
        delete_child_data(child_id, reason="expired")
        done += 1
    if done:
        log.info("deleted %d pending child account(s) without guardian consent", done)
    return done


# --- the proven guardian number (for the children's and rights pages) ---------------------------------------

GUARDIAN_PROVEN_KEY = "lj_flow_guardian_proven"  # set by the guardian page once the SMS code matched
GUARDIAN_PROVEN_SECONDS = 600


def guardian_proven_phone(request: Any) -> str | None:
    """The guardian number this browser session proved by SMS code on ``/accounts/guardian/`` within the last
    10 minutes, or None. Other apps (a guardian's view of the child's data, the rights requests a guardian makes)
    rely on this and never read the session key themselves."""
    session = getattr(request, "session", None)
    item = session.get(GUARDIAN_PROVEN_KEY) if session is not None else None
    if not isinstance(item, dict) or time.time() - float(item.get("t", 0)) > GUARDIAN_PROVEN_SECONDS:
        return None
    value = item.get("v")
    return str(value) if value else None
