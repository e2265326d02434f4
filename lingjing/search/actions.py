"""Every write of the search app: the history kept with consent, the security log, index rebuilds."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from lingjing.search.models import SearchHistory, SearchLogWindow
from lingjing.security.audit import AuditEvent, record

HISTORY_KEEP = 200  # entries per person; older ones go when a new one is kept
REPEAT_WINDOW = dt.timedelta(minutes=10)  # the same query again within this time is not a new entry
LOG_WINDOW_MINUTES = 10


def do_record_search_history(user: Any, query: str, *, results: int, acting_user: Any) -> SearchHistory | None:
    """Keep one query in the person's history. The caller has checked ``has_consent(user, "search_history")``.

    The same query as the newest entry within ``REPEAT_WINDOW`` (paging, reloads) is not stored again.
    """
    text = query.strip()
    if not text:
        return None
    now = timezone.now()
    with transaction.atomic(durable=True):
        last = SearchHistory.objects.filter(user=user).order_by("-created_at").first()
        if last is not None and last.query == text and now - last.created_at < REPEAT_WINDOW:
            return None
        entry = SearchHistory(user=user, results=results, created_at=now)
        entry.query = text
        entry.save(force_insert=True)
        old = list(SearchHistory.objects.filter(user=user).order_by("-created_at")
                   .values_list("pk", flat=True)[HISTORY_KEEP:])
        if old:
            SearchHistory.objects.filter(pk__in=old).delete()
        record(AuditEvent.SEARCH_HISTORY_RECORDED, acting_user=acting_user, subject=f"u:{user.pk}", obj=entry,
               details={"chars": len(text), "results": results, "trimmed": len(old)})
    return entry


def do_delete_search_history(
    user: Any, *, entry_id: uuid.UUID | None = None, reason: str = "user", acting_user: Any
) -> int:
    """Delete one entry (``entry_id``) or the whole history of ``user``. Returns how many entries went."""
    with transaction.atomic(durable=True):
        rows = SearchHistory.objects.filter(user=user)
        if entry_id is not None:
            rows = rows.filter(pk=entry_id)
        count, _ = rows.delete()
        record(AuditEvent.SEARCH_HISTORY_DELETED, acting_user=acting_user, subject=f"u:{user.pk}",
               details={"count": count, "all": entry_id is None, "reason": reason})
    return count


def log_window(now: dt.datetime) -> dt.datetime:
    minute = now.minute - now.minute % LOG_WINDOW_MINUTES
    return now.replace(minute=minute, second=0, microsecond=0)


def do_log_search(*, channel: str, actor_key: str, net_key: str, empty: bool) -> None:
    """Count one search in the pseudonymised security log (no query text; see ``SearchLogWindow``).

    The window's row is created by the first search in it, with its audit entry; later searches in the window
    add to its counters. The row is the log, so one audit entry per window records that it was opened rather
    than duplicating every count in the audit chain.
    """
    window = log_window(timezone.now())
    key: dict[str, Any] = {"at": window, "channel": channel[:8], "actor_key": actor_key, "net_key": net_key}
    bump = {"searches": F("searches") + 1, "empty": F("empty") + int(empty)}
    with transaction.atomic(durable=True):
        if SearchLogWindow.objects.filter(**key).update(**bump):
            return
        try:
            with transaction.atomic():
                row = SearchLogWindow.objects.create(**key, searches=1, empty=int(empty))
        except IntegrityError:  # another request opened the window meanwhile
            SearchLogWindow.objects.filter(**key).update(**bump)
            return
        record(AuditEvent.SEARCH_LOG_WINDOW_OPENED, actor="system", obj=row,
               details={"window": window.isoformat(), "channel": key["channel"]})


def do_rebuild_index(*, acting_user: Any, chunk: int = 1000) -> int:
    """Re-derive every document from the published works (after a restore, a tokenizer change or a migration
    that dropped the SQLite triggers). One transaction per chunk; safe to run again."""
    from lingjing.search.backends import get_backend
    from lingjing.search.index import index_works
    from lingjing.search.models import SearchDocument
    from lingjing.works.models import Work, WorkStatus

    backend = get_backend()
    with transaction.atomic(durable=True):
        backend.install()
        stale = SearchDocument.objects.exclude(work__status=WorkStatus.PUBLISHED).delete()[0]
    count = 0
    last: Any = None
    while True:
        batch = Work.objects.filter(status=WorkStatus.PUBLISHED).order_by("pk")
        if last is not None:
            batch = batch.filter(pk__gt=last)
        works = list(batch.only("id", "author_id", "title", "tags", "status", "published_at")[:chunk])
        if not works:
            break
        with transaction.atomic(durable=True):
            count += index_works(works)
        last = works[-1].pk
    with transaction.atomic(durable=True):
        backend.rebuild()
        record(AuditEvent.SEARCH_INDEX_REBUILT, acting_user=acting_user,
               details={"documents": count, "stale_removed": stale, "backend": backend.name})
    return count
