"""Search recall on a generated Chinese corpus: every work holding the query is found, for 1-, 2- and 3+-character
queries, and nothing else (the substring scan is the reference); pages walk the ranked results."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction

from lingjing.community.tests.conftest import make_user, published_corpus
from lingjing.search import service
from lingjing.search.corpus import documents, sample_queries
from lingjing.search.text import contains, parse_query, segments


@pytest.fixture(scope="module")
def corpus(django_db_setup: Any, django_db_blocker: Any) -> Iterator[dict[Any, Any]]:
    """2,000 generated works, published once for the module's tests and rolled back after them."""
    with django_db_blocker.unblock(), transaction.atomic():
        author = make_user("corpus")
        works = published_corpus(author, documents(2000, seed=11))
        yield {wid: (doc, segments(" ".join([doc.title, *doc.tags]))) for wid, doc in works.items()}
        transaction.set_rollback(True)


def _expected(corpus: dict[Any, Any], raw: str) -> set[Any]:
    query = parse_query(raw)
    return {wid for wid, (_doc, segs) in corpus.items() if contains(segs, query)}


def test_recall_on_2000_chinese_works_for_one_two_and_longer_queries(db: Any, corpus: dict[Any, Any]) -> None:
    docs = [doc for doc, _segs in corpus.values()]
    queries = sample_queries(docs, count=90, seed=3)
    assert {min(len(q), 3) for q in queries} == {1, 2, 3}
    for raw in queries:
        expected = _expected(corpus, raw)
        assert expected, raw  # drawn from the corpus: something holds it
        assert set(service.match_work_ids(raw)) == expected, raw  # every substring match, and nothing else


def test_recall_of_substrings_that_cut_across_jieba_words(db: Any, corpus: dict[Any, Any]) -> None:
    rng = random.Random(5)
    for doc, _segs in rng.sample(list(corpus.values()), 30):
        title = "".join(ch for ch in doc.title if "\u4e00" <= ch <= "\u9fff")
        if len(title) < 4:
            continue
        start = rng.randint(1, len(title) - 3)
        raw = title[start:start + 3]
        found = set(service.match_work_ids(raw))
        assert found == _expected(corpus, raw) and found, raw


def test_pages_walk_all_ranked_results_without_repeats(db: Any, corpus: dict[Any, Any]) -> None:
    raw = "少女"
    total = len(_expected(corpus, raw))
    seen: list[str] = []
    page: int | None = 1
    while page:
        result = service.search(raw, page=page)
        seen += [item["id"] for item in result.items]
        assert all("<mark>" in item["highlight"] for item in result.items)
        page = result.next_page
    assert len(seen) == len(set(seen)) == min(total, service.CANDIDATES)


