"""Benchmark 7: a mixed workload at a fixed rate against ``lingjing serve`` on loopback.

    .venv/bin/python bench/loadtest.py                                     # SQLite, 200 req/s for 60 s
    .venv/bin/python bench/loadtest.py --rate 200 --duration 30 --works 500
    .venv/bin/python bench/loadtest.py --database-url postgres://postgres@127.0.0.1:5432/bench_load \\
        --redis-url redis://127.0.0.1:6379/5                               # PostgreSQL + Redis (RQ, cache_db)

1. **Prepare** a throwaway data directory: production settings (argon2, hashed and compressed static files,
   DEBUG off; generated keys; a reverse proxy in front: ``LINGJING_PROXY_COUNT=1``), migrations, optionally
   ``lingjing demo``, then ``--works`` generated Chinese works published through the works actions by generated
   authors, and ``--members`` signed-in members with API tokens (``seed`` below, in a child process).
   With ``--database-url`` the database is dropped and created afresh; ``--redis-url`` names a Redis database the
   benchmark owns (it is emptied) and turns on the cache, rate limits, ``cache_db`` sessions and the RQ task queue
   there.
2. **Serve**: ``lingjing serve`` (gunicorn gthread, ``--web-workers`` × ``--threads``, plus its task worker) in a
   child process, as in production.
3. **Drive** it open-loop from this process (aiohttp): request *i* is sent at ``start + i / rate`` whether or not
   earlier ones have answered, and its latency counts from that moment, so a slow server cannot slow the
   clock (no coordinated omission). Requests come from a pool of client addresses (``X-Forwarded-For``) as they
   would through the proxy. A warm-up second, then the **baseline**: ``/healthz`` alone (one tiny database query
   through the same middleware) at the same rate, then the **mix** for ``--duration`` seconds:

   home page 18 % · feed API 18 % · work pages 18 % · work API 6 % · search page 7 % · search API 8 % ·
   health 5 % · static files 12 % · signed-in API calls (``/api/v1/me``, ``/api/v1/privacy/consents``) 8 %.

Printed: achieved requests per second, p50/p95/p99 latency, error rate (any status ≥ 400, a timeout or a
refused connection) for both phases, the mix's p95 per endpoint, the server's CPU use (all its processes), and
the ratio mix p95 ÷ baseline p95. **Goal: 200 req/s sustained on 2 cores, p95 < 500 ms, errors < 0.1 %.**
The load average is printed before and after: on a shared machine, compare figures at similar load.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
P95_GOAL_MS = 500.0
ERROR_GOAL = 0.001

# name, weight (percent), needs a token
MIX: tuple[tuple[str, int], ...] = (
    ("home", 18), ("feed_api", 18), ("work_page", 18), ("work_api", 6), ("search_page", 7), ("search_api", 8),
    ("healthz", 5), ("static", 12), ("me_api", 4), ("consents_api", 4),
)  # fmt: skip


# --- preparing the site -----------------------------------------------------------------------------------


def server_env(data_dir: Path, database_url: str = "", redis_url: str = "", mode: str = "production") -> dict[str, str]:
    """The child processes' environment: this one without Lingjing settings, plus the benchmark's."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LINGJING_", "DJANGO_")) and key not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update({
        "LINGJING_ENV": mode,
        "LINGJING_DATA_DIR": str(data_dir),
        "LINGJING_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LINGJING_PROXY_COUNT": "1",  # as behind the TLS-terminating proxy: the client is in X-Forwarded-For
        "LINGJING_SSL_REDIRECT": "0",
        "LINGJING_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
    })  # fmt: skip
    if mode == "production":
        keyfile = data_dir / "bench-keys.json"
        if not keyfile.exists():
            b64 = lambda: base64.b64encode(os.urandom(32)).decode()  # noqa: E731
            keyfile.write_text(json.dumps({
                "LINGJING_SECRET_KEY": secrets.token_urlsafe(64), "LINGJING_MASTER_KEY": b64(),
                "LINGJING_BLIND_INDEX_KEY": b64(), "LINGJING_AUDIT_SIGNING_KEY": b64(),
            }))  # fmt: skip
        env.update(json.loads(keyfile.read_text()))
    if database_url:
        env["DATABASE_URL"] = database_url
    if redis_url:
        env.update({"REDIS_URL": redis_url, "LINGJING_TASKS_ON_REDIS": "1", "LINGJING_SESSION_ENGINE": "cache_db"})
    return env


