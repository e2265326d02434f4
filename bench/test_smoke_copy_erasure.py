"""Smoke run of ``bench/copy_and_erasure.py`` at a tiny size, so the benchmark keeps working (``make test``)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.django_db


def _bench() -> Any:
    path = Path(__file__).with_name("copy_and_erasure.py")
    spec = importlib.util.spec_from_file_location("bench_copy_and_erasure", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_copy_and_erasure_benchmark_runs_and_reports_both_ratios(tmp_path: Path) -> None:
    bench = _bench()
    result = bench.run(300, tmp_path, repeat=2)
    assert result["copy"]["records"] >= 300 and result["copy_baseline"]["records"] == 300
    assert result["erasure"]["rows"] >= 300 and result["erasure_baseline"]["rows"] == 300
    text = bench.report(result)
    assert "copy ratio" in text and "erasure ratio" in text and "median of 2 rounds" in text
