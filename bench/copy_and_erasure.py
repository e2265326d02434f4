"""Copy and erasure of one person with many rows, against the raw database work they cannot avoid.

    .venv/bin/python bench/copy_and_erasure.py                 # 100,000 rows, a throwaway SQLite database
    .venv/bin/python bench/copy_and_erasure.py --rows 20000 --chunk 500
    .venv/bin/python bench/copy_and_erasure.py --repeat 5       # erasure: median of 5 rounds, alternating order
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_rights .venv/bin/python bench/copy_and_erasure.py

1. **Copy**: the rights-request package (``lingjing.privacy.requests.package.build_package``: every declared datum
   through the registry, written as streamed zip with data.json, CSV and HTML per category) against a raw
   ``SELECT`` of the same rows plus ``json.dumps`` of them into a file. Peak memory of the copy is traced
   (``tracemalloc``) and the process's peak RSS is read before and after. **Goal: ≤ 3×, flat memory.**
2. **Erasure**: the registry-driven engine (``engines.erasure.erase_person``: chunked, audited, resumable, keys
   shredded) against raw ``DELETE``s of the same rows. **Goal: ≤ 3×.**

Both ratios are printed for wall-clock and CPU time (the CPU figure is steadier on a busy machine). The rows live
in the test-only model ``privacy_testapp.Bulk`` (one declared text field per row), so the script runs with
``LINGJING_ENV=test`` settings in a temporary data directory; nothing touches ``var/``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _setup(data_dir: str) -> None:
    os.environ["LINGJING_ENV"] = "test"
    os.environ["LINGJING_DATA_DIR"] = data_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lingjing.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_person(phone: str) -> Any:
    from lingjing.accounts.models import User

    return User.objects.create_user(phone, nickname=f"bench-{phone[-4:]}", birth_date="1990-01-01")


def add_rows(user: Any, rows: int) -> None:
    from lingjing.privacy.tests.testapp.models import Bulk

    batch = 5000
    for start in range(0, rows, batch):
        Bulk.objects.bulk_create([Bulk(owner=user, text=f"使用记录 {i:07d} " + "x" * 40, n=i)
                                  for i in range(start, min(rows, start + batch))])


def copy(user: Any, out: Path) -> dict[str, Any]:
    from lingjing.privacy.requests.package import build_package

    tracemalloc.start()
    wall, cpu, info = _timed(lambda: build_package(user, out))
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"wall": wall, "cpu": cpu, "records": info.records, "bytes": info.size, "traced_peak_mb": peak / 2**20}


def baseline_copy(user: Any, out: Path) -> dict[str, Any]:
    from django.db import connection

    def run() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT id, owner_id, text, n FROM privacy_testapp_bulk WHERE owner_id = %s ORDER BY id",
                           [user.pk.hex if connection.vendor == "sqlite" else user.pk])
            rows = cursor.fetchall()
        out.write_text(json.dumps([[r[0], str(r[1]), r[2], r[3]] for r in rows], ensure_ascii=False))
        return len(rows)

    tracemalloc.start()
    wall, cpu, count = _timed(run)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"wall": wall, "cpu": cpu, "records": count, "traced_peak_mb": peak / 2**20}


def erasure(user: Any) -> dict[str, Any]:
    from lingjing.privacy.engines.erasure import erase_person

    wall, cpu, report = _timed(lambda: erase_person(user.pk, reason="benchmark"))
    assert report.finished
    return {"wall": wall, "cpu": cpu, "rows": sum(report.deleted.values()) + sum(report.anonymised.values())}


def baseline_erasure(user: Any) -> dict[str, Any]:
    """The rows the engine removes, by hand: the bulk rows, the token and session rows, the user row."""
    from django.db import connection, transaction

    uid = user.pk.hex if connection.vendor == "sqlite" else user.pk

    def run() -> int:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM privacy_testapp_bulk WHERE owner_id = %s", [uid])
            count = cursor.rowcount
            cursor.execute("DELETE FROM accounts_user WHERE id = %s", [uid])
        return int(count)

    wall, cpu, rows = _timed(run)
    return {"wall": wall, "cpu": cpu, "rows": rows}


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {**runs[0], "wall": statistics.median(r["wall"] for r in runs),
            "cpu": statistics.median(r["cpu"] for r in runs)}


def run(rows: int, work_dir: Path, repeat: int = 1) -> dict[str, Any]:
    """Both comparisons for one person with ``rows`` rows (the caller has set Django up).

    The erasure comparison runs ``repeat`` rounds, engine and raw DELETEs alternating first, each on a fresh person
    with ``rows`` rows; the figures are the medians (wall-clock times on a shared machine swing from run to run).
    """
    from django.conf import settings

    settings.LINGJING_AUDIT_CHECKPOINT_EVERY = 10**9
    person = make_person("+8613900009001")
    add_rows(person, rows)
    rss_before = _peak_rss_mb()
    package = copy(person, work_dir / "copy.zip")  # first: the peak RSS after it is the copy's own
    rss_after = _peak_rss_mb()
    baseline = baseline_copy(person, work_dir / "baseline.json")
    engine_runs: list[dict[str, Any]] = []
    raw_runs: list[dict[str, Any]] = []
    for round_ in range(repeat):
        if round_:
            person = make_person(f"+86139000091{round_:02d}")
            add_rows(person, rows)
        other = make_person(f"+86139000092{round_:02d}")
        add_rows(other, rows)
        if round_ % 2:
            raw_runs.append(baseline_erasure(other))
            engine_runs.append(erasure(person))
        else:
            engine_runs.append(erasure(person))
            raw_runs.append(baseline_erasure(other))
    erase_engine, erase_raw = _median(engine_runs), _median(raw_runs)
    return {
        "erasure_rounds": repeat,
        "rows": rows,
        "copy": package, "copy_baseline": baseline,
        "copy_ratio_wall": package["wall"] / baseline["wall"], "copy_ratio_cpu": package["cpu"] / baseline["cpu"],
        "peak_rss_mb_before_copy": rss_before, "peak_rss_mb_after_copy": rss_after,
        "erasure": erase_engine, "erasure_baseline": erase_raw,
        "erasure_ratio_wall": erase_engine["wall"] / erase_raw["wall"],
        "erasure_ratio_cpu": erase_engine["cpu"] / max(erase_raw["cpu"], 1e-6),
    }


def report(result: dict[str, Any]) -> str:
    c, b, e, r = result["copy"], result["copy_baseline"], result["erasure"], result["erasure_baseline"]
    return "\n".join([
        f"rows: {result['rows']:,}",
        f"copy     : {c['wall']:.2f} s wall / {c['cpu']:.2f} s cpu, {c['records']:,} records, "
        f"{c['bytes'] / 2**20:.1f} MB zip, traced peak {c['traced_peak_mb']:.1f} MB",
        f"baseline : {b['wall']:.2f} s wall / {b['cpu']:.2f} s cpu (SELECT + json.dumps), traced peak "
        f"{b['traced_peak_mb']:.1f} MB",
        f"copy ratio: {result['copy_ratio_wall']:.2f}x wall, {result['copy_ratio_cpu']:.2f}x cpu (goal <= 3x); "
        f"peak RSS {result['peak_rss_mb_before_copy']:.0f} -> {result['peak_rss_mb_after_copy']:.0f} MB",
        f"erasure  : {e['wall']:.2f} s wall / {e['cpu']:.2f} s cpu, {e['rows']:,} rows"
        + (f" (median of {result['erasure_rounds']} rounds)" if result["erasure_rounds"] > 1 else ""),
        f"baseline : {r['wall']:.2f} s wall / {r['cpu']:.2f} s cpu (raw DELETEs)",
        f"erasure ratio: {result['erasure_ratio_wall']:.2f}x wall, {result['erasure_ratio_cpu']:.2f}x cpu (goal <= 3x)",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=0, help="LINGJING_ERASURE_CHUNK for the run (0: the setting)")
    parser.add_argument("--repeat", type=int, default=1, help="erasure rounds (fresh people each); medians reported")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lingjing-bench-") as tmp:
        if args.chunk:
            os.environ["LINGJING_ERASURE_CHUNK"] = str(args.chunk)
        _setup(tmp)
        print(report(run(args.rows, Path(tmp), max(1, args.repeat))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
