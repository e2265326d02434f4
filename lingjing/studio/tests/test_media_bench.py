"""The media benchmark stays runnable (a smoke run at a tiny size; the real figures come from running it)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench" / "studio_pipeline.py"


def test_bench_runs_the_pipeline_and_reports_the_ratio(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("studio_pipeline_bench", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--shots", "1", "--size", "96x160", "--speed", "ultrafast", "--keep", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    ratio = re.search(r"ratio\s+([0-9.]+)x", out)
    assert ratio is not None and float(ratio.group(1)) > 0
    assert (tmp_path / "video.mp4").stat().st_size > 0 and (tmp_path / "baseline.mp4").stat().st_size > 0
    assert "1 shots, 96x160" in out
