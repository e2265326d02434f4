"""``has_consent``: the one question every feature asks before processing that needs consent.

Rules, in order:

1. An unknown or retired purpose is never consented to.
2. A purpose that honours browser signals (analytics, email tracking, personalisation) is off for any request
   carrying ``DNT: 1`` or ``Sec-GPC: 1``, whatever was stored. The stored choice itself is left alone: the signal
   decides per request, and a person who had explicitly agreed is shown that the signal overrides it.
3. A signed-in person: their stored answer (:class:`ConsentState`). With none stored, a purpose that a cookie
   category stands for follows this browser's banner choice; everything else is off (consent is opt-in).
4. A visitor without an account: only the cookie-category purposes, by banner choice.

Withdrawal writes the state in the same transaction as the record, and this function reads the state on every
call (no cache), so a withdrawal is effective for the very next check everywhere.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from lingjing.consent.cookies import category_allowed, cookie_choice
from lingjing.consent.models import ConsentState, Purpose
from lingjing.consent.signals import privacy_signal


def get_purpose(key: str) -> Purpose | None:
    return Purpose.objects.filter(key=key, active=True).first()


def has_consent(user_or_none: Any, purpose: str, request: HttpRequest | None = None) -> bool:
    """True only when ``purpose`` may be carried out for this person (and this request) right now."""
    row = get_purpose(purpose)
    if row is None:
        return False
    if row.honours_signals and privacy_signal(request) is not None:
        return False
    user = user_or_none
    if user is not None and getattr(user, "is_authenticated", False):
        from lingjing.privacy.requests.restriction import is_restricted

        if is_restricted(user, purpose):  # a restriction request (NDR art. 21) outranks any consent
            return False
        state = ConsentState.objects.filter(user_id=user.pk, purpose=row).only("granted").first()
        if state is not None:
            return state.granted
    if row.cookie_category and request is not None:
        return category_allowed(request, row.cookie_category)
    return False


def signal_overrides(user_or_none: Any, request: HttpRequest | None) -> list[str]:
    """Purposes the person explicitly granted that this request's DNT/GPC signal switches off (to show them)."""
    if privacy_signal(request) is None:
        return []
    keys: list[str] = []
    user = user_or_none
    if user is not None and getattr(user, "is_authenticated", False):
        keys += list(
            ConsentState.objects.filter(user_id=user.pk, granted=True, purpose__honours_signals=True,
                                        purpose__active=True)
            .values_list("purpose__key", flat=True)
        )
    choice = cookie_choice(request)
    if choice is not None and choice.current and "analytics" in choice.granted and "analytics" not in keys:
        keys.append("analytics")
    return keys
