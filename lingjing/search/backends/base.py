"""The one search interface. Each backend answers the same questions over :class:`SearchDocument` rows.

A backend is chosen by the database (``sqlite`` → FTS5, ``postgresql`` → ``tsvector`` + GIN) or named in
``LINGJING_SEARCH_BACKEND`` (a dotted path to a class with this interface, e.g. an OpenSearch adapter). Index
writes happen in the caller's transaction: the document row is saved by ``search.index``, then
:meth:`SearchBackend.document_saved` lets the backend update whatever it keeps beside the row (SQLite: nothing,
its triggers did it; PostgreSQL: the vector). A backend outside the database would queue its write with
``transaction.on_commit`` instead, and reconcile with :meth:`SearchBackend.rebuild`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from lingjing.search.models import SearchDocument
    from lingjing.search.text import Query


@dataclass(frozen=True)
class Candidate:
    """A matching document: ``relevance`` is the backend's text score, higher is better (any positive scale)."""

    doc_id: int
    work_id: uuid.UUID | str  # a backend may hand back the stored form; ``service`` makes UUIDs of what it shows
    relevance: float
    published_at: dt.datetime
    words: str = ""  # the document's jieba words (for ranking)


class SearchBackend(Protocol):
    name: str

    def install(self) -> None:
        """Create what the index needs beside the document table (idempotent; run by the migration)."""

    def problems(self) -> list[str]:
        """What is missing or out of step (``lingjing search check``); empty when the index is sound."""

    def document_saved(self, doc: SearchDocument) -> None:
        """The row was inserted or updated in the current transaction."""

    def candidates(self, query: Query, limit: int, *, widen: bool = False) -> list[Candidate]:
        """The newest ``limit`` documents holding the query as a substring, each with its text relevance;
        ``widen``: instead those holding all of the query's jieba words, in any order."""

    def match_work_ids(self, query: Query) -> list[uuid.UUID]:
        """Every work holding the query as a substring (no limit): for recall checks and tools, not pages."""

    def rebuild(self) -> int:
        """Rebuild the index from the document rows; returns the number of documents."""
