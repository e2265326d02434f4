"""Restriction of processing (NDR art. 21, 23; PIPL art. 44, 47): ``is_restricted(user, purpose)``.

A person may restrict one purpose of the registry (``search``, ``recommend``, ``analytics``, ...) or everything
(``*``). While a restriction is active, the purpose's processing stops except storage and what security and legal
duties require (PIPL art. 47: "停止除存储和采取必要的安全保护措施之外的处理"): those purposes (:data:`EXEMPT`) are
never restricted, nor is answering the person's own requests (``rights``), so they can always lift it again.

Every feature asks the same question, in the same place as consent:

    from lingjing.privacy.requests.restriction import is_restricted
    if is_restricted(user, "recommend"):      # a registry purpose, or a consent purpose key
        serve_the_non_personalised_feed()

``purpose`` may be a registry purpose id or a consent purpose key (``search_history``,
``personalised_recommendation``); a consent purpose is restricted when its registry purpose is. Reads go to the
database on every call (no cache), so a restriction is effective for the very next check, everywhere.
"""

from __future__ import annotations

from typing import Any

from lingjing.privacy.registry import PURPOSES

EVERYTHING = "*"
# Processing that continues under a restriction: keeping the data (account), security measures, legal duties and
# answering the person's own rights requests (so the restriction can be lifted).
EXEMPT = frozenset({"account", "security", "compliance", "rights"})


def restrictable_purposes() -> list[str]:
    """The registry purposes a person can restrict, in registry order."""
    return [p for p in PURPOSES if p not in EXEMPT]


def _registry_purpose(purpose: str) -> str:
    if purpose in PURPOSES or purpose == EVERYTHING:
        return purpose
    from lingjing.consent.models import Purpose

    mapped = Purpose.objects.filter(key=purpose).values_list("registry_purpose", flat=True).first()
    return mapped or ""


def is_restricted(user: Any, purpose: str) -> bool:
    """True when ``user`` has restricted processing for ``purpose`` (or everything) and it is not exempt."""
    if user is None or not getattr(user, "pk", None) or not getattr(user, "is_authenticated", True):
        return False
    from lingjing.privacy.requests.models import ProcessingRestriction

    registry_purpose = _registry_purpose(purpose)
    if purpose in EXEMPT or registry_purpose in EXEMPT:
        return False
    names = {EVERYTHING, purpose}
    if registry_purpose:
        names.add(registry_purpose)
    return ProcessingRestriction.objects.filter(user_id=user.pk, lifted_at__isnull=True, purpose__in=names).exists()


def active_restrictions(user: Any) -> list[str]:
    from lingjing.privacy.requests.models import ProcessingRestriction

    return list(
        ProcessingRestriction.objects.filter(user_id=user.pk, lifted_at__isnull=True)
        .order_by("created_at")
        .values_list("purpose", flat=True)
    )
