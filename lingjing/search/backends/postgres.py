"""PostgreSQL full-text backend.

The document table gets a ``tsv tsvector`` column (outside the Django model: no other database has the type)
and a GIN index on it. The vector is written from the same three token streams as FTS5, with positions and
weights we choose (``text.tsvector_literal``: trigrams A, bigrams B, unigrams C, words D), so PostgreSQL's
parser — which knows nothing of Chinese — never sees the text; the ``simple`` configuration would only lower-case
what is already lower-case. Queries are ``tsquery`` literals over the same weights (``text.tsquery_literal``):
a trigram phrase with ``<->`` for three characters or more, ``:B`` for two, ``:C`` for one.

Deleting a document row removes its vector with it, so cascades and the erasure engine need nothing special.
"""

from __future__ import annotations

import uuid

from django.db import connection

from lingjing.search import schema
from lingjing.search.backends.base import FRESH_DAYS, RELEVANCE_SHARE, WORD_BONUS, Ranked
from lingjing.search.models import SearchDocument
from lingjing.search.schema import GIN_INDEX, TABLE
from lingjing.search.text import Query, Tokens, query_words, tsquery_literal, tsquery_words_literal, tsvector_literal

# The candidates: the newest matches with their ts_rank relevance (weights for {D, C, B, A}: words, unigrams,
# bigrams, trigrams). Parameters: the tsquery, the number of candidates.
CANDIDATES_SQL = (
    "SELECT id, work_id, ts_rank('{0.1, 0.2, 0.4, 1.0}', tsv, q) AS rel, published_at, words "
    "FROM search_searchdocument, CAST(%s AS tsquery) q WHERE tsv @@ q ORDER BY id DESC LIMIT %s"
)

# The vectors of many document rows in one statement. Parameters: the ids, their tsvector literals (same order).
VECTORS_SQL = (
    "UPDATE search_searchdocument d SET tsv = CAST(v.vector AS tsvector) "
    "FROM unnest(CAST(%s AS bigint[]), CAST(%s AS text[])) AS v(id, vector) WHERE d.id = v.id"
)
VECTOR_BATCH = 2000


def ranked_sql(words: int) -> str:
    """As ``backends.sqlite.ranked_sql``: the candidates ranked by ``base``'s formula and sliced."""
    overlap = " + ".join(["(position(' ' || %s || ' ' in ' ' || words || ' ') > 0)::int"] * words) or "0"
    # Only constants and placeholders go into this text.
    return (
        f"WITH c AS ({CANDIDATES_SQL}) "  # noqa: S608
        f"SELECT work_id, count(*) OVER () AS total, "
        f"COALESCE(rel / NULLIF(max(rel) OVER (), 0), 0) * {RELEVANCE_SHARE} "
        f"* (1 + {WORD_BONUS} * ({overlap}) / {max(words, 1)}.0) "
        f"+ {1 - RELEVANCE_SHARE} / (1 + EXTRACT(EPOCH FROM (now() - published_at)) / 86400.0 / {FRESH_DAYS}) "
        f"AS score FROM c ORDER BY score DESC, id DESC LIMIT %s OFFSET %s"
    )


class PostgresBackend:
    name = "postgresql"

    def install(self) -> None:
        if not self._missing():
            return  # nothing to do (an ALTER here would fail inside a transaction with pending FK checks)
        with connection.cursor() as cursor:
            for statement in schema.POSTGRESQL:
                cursor.execute(statement)

    def _missing(self) -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM information_schema.columns WHERE table_name = %s AND column_name = 'tsv'", [TABLE]
            )
            out = [] if cursor.fetchone() else ["missing column tsv"]
            cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [GIN_INDEX])
            if cursor.fetchone() is None:
                out.append(f"missing index {GIN_INDEX}")
        return out

    def problems(self) -> list[str]:
        out = self._missing()
        if not out:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM search_searchdocument WHERE tsv = ''::tsvector AND unigrams <> ''"
                )
                stale = cursor.fetchone()[0]
            if stale:
                out.append(f"{stale} documents without a vector")
        return out

    def document_saved(self, doc: SearchDocument) -> None:
        self.documents_saved([doc])

    def documents_saved(self, docs: list[SearchDocument]) -> None:
        """The vectors of many rows, one statement per :data:`VECTOR_BATCH` rows (not one per row)."""
        rows = [(doc.pk, tsvector_literal(Tokens(doc.words, doc.unigrams, doc.bigrams, doc.trigrams)))
                for doc in docs]
        with connection.cursor() as cursor:
            for start in range(0, len(rows), VECTOR_BATCH):
                chunk = rows[start:start + VECTOR_BATCH]
                cursor.execute(VECTORS_SQL, [[pk for pk, _v in chunk], [v for _pk, v in chunk]])

    def ranked(self, query: Query, *, offset: int, limit: int, candidates: int, widen: bool = False) -> Ranked:
        literal = tsquery_words_literal(query) if widen else tsquery_literal(query)
        if not literal:
            return Ranked([], 0)
        words = query_words(query)
        with connection.cursor() as cursor:
            cursor.execute(ranked_sql(len(words)), [literal, int(candidates), *words, int(limit), int(offset)])
            rows = cursor.fetchall()
        if not rows and offset:
            return Ranked([], self.ranked(query, offset=0, limit=1, candidates=candidates, widen=widen).total)
        return Ranked([work_id for work_id, _total, _score in rows], rows[0][1] if rows else 0)

    def match_work_ids(self, query: Query) -> list[uuid.UUID]:
        literal = tsquery_literal(query)
        if not literal:
            return []
        with connection.cursor() as cursor:
            cursor.execute("SELECT work_id FROM search_searchdocument WHERE tsv @@ CAST(%s AS tsquery)", [literal])
            return [r[0] for r in cursor.fetchall()]

    def rebuild(self) -> int:
        self.install()
        count = 0
        rows = SearchDocument.objects.only("id", "words", "unigrams", "bigrams", "trigrams")
        batch: list[SearchDocument] = []
        for doc in rows.iterator(chunk_size=VECTOR_BATCH):
            batch.append(doc)
            if len(batch) >= VECTOR_BATCH:
                self.documents_saved(batch)
                count += len(batch)
                batch = []
        self.documents_saved(batch)
        return count + len(batch)
