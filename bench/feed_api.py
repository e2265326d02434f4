"""Benchmark: the feed API's throughput against a bare Django JSON view on the same server.

    .venv/bin/python bench/feed_api.py                        # 5,000 works, 2 workers, 8 clients, 10 s per target
    .venv/bin/python bench/feed_api.py --works 20000 --duration 20 --concurrency 16
    .venv/bin/python bench/feed_api.py --database-url postgres://postgres@127.0.0.1:5432/bench_feed \\
        --redis-url redis://127.0.0.1:6379/5                 # PostgreSQL (recreated) + Redis (emptied)

1. **Prepare** a throwaway site (migrated; DEBUG off): ``--works`` published works by 50 authors, with likes and
   comments, written in bulk (this measures reads). By default on SQLite with the database cache; with
   ``--database-url`` on that PostgreSQL database (its name must start with ``bench``; dropped and created afresh,
   as ``loadtest.py`` does) and with ``--redis-url`` with Redis as the shared cache (that Redis database is
   emptied first).
2. **Serve** it with gunicorn (``--workers`` sync workers), from a WSGI entry point in this file that adds two
   views to the site's own URLs, behind the same middleware as every page:

   * ``/bench/bare-feed`` — the *bare Django JSON view*: the same first page (20 newest published works with
     their author's nickname and avatar) from one ``values()`` query, returned by ``JsonResponse``;
   * ``/bench/static`` — a constant ``JsonResponse``, the ceiling of the stack itself (for reference).

   The per-address request limits are off (``LINGJING_RATE_LIMIT_ENABLED=0``): all the load comes from one
   address. Any answer other than 200 counts as an error and not as throughput.

3. **Drive** each target for ``--duration`` seconds with ``--concurrency`` closed-loop clients (asyncio, a new
   connection per request as gunicorn's sync workers close them), after a warm-up; the targets alternate in
   rounds so that load from elsewhere on the machine hits them alike.

Printed: requests per second per target and the ratio feed API ÷ bare view (**goal ≥ 50 %**). The feed API is
``GET /api/v1/works`` (the contract's public feed: Ninja, schema validation, like and comment counts, covers).
The site keeps anonymous feed API answers in its shared cache (``core.cachecontrol.PublicApiCacheMiddleware``);
the benchmark turns that off by default so every request runs the view (``--public-cache 60`` measures it on).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"feed API": "/api/v1/works", "bare view": "/bench/bare-feed", "static JSON": "/bench/static"}
GOAL = 0.5


# --- the server side (imported by gunicorn as ``feed_api:application``) ------------------------------------


def bare_feed(request: Any) -> Any:
    from django.http import JsonResponse

    from lingjing.works.models import Work, WorkStatus

    rows = (Work.objects.filter(status=WorkStatus.PUBLISHED).order_by("-published_at")
            .values("id", "title", "status", "published_at", "author__nickname", "author__avatar_thumb")[:20])
    items = [{"id": str(r["id"]), "title": r["title"], "status": r["status"],
              "published_at": r["published_at"].isoformat(),
              "author": {"nickname": r["author__nickname"], "avatar_url": r["author__avatar_thumb"] or None}}
             for r in rows]
    return JsonResponse({"items": items, "next": 2})


def static_json(request: Any) -> Any:
    from django.http import JsonResponse

    return JsonResponse({"items": [], "next": None})


def __getattr__(name: str) -> Any:
    """This module is also the server's URLconf: the site's URLs plus the two benchmark views."""
    if name == "urlpatterns":
        from django.urls import path

        from lingjing.urls import urlpatterns

        return [path("bench/bare-feed", bare_feed), path("bench/static", static_json), *urlpatterns]
    raise AttributeError(name)


_app: Any = None


def application(environ: dict[str, Any], start_response: Any) -> Any:
    global _app
    if _app is None:
        from django.conf import settings
        from django.core.wsgi import get_wsgi_application

        _app = get_wsgi_application()
        settings.ROOT_URLCONF = "feed_api"
    return _app(environ, start_response)


# --- preparing the site -------------------------------------------------------------------------------------


def env_for(data_dir: Path, *, public_cache: int = 0, database_url: str = "", redis_url: str = "") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LINGJING_", "DJANGO_")) and k not in ("DATABASE_URL", "REDIS_URL")}
    env.update({"LINGJING_ENV": "development", "LINGJING_DEBUG": "0", "LINGJING_DATA_DIR": str(data_dir),
                "LINGJING_PUBLIC_CACHE_SECONDS": str(public_cache),
                # every request comes from 127.0.0.1: the per-address limits would answer 429 to the load itself
                "LINGJING_RATE_LIMIT_ENABLED": "0",
                "DJANGO_SETTINGS_MODULE": "lingjing.settings", "LINGJING_LOG_LEVEL": "WARNING",
                "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'bench'}"})
    if database_url:
        env["DATABASE_URL"] = database_url
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def seed(works: int, *, authors: int = 50) -> dict[str, int]:
    """Bulk rows for the feed (the current database): authors, published works, likes and comments."""
    import datetime as dt
    import random

    from django.db import connection, transaction
    from django.utils import timezone

    from lingjing.accounts.models import User
    from lingjing.community.models import Comment, Like
    from lingjing.search.corpus import documents
    from lingjing.works.models import Work, WorkStatus

    rng = random.Random(1)
    people = [User.objects.create_user(f"1390000{n:04d}", nickname=f"作者{n}", birth_date="1990-01-01")
              for n in range(authors)]
    start = timezone.now() - dt.timedelta(days=30)
    rows = [Work(author=people[d.n % authors], title=d.title, tags=list(d.tags), status=WorkStatus.PUBLISHED,
                 published_at=start + dt.timedelta(minutes=d.n), script=None)  # type: ignore[misc]
            for d in documents(works)]
    with transaction.atomic():
        Work.objects.bulk_create(rows, batch_size=2000)
        likes = [Like(user=people[u], work=w) for w in rows for u in rng.sample(range(authors), rng.randint(0, 5))]
        Like.objects.bulk_create(likes, batch_size=2000)
        comments = [Comment(work=w, author=people[rng.randrange(authors)], body="好看")
                    for w in rows for _ in range(rng.randint(0, 3))]
        Comment.objects.bulk_create(comments, batch_size=2000)
    if connection.vendor == "postgresql":
        # planner statistics, as autovacuum keeps them on a live site: freshly bulk-loaded tables have none, and
        # the planner, expecting a handful of rows, sorts every published work instead of walking the feed index
        with connection.cursor() as cursor:
            for table in ("accounts_user", "works_work", "community_like", "community_comment"):
                cursor.execute(f"ANALYZE {table}")
    return {"works": len(rows), "likes": len(likes), "comments": len(comments)}


def prepare(data_dir: Path, works: int, *, database_url: str = "", redis_url: str = "") -> dict[str, int]:
    """Migrate and seed in a child process (this one stays free of Django); a PostgreSQL database is recreated."""
    if database_url or redis_url:
        from loadtest import empty_redis, fresh_postgres

        if database_url:
            fresh_postgres(database_url)
        if redis_url:
            empty_redis(redis_url)
    code = ("import django, json, sys; django.setup(); from django.core.management import call_command; "
            "call_command('migrate', verbosity=0); import feed_api; "
            f"print(json.dumps(feed_api.seed({works})))")
    env = env_for(data_dir, database_url=database_url, redis_url=redis_url)
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT / "bench", check=True,
                         capture_output=True, text=True)
    import json

    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(data_dir: Path, port: int, workers: int, public_cache: int = 0, *, database_url: str = "",
          redis_url: str = "") -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "gunicorn", "feed_api:application", "--bind", f"127.0.0.1:{port}",
               "--workers", str(workers), "--worker-class", "sync", "--log-level", "warning", "--chdir",
               str(ROOT / "bench")]
    env = env_for(data_dir, public_cache=public_cache, database_url=database_url, redis_url=redis_url)
    server = subprocess.Popen(command, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("the server did not start")


# --- driving it ---------------------------------------------------------------------------------------------


async def _one(port: int, path: str) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    return int(data[9:12]) if data[:5] == b"HTTP/" else 0


async def _drive(port: int, path: str, seconds: float, concurrency: int) -> tuple[int, int]:
    ok = errors = 0
    stop = time.monotonic() + seconds

    async def client() -> None:
        nonlocal ok, errors
        while time.monotonic() < stop:
            try:
                status = await _one(port, path)
            except OSError:
                status = 0
            if status == 200:
                ok += 1
            else:
                errors += 1

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return ok, errors


def drive(port: int, *, seconds: float, concurrency: int, rounds: int) -> dict[str, dict[str, float]]:
    totals = {name: {"ok": 0.0, "errors": 0.0, "seconds": 0.0} for name in TARGETS}
    for path in TARGETS.values():
        asyncio.run(_drive(port, path, 1.0, concurrency))  # warm-up
    for _ in range(rounds):
        for name, path in TARGETS.items():
            t0 = time.monotonic()
            ok, errors = asyncio.run(_drive(port, path, seconds / rounds, concurrency))
            totals[name]["ok"] += ok
            totals[name]["errors"] += errors
            totals[name]["seconds"] += time.monotonic() - t0
    return {name: {"rps": t["ok"] / t["seconds"], "errors": t["errors"]} for name, t in totals.items()}


def report(result: dict[str, dict[str, float]], *, works: int, workers: int, concurrency: int,
           public_cache: int = 0, stack: str = "sqlite, database cache") -> str:
    ratio = result["feed API"]["rps"] / result["bare view"]["rps"] if result["bare view"]["rps"] else 0.0
    cache = f"public API cache {public_cache} s" if public_cache else "public API cache off"
    lines = [f"feed over {works:,} works ({stack}), gunicorn {workers} sync workers, {concurrency} clients, {cache}, "
             f"load average {os.getloadavg()[0]:.1f}",
             "| target | requests/s | errors |", "|---|---|---|"]
    lines += [f"| {name} (`{TARGETS[name]}`) | {r['rps']:.0f} | {r['errors']:.0f} |" for name, r in result.items()]
    lines.append(f"feed API / bare view = {ratio * 100:.0f} % (goal >= {GOAL * 100:.0f} %)")
    return "\n".join(lines)


def in_process(client: Any, *, requests: int = 20) -> dict[str, dict[str, float]]:
    """The same targets through Django's test client (the smoke test: no server, tiny numbers)."""
    from django.test import override_settings

    result = {}
    with override_settings(ROOT_URLCONF="feed_api"):
        for name, path in TARGETS.items():
            t0 = time.perf_counter()
            ok = sum(client.get(path).status_code == 200 for _ in range(requests))
            result[name] = {"rps": ok / (time.perf_counter() - t0), "errors": requests - ok}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--works", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per target")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--public-cache", type=int, default=0, metavar="SECONDS",
                        help="LINGJING_PUBLIC_CACHE_SECONDS for the server (default 0: every request runs the view)")
    parser.add_argument("--database-url", default="", help="PostgreSQL: a database named bench*, recreated")
    parser.add_argument("--redis-url", default="", help="a Redis database the benchmark may empty (the shared cache)")
    args = parser.parse_args(argv)
    urls = {"database_url": args.database_url, "redis_url": args.redis_url}
    stack = (f"{'postgresql' if args.database_url else 'sqlite'}, "
             f"{'redis cache' if args.redis_url else 'database cache'}")
    data_dir = Path(tempfile.mkdtemp(prefix="lingjing-bench-feed-"))
    print(f"data dir {data_dir}; preparing {args.works:,} works")
    print(f"seeded {prepare(data_dir, args.works, **urls)}")
    port = free_port()
    server = serve(data_dir, port, args.workers, args.public_cache, **urls)
    try:
        result = drive(port, seconds=args.duration, concurrency=args.concurrency, rounds=args.rounds)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    print(report(result, works=args.works, workers=args.workers, concurrency=args.concurrency,
                 public_cache=args.public_cache, stack=stack))
    return 0


if __name__ == "__main__":
    sys.exit(main())
