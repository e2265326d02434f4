"""Who is a child: the registry's rule (``lingjing.privacy.registry.is_child``, under 14, policy 六), plus the
questions this app asks of it. Plain functions, no writes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from lingjing.privacy.registry import CHILD_AGE, age_on
from lingjing.privacy.registry import is_child as registry_is_child

__all__ = ["CHILD_AGE", "birth_date_of", "is_child", "known_child", "was_child_during"]


def is_child(user: Any, *, on: dt.date | None = None) -> bool:
    """The registry's rule: under 14, or a birth date that cannot be read (the safe side). None is nobody."""
    if user is None:
        return False
    return registry_is_child(user, today=on)


def birth_date_of(user: Any) -> dt.date | None:
    """The user's birth date (sealed as ``YYYY-MM-DD``), or None when unknown or unreadable."""
    raw = getattr(user, "birth_date", None)
    if not raw:
        return None
    if isinstance(raw, dt.date):
        return raw
    try:
        return dt.date.fromisoformat(str(raw)[:10])
    except ValueError:
        return None


def known_child(user: Any, *, on: dt.date | None = None) -> bool:
    """Under 14 by a birth date we can actually read (what a birth-date correction reveals)."""
    birth = birth_date_of(user)
    return birth is not None and age_on(birth, on or timezone.localdate()) < CHILD_AGE


def was_child_during(user: Any, year: int) -> bool:
    """Under 14 on some day of ``year`` (by a readable birth date)."""
    birth = birth_date_of(user)
    if birth is None or birth > dt.date(year, 12, 31):
        return False
    return age_on(birth, dt.date(year, 1, 1)) < CHILD_AGE
