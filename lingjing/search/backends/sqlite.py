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

import uuid

from django.db import connection

from lingjing.search import schema
from lingjing.search.backends.base import FRESH_DAYS, RELEVANCE_SHARE, WORD_BONUS, Ranked
from lingjing.search.models import SearchDocument
from lingjing.search.schema import FTS, TRIGGERS
from lingjing.search.text import Query, fts5_expression, fts5_words_expression, query_words

# The candidates of a query: the newest matches with their bm25 relevance (weights: words, unigrams, bigrams,
# trigrams). Parameters: the MATCH expression, the number of candidates. The benchmark runs it raw as its baseline.
CANDIDATES_SQL = (
    "SELECT d.id AS id, d.work_id AS work_id, -bm25(search_fts, 1.0, 1.0, 2.0, 3.0) AS rel, "
    "d.published_at AS published_at, d.words AS words "
    "FROM search_fts JOIN search_searchdocument d ON d.id = search_fts.rowid "
    "WHERE search_fts MATCH %s ORDER BY search_fts.rowid DESC LIMIT %s"
)
MATCH_SQL = (
    "SELECT d.work_id FROM search_fts JOIN search_searchdocument d ON d.id = search_fts.rowid "
    "WHERE search_fts MATCH %s"
)


def ranked_sql(words: int) -> str:
    """The candidates ranked (``base``'s formula) and sliced, in one statement. Parameters: the MATCH
    expression, the number of candidates, each of the ``words`` query words, the limit, the offset. Only
    placeholders and the module's own constants go into the text."""
    overlap = " + ".join(["(instr(' ' || words || ' ', ' ' || %s || ' ') > 0)"] * words) or "0"
    # Only constants and placeholders go into this text.
    return (
        f"WITH c AS ({CANDIDATES_SQL}) "  # noqa: S608
        f"SELECT work_id, count(*) OVER () AS total, "
        f"COALESCE(rel / NULLIF(max(rel) OVER (), 0), 0) * {RELEVANCE_SHARE} "
        f"* (1 + {WORD_BONUS} * ({overlap}) / {max(words, 1)}.0) "
        f"+ {1 - RELEVANCE_SHARE} / (1 + (julianday('now') - julianday(published_at)) / {FRESH_DAYS}) AS score "
        f"FROM c ORDER BY score DESC, id DESC LIMIT %s OFFSET %s"
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

    def documents_saved(self, docs: list[SearchDocument]) -> None:
        return None  # the triggers did it

    def ranked(self, query: Query, *, offset: int, limit: int, candidates: int, widen: bool = False) -> Ranked:
        expression = fts5_words_expression(query) if widen else fts5_expression(query)
        if not expression:
            return Ranked([], 0)
        words = query_words(query)
        with connection.cursor() as cursor:
            cursor.execute(ranked_sql(len(words)), [expression, int(candidates), *words, int(limit), int(offset)])
            rows = cursor.fetchall()
        if not rows and offset:  # past the end: the total still counts
            return Ranked([], self.ranked(query, offset=0, limit=1, candidates=candidates, widen=widen).total)
        # work ids stay as stored (hex text): only the page's become UUIDs (service.search)
        return Ranked([work_id for work_id, _total, _score in rows], rows[0][1] if rows else 0)

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
