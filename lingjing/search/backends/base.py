"""The one search interface. Each backend answers the same questions over :class:`SearchDocument` rows.

A backend is chosen by the database (``sqlite`` → FTS5, ``postgresql`` → ``tsvector`` + GIN) or named in
``LINGJING_SEARCH_BACKEND`` (a dotted path to a class with this interface, e.g. an OpenSearch adapter). Index
writes happen in the caller's transaction: the document row is saved by ``search.index``, then
:meth:`SearchBackend.document_saved` lets the backend update whatever it keeps beside the row (SQLite: nothing,
its triggers did it; PostgreSQL: the vector). A backend outside the database would queue its write with
``transaction.on_commit`` instead, and reconcile with :meth:`SearchBackend.rebuild`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from lingjing.search.models import SearchDocument
    from lingjing.search.text import Query


# The ranking every backend applies (in its own SQL, so no candidate crosses into Python):
#   score = RELEVANCE_SHARE × relevance ÷ the best candidate's relevance × (1 + WORD_BONUS × word overlap)
#         + (1 − RELEVANCE_SHARE) ÷ (1 + age in days ÷ FRESH_DAYS)
# relevance: FTS5 bm25 / PostgreSQL ts_rank; word overlap: the share of the query's jieba words that are whole
# words of the document; freshness halves after FRESH_DAYS days.
RELEVANCE_SHARE = 0.6
WORD_BONUS = 0.5
FRESH_DAYS = 30.0


@dataclass(frozen=True)
class Ranked:
    """One slice of a query's ranked results, best first, and how many ranked results there are in all."""

    work_ids: list[uuid.UUID | str]  # a backend may hand back the stored form; ``service`` makes UUIDs of them
    total: int


class SearchBackend(Protocol):
    name: str

    def install(self) -> None:
        """Create what the index needs beside the document table (idempotent; run by the migration)."""

    def problems(self) -> list[str]:
        """What is missing or out of step (``lingjing search check``); empty when the index is sound."""

    def document_saved(self, doc: SearchDocument) -> None:
        """The row was inserted or updated in the current transaction."""

    def documents_saved(self, docs: list[SearchDocument]) -> None:
        """Many rows were inserted or updated in the current transaction (bulk indexing): as
        :meth:`document_saved` for each, in as few statements as the backend can."""

    def ranked(self, query: Query, *, offset: int, limit: int, candidates: int, widen: bool = False) -> Ranked:
        """Of the newest ``candidates`` documents holding the query as a substring (``widen``: holding all of its
        jieba words, in any order), the slice ``offset:offset + limit`` by the ranking above."""

    def match_work_ids(self, query: Query) -> list[uuid.UUID]:
        """Every work holding the query as a substring (no limit): for recall checks and tools, not pages."""

    def rebuild(self) -> int:
        """Rebuild the index from the document rows; returns the number of documents."""
