"""Keeping the index in step with the works. Other apps call these from their actions, inside the transaction
of the change (publish, unpublish, moderation, erasure), so the index commits or rolls back with it:

* :func:`reindex_work` — after any change to a work: indexes it when it is published, removes it otherwise;
* :func:`remove_work_from_index` — a work that is no longer public;
* :func:`remove_user_from_index` — every document of a person (erasure; the erasure engine also deletes them
  itself through the registry declaration of :class:`SearchDocument`).

Only published works are ever in the index, so a draft cannot be found by anyone.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import connection
from django.utils import timezone

from lingjing.search.backends import get_backend
from lingjing.search.models import SearchDocument
from lingjing.search.text import document_tokens
from lingjing.works.models import Work, WorkStatus


def _require_transaction() -> None:
    if not connection.in_atomic_block:
        raise RuntimeError("index changes belong in the transaction of the action that causes them")


def _values(work: Work) -> dict[str, Any]:
    tags = [str(t) for t in (work.tags or [])]
    tokens = document_tokens(work.title, *tags)
    return {
        "author_id": work.author_id,
        "title": work.title,
        "tags": " ".join(tags),
        "words": tokens.words,
        "unigrams": tokens.unigrams,
        "bigrams": tokens.bigrams,
        "trigrams": tokens.trigrams,
        "published_at": work.published_at or timezone.now(),
        "indexed_at": timezone.now(),
    }


def reindex_work(work: Work) -> SearchDocument | None:
    """Index ``work`` if it is published (insert or update its document); otherwise remove it. Returns the
    document, or None when the work is not (any more) in the index."""
    _require_transaction()
    if work.status != WorkStatus.PUBLISHED or work.author_id is None:
        remove_work_from_index(work.pk)
        return None
    values = _values(work)
    doc = SearchDocument.objects.filter(work_id=work.pk).first()
    if doc is None:
        doc = SearchDocument(work_id=work.pk, **values)
        doc.save(force_insert=True)
    else:
        for name, value in values.items():
            setattr(doc, name, value)
        doc.save()
    get_backend().document_saved(doc)
    return doc


def index_works(works: list[Work]) -> int:
    """Index many works at once (rebuilds, imports, benchmarks): the published ones replace their documents in
    bulk, the others leave the index. Returns how many documents were written."""
    _require_transaction()
    SearchDocument.objects.filter(work_id__in=[w.pk for w in works]).delete()
    docs = [SearchDocument(work_id=w.pk, **_values(w)) for w in works
            if w.status == WorkStatus.PUBLISHED and w.author_id is not None]
    SearchDocument.objects.bulk_create(docs, batch_size=1000)
    if docs and any(d.pk is None for d in docs):  # a database that does not return the new ids
        docs = list(SearchDocument.objects.filter(work_id__in=[d.work_id for d in docs]))
    get_backend().documents_saved(docs)  # in bulk: one statement per few thousand rows on PostgreSQL
    return len(docs)


def remove_work_from_index(work_id: uuid.UUID | str) -> int:
    """Remove a work's document (the backend's index goes with the row). Returns how many rows went."""
    _require_transaction()
    deleted, _ = SearchDocument.objects.filter(work_id=work_id).delete()
    return deleted


def remove_user_from_index(user_id: uuid.UUID | str) -> int:
    """Remove every document of one person's works, including works whose link to them was already cut."""
    _require_transaction()
    uid = uuid.UUID(str(user_id))
    deleted, _ = SearchDocument.objects.filter(author_id=uid).delete()
    more, _ = SearchDocument.objects.filter(work__author_id=uid).delete()
    return deleted + more
