"""Smoke run of ``bench/search.py`` at a tiny size, so the benchmark keeps working (``make test``)."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def _bench() -> Any:
    from pathlib import Path

    path = Path(__file__).with_name("search.py")
    spec = importlib.util.spec_from_file_location("bench_search", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_search_benchmark_runs_and_finds_everything_the_like_scan_finds() -> None:
    """On the suite's database: SQLite FTS5 by default, the tsvector + GIN backend when it runs on PostgreSQL."""
    from lingjing.search.corpus import documents, sample_queries

    bench = _bench()
    bench.generate(300, chunk=150, log=lambda _line: None)
    queries = sample_queries(list(documents(300)), count=9)
    result = bench.measure(queries, repeat=1)
    assert result["all"]["queries"] == 9 and result["all"]["recall"] == 1.0
    assert all(result[name]["queries"] == 3 for name in ("1 char", "2 chars", "3+ chars"))
    assert result["vendor"] == connection.vendor
    text = bench.report(result, works=300)
    raw = "raw PG full-text" if connection.vendor == "postgresql" else "raw FTS5"
    assert f"p95 ours / {raw}" in text and "recall 100.00 %" in text
