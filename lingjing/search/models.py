"""Search: the index of published works, the search history kept with consent, the pseudonymised search log.

* :class:`SearchDocument` — one row per *published* work: its title and tags as the token streams of
  ``search.text``. The full-text index proper lives next to it and is kept in step by the database itself:
  on SQLite an FTS5 table over these rows (triggers on insert/update/delete), on PostgreSQL a ``tsvector``
  column with a GIN index (``backends/``). The row is a copy of the author's published content, so it is
  declared like the work and deleted when the work stops being public or the author is erased.
* :class:`SearchHistory` — the queries of a person who consented to ``search_history`` (policy 一(二)3): sealed
  under their key, shown to them, deletable one by one or all at once, deleted on withdrawal.
* :class:`SearchLogWindow` — what the security duty needs (网络安全法 art. 21, L9) and nothing more: per ten-minute
  window and pseudonymous actor/network, how many searches and how many found nothing. No query text, ever.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from lingjing.privacy.registry import PD, NonPersonal, Retention, RowErase, declare
from lingjing.security.crypto import SealedField
from lingjing.works.models import Work

_ACCOUNT = Retention.account()
_INDEX = PD("content.work", ("content", "search"), "contract", _ACCOUNT,
            note="a copy of the published title and tags, tokenised for search; gone when the work is not public")

# Six calendar months at their longest, so no entry leaves before six months (网络安全法 art. 21).
SECURITY_LOG_DAYS = 184


@declare(
    subject="author",
    fields={
        "title": _INDEX,
        "tags": _INDEX,
        "words": _INDEX,
        "unigrams": _INDEX,
        "bigrams": _INDEX,
        "trigrams": _INDEX,
        "published_at": _INDEX,
    },
    non_personal=NonPersonal(["id", "work", "author", "indexed_at"], why="pseudonymous ids and bookkeeping"),
    on_erase=RowErase.DELETE,
    erase_order=12,
)
class SearchDocument(models.Model):
    """A published work as the search index sees it. ``id`` is an integer: FTS5 addresses rows by rowid."""

    id = models.BigAutoField(primary_key=True)
    work = models.OneToOneField(Work, on_delete=models.CASCADE, related_name="search_document")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                               related_name="+")
    title = models.CharField(max_length=200)
    tags = models.CharField(max_length=400, blank=True)
    words = models.TextField(blank=True)
    unigrams = models.TextField(blank=True)
    bigrams = models.TextField(blank=True)
    trigrams = models.TextField(blank=True)
    published_at = models.DateTimeField(db_index=True)
    indexed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "搜索索引条目"
        verbose_name_plural = "搜索索引条目"

    def __str__(self) -> str:
        return f"search document {self.pk} (work {self.work_id})"


@declare(
    subject="user",
    fields={
        "query": PD("behaviour.search", ("search",), "consent", Retention.until_withdrawn(),
                    note="kept only with search_history consent; sealed; deleted on withdrawal"),
        "created_at": PD("behaviour.search", ("search",), "consent", Retention.until_withdrawn()),
        "results": PD("behaviour.search", ("search",), "consent", Retention.until_withdrawn(),
                      note="how many works the search found"),
    },
    non_personal=NonPersonal(["id", "user"], why="pseudonymous ids"),
    on_erase=RowErase.DELETE,
    erase_order=10,
)
class SearchHistory(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="search_history")
    query = SealedField(owner="user")
    results = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["-created_at"]
        indexes: ClassVar = [models.Index(fields=["user", "-created_at"], name="search_history_user")]
        verbose_name = "搜索历史"
        verbose_name_plural = "搜索历史"

    def __str__(self) -> str:
        return f"search {str(self.pk)[:8]}"


_LOG = PD("security.event", ("security",), "legal_duty", Retention.for_days(SECURITY_LOG_DAYS))


@declare(
    subject_ref="actor_key",
    fields={
        "at": _LOG,
        "channel": _LOG,
        "searches": PD("security.event", ("security",), "legal_duty", Retention.for_days(SECURITY_LOG_DAYS),
                       note="a count; the query text is never logged"),
        "empty": PD("security.event", ("security",), "legal_duty", Retention.for_days(SECURITY_LOG_DAYS),
                    note="how many of them found nothing"),
        "net_key": PD("device.ip", ("security",), "legal_duty", Retention.for_days(SECURITY_LOG_DAYS),
                      note="keyed hash of the network (IPv4 /24, IPv6 /48)"),
    },
    non_personal=NonPersonal(
        ["id", "actor_key"],
        why="actor_key is a keyed hash of the account id (empty for visitors); the rights engines cannot match "
            "it to a person without re-identifying the log, which the pseudonymisation exists to prevent",
    ),
    on_erase=RowErase.KEEP,
    keep_days=SECURITY_LOG_DAYS,
)
class SearchLogWindow(models.Model):
    """The search security log: one row per ten-minute window, actor pseudonym, network pseudonym and channel."""

    at = models.DateTimeField(db_index=True)  # the window's start
    channel = models.CharField(max_length=8)  # web | api
    actor_key = models.CharField(max_length=40, blank=True)
    net_key = models.CharField(max_length=40, blank=True)
    searches = models.PositiveIntegerField(default=0)
    empty = models.PositiveIntegerField(default=0)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["at", "channel", "actor_key", "net_key"], name="search_log_window"),
        ]
        verbose_name = "搜索安全日志"
        verbose_name_plural = "搜索安全日志"

    def __str__(self) -> str:
        return f"search log {self.at:%Y-%m-%d %H:%M} ×{self.searches}"
