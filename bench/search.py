"""Benchmark: Chinese search over generated works — our search against the raw full-text statement and a LIKE scan.

    .venv/bin/python bench/search.py                         # 100,000 works, 150 queries
    .venv/bin/python bench/search.py --works 1000000         # the issue's size (generation ~10-20 min)
    .venv/bin/python bench/search.py --works 1000000 --data-dir /tmp/bench-search --reuse   # measure again
    .venv/bin/python bench/search.py --database-url postgres://postgres@127.0.0.1:5432/bench_search \\
        --redis-url redis://127.0.0.1:6379/5     # PostgreSQL (recreated; tsvector + GIN) + Redis (emptied)

1. **Prepare** a throwaway SQLite site (``--data-dir``, migrated), one author and ``--works`` generated works
   (``lingjing.search.corpus``: titles and tags from a skewed vocabulary, published over the past year), indexed
   through ``search.index.index_works`` — the same rows, triggers and FTS5 table the site uses. A narrow side
   table (id, title, tags) is what a LIKE-based search would scan. With ``--database-url`` the site is on
   PostgreSQL (the ``bench_*`` database is dropped and created again, then migrated): the same works, indexed
   by the same ``index_works`` — document rows in bulk, then their ``tsvector`` column (behind the GIN index)
   written by the PostgreSQL backend in bulk (``backends.postgres.VECTORS_SQL``); then ``VACUUM ANALYZE``.
2. **Queries**: ``--queries`` substrings drawn from the titles, a third each of one, two and three-to-five
   characters (``corpus.sample_queries``).
3. **Measure**, per query, the best of ``--repeat`` runs of:

   * *ours* — ``search.service.search(q)``: parsing and jieba, the candidate query, ranking by relevance and
     freshness, loading the page's 20 cards (one query) and highlighting;
   * *raw FTS5* — the candidate statement our backend sends (``backends.sqlite.CANDIDATES_SQL``: the same MATCH
     expression, the newest 300 matches with bm25), executed directly; and, for reference, FTS5's own ranked top
     20 (``ORDER BY rank LIMIT 20``, which scores every match). On PostgreSQL: ``backends.postgres.
     CANDIDATES_SQL`` with the same ``tsquery`` literal (the newest 300 matches with ``ts_rank``) on the psycopg
     cursor itself, and for reference ``ORDER BY ts_rank(...) DESC LIMIT 20`` over every match;
   * *LIKE* — ``title LIKE '%q%' OR tags LIKE '%q%'`` over the side table (once per query: it is slow).

   Recall: every work the LIKE scan finds must be among ``search.service.match_work_ids(q)`` (the index's full
   answer, no page limit).

Printed: p50/p95 per method, the ratios p95 ours ÷ p95 raw (**goal ≤ 1.5×**) and p95 LIKE ÷ p95 ours (**goal ≥
20×**), and recall (**goal ≥ 99 %**), also per query length. The load average is printed too: on a shared machine,
compare figures taken at similar load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RAW_RANK_SQL = "SELECT rowid FROM search_fts WHERE search_fts MATCH %s ORDER BY rank LIMIT 20"
PG_RAW_RANK_SQL = ("SELECT id FROM search_searchdocument, CAST(%s AS tsquery) q WHERE tsv @@ q "
                   "ORDER BY ts_rank('{0.1, 0.2, 0.4, 1.0}', tsv, q) DESC LIMIT 20")
LIKE_SQL = "SELECT work_id FROM bench_plain WHERE title LIKE %s OR tags LIKE %s"
P95_RAW_GOAL = 1.5
LIKE_GOAL = 20.0
RECALL_GOAL = 0.99


def setup_django(data_dir: Path, database_url: str = "", redis_url: str = "", *, fresh: bool = True) -> None:
    """A private site in ``data_dir``: SQLite there, or the given PostgreSQL database (recreated unless
    ``fresh`` is false) and Redis (emptied)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    if database_url:
        from loadtest import fresh_postgres

        if fresh:
            fresh_postgres(database_url)
        os.environ["DATABASE_URL"] = database_url
    if redis_url:
        from loadtest import empty_redis

        empty_redis(redis_url)
        os.environ["REDIS_URL"] = redis_url
    os.environ["LINGJING_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("LINGJING_ENV", "development")
    os.environ["LINGJING_DEBUG"] = "0"
    os.environ["DJANGO_SETTINGS_MODULE"] = "lingjing.settings"
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def generate(count: int, *, chunk: int = 20000, log: Callable[[str], None] = print) -> dict[str, float]:
    """``count`` published works by one author, indexed, plus the side table for the LIKE scan. Returns the
    seconds each stage took."""
    import datetime as dt

    from django.db import connection, transaction
    from django.utils import timezone

    from lingjing.accounts.models import User
    from lingjing.search.corpus import documents
    from lingjing.search.index import index_works
    from lingjing.works.models import Work, WorkStatus

    author = User.objects.filter(nickname="bench").first() or User.objects.create_user(
        "13900000000", nickname="bench", birth_date="1990-01-01")
    start = timezone.now() - dt.timedelta(days=365)
    step = dt.timedelta(days=365) / max(count, 1)
    timings = {"works": 0.0, "index": 0.0, "plain": 0.0}
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        key = "bigserial PRIMARY KEY" if postgres else "INTEGER PRIMARY KEY"
        cursor.execute(f"CREATE TABLE IF NOT EXISTS bench_plain (id {key}, work_id TEXT, title TEXT, tags TEXT)")
    batch: list[Any] = []
    done = 0

    def flush() -> None:
        nonlocal done
        t0 = time.perf_counter()
        works = [Work(author=author, title=d.title, tags=list(d.tags), status=WorkStatus.PUBLISHED,
                      published_at=start + step * d.n, script=None) for d in batch]  # type: ignore[misc]
        with transaction.atomic():
            Work.objects.bulk_create(works, batch_size=2000)
        t1 = time.perf_counter()
        with transaction.atomic():
            index_works(works)
        t2 = time.perf_counter()
        plain = [(w.pk.hex, w.title, " ".join(w.tags)) for w in works]
        with transaction.atomic(), connection.cursor() as cursor:
            if postgres:
                with cursor.connection.cursor().copy("COPY bench_plain (work_id, title, tags) FROM STDIN") as copy:
                    for row in plain:
                        copy.write_row(row)
            else:
                cursor.executemany("INSERT INTO bench_plain (work_id, title, tags) VALUES (%s, %s, %s)", plain)
        timings["works"] += t1 - t0
        timings["index"] += t2 - t1
        timings["plain"] += time.perf_counter() - t2
        done += len(batch)
        batch.clear()
        log(f"  {done:,} works generated and indexed")

    for doc in documents(count):
        batch.append(doc)
        if len(batch) >= chunk:
            flush()
    if batch:
        flush()
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        if not postgres:
            cursor.execute("INSERT INTO search_fts(search_fts) VALUES ('optimize')")
        elif connection.in_atomic_block:  # the smoke test's transaction: VACUUM cannot run there
            cursor.execute("ANALYZE search_searchdocument")
            cursor.execute("ANALYZE bench_plain")
        else:  # the GIN index's pending list merged, the planner's statistics fresh
            cursor.execute("VACUUM ANALYZE search_searchdocument")
            cursor.execute("VACUUM ANALYZE bench_plain")
    timings["optimize"] = time.perf_counter() - t0
    return timings


def _best(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def measure(queries: list[str], *, repeat: int = 3) -> dict[str, Any]:
    """Time the four methods over ``queries`` and check recall (the database is Django's current one)."""
    from django.db import connection

    from lingjing.search import service
    from lingjing.search.backends import postgres, sqlite
    from lingjing.search.text import fts5_expression, parse_query, tsquery_literal

    service.search("预热")  # jieba's dictionary and the statement cache
    if connection.vendor == "postgresql":  # psycopg takes the statements as they are
        candidates_sql, rank_sql, like_sql = postgres.CANDIDATES_SQL, PG_RAW_RANK_SQL, LIKE_SQL
        expression_of: Callable[[Any], str] = tsquery_literal
    else:  # sqlite3's placeholder
        candidates_sql, rank_sql, like_sql = (sql.replace("%s", "?") for sql in (sqlite.CANDIDATES_SQL,
                                                                                 RAW_RANK_SQL, LIKE_SQL))
        expression_of = fts5_expression
    rows: list[dict[str, Any]] = []
    with connection.cursor() as cursor:
        raw = cursor.connection.cursor()  # the driver's own cursor: no Django wrapper in the baseline
        for q in queries:
            expression = expression_of(parse_query(q))
            ours = _best(lambda q=q: service.search(q), repeat)
            raw_same = _best(lambda e=expression: raw.execute(candidates_sql, (e, service.CANDIDATES)).fetchall(),
                             repeat)
            raw_rank = _best(lambda e=expression: raw.execute(rank_sql, (e,)).fetchall(), repeat)
            t0 = time.perf_counter()
            expected = {r[0] for r in raw.execute(like_sql, (f"%{q}%", f"%{q}%")).fetchall()}
            like = time.perf_counter() - t0
            found = {w.hex for w in service.match_work_ids(q)}
            rows.append({"q": q, "len": min(len(q), 3), "ours": ours, "raw": raw_same, "raw_rank": raw_rank,
                         "like": like, "expected": len(expected), "found": len(expected & found)})
    result = summarise(rows)
    result["vendor"] = connection.vendor
    return result


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def stats(subset: list[dict[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {"queries": len(subset)}
        for key in ("ours", "raw", "raw_rank", "like"):
            values = [r[key] * 1000 for r in subset]
            out[key] = {"p50": statistics.median(values), "p95": p95(values)}
        expected = sum(r["expected"] for r in subset)
        out["recall"] = sum(r["found"] for r in subset) / expected if expected else 1.0
        out["missed_queries"] = [r["q"] for r in subset if r["found"] < r["expected"]]
        out["hits"] = statistics.median([r["expected"] for r in subset]) if subset else 0
        return out

    result = {"all": stats(rows)}
    for length, name in ((1, "1 char"), (2, "2 chars"), (3, "3+ chars")):
        result[name] = stats([r for r in rows if r["len"] == length])
    overall = result["all"]
    overall["ratio_raw"] = overall["ours"]["p95"] / overall["raw"]["p95"] if overall["raw"]["p95"] else 0.0
    overall["ratio_like"] = overall["like"]["p95"] / overall["ours"]["p95"] if overall["ours"]["p95"] else 0.0
    return result


def report(result: dict[str, Any], *, works: int) -> str:
    pg = result.get("vendor") == "postgresql"
    engine, raw = ("PostgreSQL tsvector + GIN", "raw PG full-text") if pg else ("SQLite FTS5", "raw FTS5")
    ranked = "ts_rank top-20 p95" if pg else "FTS5 rank top-20 p95"
    lines = [f"search over {works:,} works ({engine}), load average {os.getloadavg()[0]:.1f}",
             f"| queries | ours p50 / p95 | {raw} (same statement) p50 / p95 | {ranked} | "
             "LIKE p50 / p95 | median hits | recall |",
             "|---|---|---|---|---|---|---|"]
    for name in ("1 char", "2 chars", "3+ chars", "all"):
        s = result[name]
        if not s["queries"]:
            continue
        lines.append(
            f"| {name} ({s['queries']}) | {s['ours']['p50']:.1f} / {s['ours']['p95']:.1f} ms | "
            f"{s['raw']['p50']:.1f} / {s['raw']['p95']:.1f} ms | {s['raw_rank']['p95']:.1f} ms | "
            f"{s['like']['p50']:.0f} / {s['like']['p95']:.0f} ms | {s['hits']:,.0f} | {s['recall'] * 100:.2f} % |")
    overall = result["all"]
    lines.append(f"p95 ours / {raw} = {overall['ratio_raw']:.2f}x (goal <= {P95_RAW_GOAL}x); "
                 f"p95 LIKE / ours = {overall['ratio_like']:.1f}x (goal >= {LIKE_GOAL:.0f}x); "
                 f"recall {overall['recall'] * 100:.2f} % (goal >= {RECALL_GOAL * 100:.0f} %)")
    if overall["missed_queries"]:
        lines.append(f"queries with a miss: {', '.join(overall['missed_queries'][:20])}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--works", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the generated site here")
    parser.add_argument("--reuse", action="store_true", help="measure an already generated --data-dir "
                        "(or --database-url)")
    parser.add_argument("--database-url", default="", help="postgres://…/bench_… (dropped and created again "
                        "unless --reuse); default: SQLite in --data-dir")
    parser.add_argument("--redis-url", default="", help="redis://… for the cache (emptied)")
    args = parser.parse_args(argv)
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="lingjing-bench-search-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    setup_django(data_dir, args.database_url, args.redis_url, fresh=not args.reuse)
    from django.core.management import call_command
    from django.db import connection

    from lingjing.search.corpus import documents, sample_queries

    if not args.reuse:
        print(f"data dir {data_dir}; {connection.vendor}; migrating")
        call_command("migrate", verbosity=0)
        t0 = time.perf_counter()
        timings = generate(args.works)
        total = time.perf_counter() - t0
        print(f"generated {args.works:,} works in {total:.0f} s (works {timings['works']:.0f} s, index "
              f"{timings['index']:.0f} s, side table {timings['plain']:.0f} s, optimize {timings['optimize']:.0f} s)")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_database_size(current_database()), pg_relation_size('search_doc_tsv_gin')")
            size, gin = cursor.fetchone()
        print(f"database {size / 1e6:,.0f} MB (GIN index {gin / 1e6:,.0f} MB)")
    else:
        print(f"database {(data_dir / 'lingjing.sqlite3').stat().st_size / 1e6:,.0f} MB")
    sample = list(documents(min(args.works, 50_000)))
    queries = sample_queries(sample, count=args.queries)
    result = measure(queries, repeat=args.repeat)
    print(report(result, works=args.works))
    return 0


if __name__ == "__main__":
    sys.exit(main())