def lingjing(env: dict[str, str], *args: str, timeout: float = 900) -> str:
    command = [sys.executable, "-m", "lingjing.cli", *args]
    result = subprocess.run(command, env=env, cwd=env["LINGJING_DATA_DIR"], capture_output=True, text=True,
                            timeout=timeout, check=False)  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"lingjing {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result.stdout


def fresh_postgres(url: str) -> None:
    """Drop and create the benchmark's database (never the server's others)."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not re.fullmatch(r"bench[a-z0-9_]*", name):
        raise SystemExit(f"refusing to recreate {name!r}: the benchmark's database name must start with 'bench'")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def empty_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def prepare(env: dict[str, str], *, works: int, members: int, demo: bool, migrate: bool = True) -> dict[str, Any]:
    if migrate:
        lingjing(env, "migrate", "--noinput", "-v", "0")
    if demo:
        lingjing(env, "demo")
    fixture = Path(env["LINGJING_DATA_DIR"]) / "bench-fixture.json"
    command = [sys.executable, str(Path(__file__).resolve()), "seed", "--works", str(works), "--members",
               str(members), "--out", str(fixture)]  # fmt: skip
    result = subprocess.run(command, env=env, cwd=env["LINGJING_DATA_DIR"], capture_output=True, text=True,
                            timeout=1800, check=False)  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"seeding failed:\n{result.stderr[:2500]}\n…\n{result.stderr[-2500:]}")
    return dict(json.loads(fixture.read_text()))


def seed(works: int, members: int, out: Path) -> None:
    """In the child (Django set up from the environment): authors, published works, members with tokens."""
    import datetime as dt

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lingjing.settings")
    sys.path.insert(0, str(ROOT))
    django.setup()
    from lingjing.accounts.actions import do_create_api_token, do_register_user
    from lingjing.search.corpus import documents, sample_queries
    from lingjing.works.actions import do_create_work
    from lingjing.works.publishing import do_publish_work

    def member(n: int, nickname: str) -> Any:
        return do_register_user(phone=f"+86139{n:08d}", nickname=nickname, birth_date=dt.date(1990, 1, 1))

    docs = list(documents(works, seed=11))
    authors = [member(10_000 + i, f"基准作者{i}") for i in range(max(1, min(20, works // 25 or 1)))]
    work_ids = []
    for doc in docs:
        author = authors[doc.n % len(authors)]
        script = f"{doc.title}。第一章，故事开始了。" * 3
        work = do_create_work(author, title=doc.title, script=script, tags=doc.tags, acting_user=author)
        do_publish_work(work, acting_user=author)
        work_ids.append(str(work.pk))
    tokens = [do_create_api_token(member(20_000 + i, f"基准读者{i}"), method="code") for i in range(members)]
    queries = sample_queries(docs, count=60) if docs else ["故事"]
    out.write_text(json.dumps({"work_ids": work_ids, "tokens": tokens, "queries": queries}, ensure_ascii=False))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    env: dict[str, str]
    web_workers: int
    threads: int
    task_worker: bool = True
    migrate: bool | None = None  # None: serve's default (only on the embedded SQLite database)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 600) -> None:
        log = (Path(self.env["LINGJING_DATA_DIR"]) / "serve.log").open("wb")
        command = [sys.executable, "-m", "lingjing.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                   "--workers", str(self.web_workers), "--threads", str(self.threads),
                   "--worker" if self.task_worker else "--no-worker"]  # fmt: skip
        if self.migrate is not None:
            command.append("--migrate" if self.migrate else "--no-migrate")
        self.proc = subprocess.Popen(command, env=self.env, cwd=self.env["LINGJING_DATA_DIR"], stdout=log,
                                     stderr=subprocess.STDOUT)  # fmt: skip
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"serve exited with {self.proc.returncode}; see {log.name}")
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"serve did not answer /healthz within {timeout:.0f} s; see {log.name}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cpu_seconds(self) -> float:
        """User + system CPU of serve and every process under it (gunicorn master and workers, task worker)."""
        if self.proc is None:
            return 0.0
        tick = os.sysconf("SC_CLK_TCK")
        parent: dict[int, int] = {}
        times: dict[int, float] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parent[int(entry.name)] = int(fields[1])
            times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
        tree, frontier = {self.proc.pid}, [self.proc.pid]
        while frontier:
            pid = frontier.pop()
            for child, ppid in parent.items():
                if ppid == pid and child not in tree:
                    tree.add(child)
                    frontier.append(child)
        return sum(times.get(pid, 0.0) for pid in tree)

    def database_cpu(self) -> dict[int, float]:
        """PostgreSQL only: CPU seconds of each server backend connected to the benchmark's database (they run on
        the same two cores but are not serve's children); {} on SQLite."""
        url = self.env.get("DATABASE_URL", "")
        if not url:
            return {}
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            pids = [row[0] for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")]
        tick = os.sysconf("SC_CLK_TCK")
        out = {}
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # another machine, or gone
                continue
            out[pid] = (int(fields[11]) + int(fields[12])) / tick
        return out


def database_cpu_between(before: dict[int, float], after: dict[int, float]) -> float:
    """Backends opened during the phase count whole; those closed during it are lost (the pool keeps them)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


# --- driving the load -------------------------------------------------------------------------------------


@dataclass
class Planned:
    endpoint: str
    path: str
    token: str | None = None


def plan(count: int, fixture: dict[str, Any], static_paths: list[str], rng: random.Random) -> list[Planned]:
    names = [name for name, _ in MIX]
    weights = [weight for _, weight in MIX]
    work_ids, tokens, queries = fixture["work_ids"], fixture["tokens"], fixture["queries"]
    pages = max(1, min(5, len(work_ids) // 20))
    out = []
    for name in rng.choices(names, weights, k=count):
        token = None
        if name == "home":
            path = "/"
        elif name == "feed_api":
            path = f"/api/v1/works?page={rng.randint(1, pages)}"
        elif name == "work_page":
            path = f"/works/{rng.choice(work_ids)}"
        elif name == "work_api":
            path = f"/api/v1/works/{rng.choice(work_ids)}"
        elif name == "search_page":
            path = f"/search?q={quote(rng.choice(queries))}"
        elif name == "search_api":
            path = f"/api/v1/search?q={quote(rng.choice(queries))}"
        elif name == "healthz":
            path = "/healthz"
        elif name == "static":
            path = rng.choice(static_paths)
        else:
            path = "/api/v1/me" if name == "me_api" else "/api/v1/privacy/consents"
            token = rng.choice(tokens)
        out.append(Planned(name, path, token))
    return out


@dataclass
class Outcome:
    endpoint: str
    latency: float
    status: int  # 0: no answer (timeout, refused)


async def drive(
    base: str, requests: list[Planned], rate: float, *, timeout: float = 10.0
) -> tuple[list[Outcome], float]:
    """Open loop: request i leaves at start + i / rate; latency counts from that moment. Answers the outcomes and
    the wall time from the first send to the last answer."""
    import aiohttp

    rng = random.Random(3)
    addresses = [f"198.18.{rng.randint(0, 255)}.{rng.randint(1, 254)}" for _ in range(500)]
    outcomes: list[Outcome] = []
    connector = aiohttp.TCPConnector(limit=1000, limit_per_host=1000, force_close=False)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(base, connector=connector, timeout=client_timeout,
                                     cookie_jar=aiohttp.DummyCookieJar()) as session:  # fmt: skip

        async def one(item: Planned, due: float) -> None:
            headers = {"X-Forwarded-For": rng.choice(addresses), "X-Forwarded-Proto": "https",
                       "Accept-Encoding": "gzip, br", "Accept-Language": "zh-CN,zh;q=0.9"}  # fmt: skip
            if item.token:
                headers["Authorization"] = f"Bearer {item.token}"
            status = 0
            try:
                async with session.get(item.path, headers=headers, allow_redirects=False) as response:
                    await response.read()
                    status = response.status
            except (TimeoutError, aiohttp.ClientError, OSError):
                status = 0
            outcomes.append(Outcome(item.endpoint, time.perf_counter() - due, status))

        loop = asyncio.get_running_loop()
        tasks = []
        start = time.perf_counter() + 0.05
        for i, item in enumerate(requests):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(loop.create_task(one(item, due)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return outcomes, elapsed


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def summarise(outcomes: list[Outcome], elapsed: float, planned_rate: float) -> dict[str, Any]:
    latencies = [o.latency * 1000 for o in outcomes]
    errors = [o for o in outcomes if o.status == 0 or o.status >= 400]
    statuses: dict[str, int] = defaultdict(int)
    for o in errors:
        statuses[str(o.status or "no answer")] += 1
    per_endpoint: dict[str, list[float]] = defaultdict(list)
    for o in outcomes:
        per_endpoint[o.endpoint].append(o.latency * 1000)
    return {
        "requests": len(outcomes),
        "planned_rps": planned_rate,
        "achieved_rps": len(outcomes) / elapsed if elapsed else 0.0,
        "p50_ms": percentile(latencies, 0.50),
        "p95_ms": percentile(latencies, 0.95),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": max(latencies) if latencies else float("nan"),
        "errors": len(errors),
        "error_rate": len(errors) / len(outcomes) if outcomes else 1.0,
        "error_statuses": dict(statuses),
        "endpoints": {
            name: {"n": len(v), "p50_ms": percentile(v, 0.5), "p95_ms": percentile(v, 0.95)}
            for name, v in sorted(per_endpoint.items())
        },
    }


def static_paths(base: str) -> list[str]:
    import urllib.request

    request = urllib.request.Request(base + "/", headers={"X-Forwarded-Proto": "https"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        html = response.read().decode()
    found = sorted(set(re.findall(r"""(?:href|src)="(/static/[^"]+\.(?:css|js|svg))\"""", html)))
    if not found:
        raise SystemExit("the home page links no static files")
    return found


def measure(server: Server, fixture: dict[str, Any], *, rate: float, duration: float, baseline: float,
            seed: int = 1) -> dict[str, Any]:  # fmt: skip
    rng = random.Random(seed)
    statics = static_paths(server.base)
    asyncio.run(drive(server.base, plan(max(1, int(rate)), fixture, statics, rng), rate))  # warm-up second
    result: dict[str, Any] = {"load_before": os.getloadavg()[0]}
    if baseline > 0:
        health = [Planned("healthz", "/healthz") for _ in range(int(rate * baseline))]
        cpu = server.cpu_seconds()
        outcomes, elapsed = asyncio.run(drive(server.base, health, rate))
        result["baseline"] = summarise(outcomes, elapsed, rate)
        result["baseline"]["server_cpu_cores"] = (server.cpu_seconds() - cpu) / elapsed
        _cpu_per_answer(result["baseline"], elapsed)
    cpu, client_cpu, db_cpu = server.cpu_seconds(), time.process_time(), server.database_cpu()
    outcomes, elapsed = asyncio.run(drive(server.base, plan(int(rate * duration), fixture, statics, rng), rate))
    result["mix"] = summarise(outcomes, elapsed, rate)
    result["mix"]["server_cpu_cores"] = (server.cpu_seconds() - cpu) / elapsed
    if db_cpu:
        result["mix"]["database_cpu_cores"] = database_cpu_between(db_cpu, server.database_cpu()) / elapsed
    result["mix"]["client_cpu_cores"] = (time.process_time() - client_cpu) / elapsed  # the same two cores
    _cpu_per_answer(result["mix"], elapsed)
    result["load_after"] = os.getloadavg()[0]
    mix = result["mix"]
    result["met"] = {
        "rate": mix["achieved_rps"] >= 0.98 * rate,
        "p95": mix["p95_ms"] < P95_GOAL_MS,
        "errors": mix["error_rate"] < ERROR_GOAL,
    }
    if "baseline" in result:
        result["p95_ratio_to_baseline"] = mix["p95_ms"] / max(result["baseline"]["p95_ms"], 1e-3)
    return result


def _cpu_per_answer(phase: dict[str, Any], elapsed: float) -> None:
    """Server CPU per answered request — steadier than latency on a shared machine — and the rate two fully
    available cores could sustain at that cost."""
    answered = max(1, phase["requests"] - phase["error_statuses"].get("no answer", 0))
    phase["server_cpu_ms_per_answer"] = phase["server_cpu_cores"] * elapsed / answered * 1000
    cores = phase["server_cpu_cores"] + phase.get("database_cpu_cores", 0.0)
    phase["capacity_rps_2_cores"] = 2000 / max(cores * elapsed / answered * 1000, 1e-3)


def report(result: dict[str, Any]) -> str:
    lines = [f"stack: {result.get('stack', '?')}; load average {result['load_before']:.1f} before, "
             f"{result['load_after']:.1f} after"]  # fmt: skip
    for phase in ("baseline", "mix"):
        if phase not in result:
            continue
        r = result[phase]
        statuses = f", {r['error_statuses']}" if r["errors"] else ""
        lines.append(
            f"{phase:8}: {r['requests']} requests, {r['achieved_rps']:.1f}/{r['planned_rps']:.0f} req/s, "
            f"p50 {r['p50_ms']:.0f} ms, p95 {r['p95_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms, max {r['max_ms']:.0f} ms, "
            f"errors {r['errors']} ({r['error_rate'] * 100:.2f} %{statuses}), "
            f"server CPU {r['server_cpu_cores']:.2f} cores, {r.get('server_cpu_ms_per_answer', 0):.1f} ms per answer "
            f"(2 cores: ≈ {r.get('capacity_rps_2_cores', 0):.0f} req/s)"
        )  # fmt: skip
    mix = result["mix"]
    if "database_cpu_cores" in mix:
        per = mix["database_cpu_cores"] / max(mix["achieved_rps"], 1e-3)  # seconds of backend CPU per request
        lines.append(f"database: PostgreSQL backends {mix['database_cpu_cores']:.2f} cores, {per * 1000:.1f} ms per "
                     "request (counted in the 2-core rate above)")  # fmt: skip
    if "client_cpu_cores" in mix:
        lines.append(f"client  : {mix['client_cpu_cores']:.2f} cores (this process, on the same machine)")
    lines.append("mix by endpoint: " + ", ".join(
        f"{name} {e['n']}× p95 {e['p95_ms']:.0f} ms" for name, e in result["mix"]["endpoints"].items()))  # fmt: skip
    met = result["met"]
    verdict = "met" if all(met.values()) else "MISSED (" + ", ".join(k for k, ok in met.items() if not ok) + ")"
    ratio = result.get("p95_ratio_to_baseline")
    lines.append(
        (f"ratio: mix p95 ÷ /healthz p95 = {ratio:.2f}×; " if ratio is not None else "")
        + f"goal (≥ 98 % of the rate, p95 < {P95_GOAL_MS:.0f} ms, errors < {ERROR_GOAL * 100:.1f} %): {verdict}"
    )
    return "\n".join(lines)


def profile(env: dict[str, str], requests: int, html: Path | None, *, as_json: bool = False) -> dict[str, Any]:
    data_dir = Path(env["LINGJING_DATA_DIR"])
    out = data_dir / "bench-profile.json"
    command = [sys.executable, str(Path(__file__).resolve()), "profile-child", "--fixture",
               str(data_dir / "bench-fixture.json"), "--requests", str(requests), "--out", str(out)]  # fmt: skip
    if html is not None:
        command += ["--html", str(html.resolve())]
    result = subprocess.run(command, env=env, cwd=data_dir, capture_output=True, text=True, timeout=3600,
                            check=False)  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"profiling failed:\n{result.stderr[-3000:]}")
    figures = dict(json.loads(out.read_text()))
    figures["load_average"] = os.getloadavg()[0]
    print(json.dumps(figures, ensure_ascii=False) if as_json else result.stdout + profile_report(figures))
    return figures


# --- profiling the same mix in-process ----------------------------------------------------------------------


def profile_in_process(fixture_path: Path, requests: int, top: int = 0, html: Path | None = None) -> dict[str, Any]:
    """In the child (Django set up from the server's environment): the mix's requests through Django's whole
    stack in this process (the test client), each timed in CPU, all of them under pyinstrument. Answers the CPU
    milliseconds per endpoint and prints the profile."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lingjing.settings")
    sys.path.insert(0, str(ROOT))
    django.setup()
    from django.core.wsgi import get_wsgi_application
    from pyinstrument import Profiler

    fixture = json.loads(fixture_path.read_text())
    client = get_wsgi_application()
    import gzip

    home = _profile_get(client, Planned("home", "/"), random.Random(0))[1]
    html_page = (gzip.decompress(home) if home[:2] == b"\x1f\x8b" else home).decode()
    statics = sorted(set(re.findall(r"""(?:href|src)="(/static/[^"]+\.(?:css|js|svg))\"""", html_page)))
    rng = random.Random(5)
    items = plan(requests, fixture, statics or ["/static/missing.css"], rng)
    for item in items[: max(1, requests // 10)]:  # warm up: imports, templates, per-process caches
        _profile_one(client, item, rng)
    cpu: dict[str, list[float]] = defaultdict(list)
    profiler = Profiler()
    profiler.start()
    for item in items:
        started = time.process_time()
        status = _profile_one(client, item, rng)
        if status >= 400:
            raise SystemExit(f"{item.path} answered {status}")
        cpu[item.endpoint].append((time.process_time() - started) * 1000)
    profiler.stop()
    if top >= 0:
        print(profiler.output_text(unicode=True, color=False, show_all=False))
    if html is not None:
        html.write_text(profiler.output_html())
    total = sum(sum(v) for v in cpu.values())
    return {
        "requests": requests,
        "cpu_ms_per_request": total / max(1, requests),
        "endpoints": {name: {"n": len(v), "cpu_ms_mean": sum(v) / len(v), "cpu_ms_p50": percentile(v, 0.5),
                             "share": sum(v) / total if total else 0.0}
                      for name, v in sorted(cpu.items())},
    }  # fmt: skip


def _profile_one(app: Any, item: Planned, rng: random.Random) -> int:
    return _profile_get(app, item, rng)[0]


def _profile_get(app: Any, item: Planned, rng: random.Random) -> tuple[int, bytes]:
    """One GET straight through the WSGI application, as gunicorn calls it (Django's test client would add its
    template instrumentation to the figures); no cookies, as the load test's clients."""
    import io
    from urllib.parse import unquote_to_bytes

    path, _, query = item.path.partition("?")
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": unquote_to_bytes(path).decode("latin-1"), "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "127.0.0.1",
        "REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": f"198.18.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        "HTTP_X_FORWARDED_PROTO": "https", "HTTP_ACCEPT_ENCODING": "gzip, br",
        "HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9", "wsgi.version": (1, 0), "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr, "wsgi.multithread": True,
        "wsgi.multiprocess": True, "wsgi.run_once": False,
    }  # fmt: skip
    if item.token:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {item.token}"
    status: list[str] = []
    body = app(environ, lambda s, headers, exc_info=None: status.append(s))
    try:
        content = b"".join(body)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return int(status[0].split()[0]), content


def profile_report(result: dict[str, Any]) -> str:
    lines = [f"in-process, {result['requests']} requests: {result['cpu_ms_per_request']:.1f} ms CPU per request "
             f"(≈ {2000 / max(result['cpu_ms_per_request'], 1e-3):.0f} req/s on 2 free cores, without the HTTP "
             "server)"]  # fmt: skip
    for name, e in sorted(result["endpoints"].items(), key=lambda kv: -kv[1]["share"]):
        lines.append(f"  {name:13} {e['n']:5}×  mean {e['cpu_ms_mean']:6.1f} ms  p50 {e['cpu_ms_p50']:6.1f} ms  "
                     f"{e['share'] * 100:4.0f} % of the CPU")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    seed_cmd = sub.add_parser("seed", help="(internal) seed works and members into the configured site")
    seed_cmd.add_argument("--works", type=int, required=True)
    seed_cmd.add_argument("--members", type=int, required=True)
    seed_cmd.add_argument("--out", type=Path, required=True)
    profile_cmd = sub.add_parser("profile-child", help="(internal) the in-process profile, in the configured site")
    profile_cmd.add_argument("--fixture", type=Path, required=True)
    profile_cmd.add_argument("--requests", type=int, required=True)
    profile_cmd.add_argument("--html", type=Path)
    profile_cmd.add_argument("--out", type=Path, required=True)
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second (default 200)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of the mixed workload (default 60)")
    parser.add_argument("--baseline", type=float, default=10.0, help="seconds of /healthz alone first (0: none)")
    parser.add_argument("--works", type=int, default=500, help="generated published works (default 500)")
    parser.add_argument("--members", type=int, default=20, help="signed-in members with API tokens (default 20)")
    parser.add_argument("--no-demo", dest="demo", action="store_false", help="skip `lingjing demo`")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn processes (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn process (default 4)")
    parser.add_argument("--database-url", default="", help="PostgreSQL: a database named bench*, recreated")
    parser.add_argument("--redis-url", default="", help="a Redis database the benchmark may empty")
    parser.add_argument("--mode", choices=("production", "development"), default="production")
    parser.add_argument("--data-dir", type=Path, help="use (and keep) this data directory")
    parser.add_argument("--reuse", action="store_true",
                        help="with --data-dir: reuse the site prepared there by an earlier run (no recreation)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="instead of serving: N requests of the mix in-process under pyinstrument, CPU per "
                             "endpoint and the profile")  # fmt: skip
    parser.add_argument("--profile-html", type=Path, help="with --profile: also write pyinstrument's HTML here")
    args = parser.parse_args(argv)
    if args.command == "seed":
        seed(args.works, args.members, args.out)
        return None
    if args.command == "profile-child":
        result = profile_in_process(args.fixture, args.requests, html=args.html)
        args.out.write_text(json.dumps(result))
        return None
    with tempfile.TemporaryDirectory(prefix="lingjing-bench-load-") as tmp:
        data_dir = args.data_dir or Path(tmp)
        data_dir.mkdir(parents=True, exist_ok=True)
        reuse = args.reuse and args.data_dir is not None and (data_dir / "bench-fixture.json").exists()
        if args.database_url and not reuse:
            fresh_postgres(args.database_url)
        if args.redis_url:
            empty_redis(args.redis_url)
        env = server_env(data_dir, args.database_url, args.redis_url, args.mode)
        if reuse:
            fixture = dict(json.loads((data_dir / "bench-fixture.json").read_text()))
        else:
            fixture = prepare(env, works=args.works, members=args.members, demo=args.demo)
        if args.profile:
            return profile(env, args.profile, args.profile_html, as_json=args.json)
        server = Server(env, args.web_workers, args.threads)
        server.start()
        try:
            result = measure(server, fixture, rate=args.rate, duration=args.duration, baseline=args.baseline)
        finally:
            server.stop()
        database = "postgresql" if args.database_url else "sqlite"
        cache = "redis (cache, rate limits, sessions, RQ tasks)" if args.redis_url else "database cache, db tasks"
        result["stack"] = (f"{database} + {cache}, {args.mode}, {args.web_workers} × {args.threads} threads, "
                           f"{args.works} works")  # fmt: skip
        print(json.dumps(result, ensure_ascii=False) if args.json else report(result))
        return result


if __name__ == "__main__":
    main()
