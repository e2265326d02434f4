"""SQLite FTS5 backend (the embedded default).

``search_fts`` is an *external-content* FTS5 table over ``search_searchdocument`` (columns ``words``,
``unigrams``, ``bigrams``, ``trigrams``; rowid = the document's integer id). Three triggers keep it in step with
the rows, so
every way a row changes — the search actions, a cascade from a deleted work, the erasure engine's queryset
delete — updates the index in the same transaction. The tokens are made in Python (``search.text``) and
space-joined; FTS5's ``unicode61`` tokenizer only splits them on the spaces again.

Caveat: Django rebuilds a SQLite table to alter it (new table, copy, drop, rename), which drops its triggers.
A migration that alters ``SearchDocument`` must end with ``InstallSearchIndex`` again; ``lingjing search check``
reports missing triggers, ``lingjing search rebuild`` restores them and rebuilds the index.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from lingjing.search import schema
from lingjing.search.backends.base import Candidate
from lingjing.search.models import SearchDocument
from lingjing.search.schema import FTS, TRIGGERS
from lingjing.search.text import Query, fts5_expression, fts5_words_expression

# The one statement a page of results costs (the benchmark runs it raw as its baseline). Parameters: the MATCH
# expression and the number of candidates. bm25 weights: words, unigrams, bigrams, trigrams.
CANDIDATES_SQL = (
    "SELECT d.id, d.work_id, -bm25(search_fts, 1.0, 1.0, 2.0, 3.0), d.published_at, d.words "
    "FROM search_fts JOIN search_searchdocument d ON d.id = search_fts.rowid "
    "WHERE search_fts MATCH %s ORDER BY search_fts.rowid DESC LIMIT %s"
)
MATCH_SQL = (
    "SELECT d.work_id FROM search_fts JOIN search_searchdocument d ON d.id = search_fts.rowid "
    "WHERE search_fts MATCH %s"
)


class SqliteFts5Backend:
    name = "sqlite-fts5"

    def install(self) -> None:
        with connection.cursor() as cursor:
            for statement in schema.SQLITE:
                cursor.execute(statement)

    def problems(self) -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT name FROM sqlite_master WHERE name IN (%s, %s, %s, %s)", [FTS, *TRIGGERS])
            present = {name for (name,) in cursor.fetchall()}
            out = [f"missing {name}" for name in (FTS, *TRIGGERS) if name not in present]
            if not out:
                cursor.execute("INSERT INTO search_fts(search_fts, rank) VALUES ('integrity-check', 1)")
        return out

    def document_saved(self, doc: SearchDocument) -> None:
        return None  # the triggers did it

    def candidates(self, query: Query, limit: int, *, widen: bool = False) -> list[Candidate]:
        expression = fts5_words_expression(query) if widen else fts5_expression(query)
        if not expression:
            return []
        with connection.cursor() as cursor:
            cursor.execute(CANDIDATES_SQL, [expression, int(limit)])
            rows = cursor.fetchall()
        # work ids stay as stored (hex text) here: only the page's twenty become UUIDs (service.search)
        return [Candidate(doc_id, work_id, max(float(relevance), 1e-9), _datetime(published_at), words)
                for doc_id, work_id, relevance, published_at, words in rows]

    def match_work_ids(self, query: Query) -> list[uuid.UUID]:
        expression = fts5_expression(query)
        if not expression:
            return []
        with connection.cursor() as cursor:
            cursor.execute(MATCH_SQL, [expression])
            rows = cursor.fetchall()
        return [_uuid(r[0]) for r in rows]

    def rebuild(self) -> int:
        self.install()
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO search_fts(search_fts) VALUES ('rebuild')")
            cursor.execute("INSERT INTO search_fts(search_fts) VALUES ('optimize')")
        return SearchDocument.objects.count()


def _uuid(value: object) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _datetime(value: object) -> dt.datetime:
    """SQLite hands back Django's stored text (UTC, naive)."""
    if isinstance(value, dt.datetime):
        return value if timezone.is_aware(value) else value.replace(tzinfo=dt.UTC)
    parsed = parse_datetime(str(value))
    if parsed is None:
        raise ValueError(f"not a datetime: {value!r}")
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=dt.UTC)
