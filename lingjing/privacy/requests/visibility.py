"""What others must not show while an account is in its cancellation window (and after): for the feed, search
and work pages, which filter with these."""

from __future__ import annotations

from django.db.models import Q


def hidden_authors() -> Q:
    """Rows with an ``author`` whose author is cancelling or cancelled: ``qs.exclude(hidden_authors())``."""
    return Q(author__status__in=["closing", "erased"])


def is_hidden_user(user: object) -> bool:
    return getattr(user, "status", "active") in ("closing", "erased")
