"""Smoke run of ``bench/feed_api.py`` at a tiny size (in process, no server), so it keeps working (``make test``)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_feed_benchmark_serves_all_targets_and_reports_the_ratio() -> None:
    sys.path.insert(0, str(Path(__file__).parent))  # the server imports it as ``feed_api`` (its own URLconf)
    bench = importlib.import_module("feed_api")
    counts = bench.seed(60, authors=5)
    assert counts["works"] == 60
    result = bench.in_process(Client(), requests=5)
    assert set(result) == set(bench.TARGETS) and all(r["errors"] == 0 for r in result.values())
    assert "feed API / bare view" in bench.report(result, works=60, workers=1, concurrency=1)
