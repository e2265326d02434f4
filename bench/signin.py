"""Benchmark 5: sign-in through the real login endpoint against argon2 verifying the same password alone.

    .venv/bin/python bench/signin.py                      # 40 sign-ins, a throwaway SQLite database
    .venv/bin/python bench/signin.py --rounds 100
    .venv/bin/python bench/signin.py --database-url postgres://postgres@127.0.0.1:5432/bench_signin \\
        --redis-url redis://127.0.0.1:6379/5                # PostgreSQL (recreated) + Redis (emptied)

Sign-in (timed): ``POST /api/v1/auth/login`` with phone and password through Django's full request path —
middleware (rate limits, consent, sessions, CSRF), the Ninja endpoint, ``accounts.auth.authenticate`` (back-off
locks, the risk engine and its decision record, the password check) and the token it issues, with the audit rows
of each step. No sockets: Django's test client drives the WSGI handler in this process.

Baseline (timed, same run, interleaved one for one with the sign-ins so both meet the same machine load):
``Argon2PasswordHasher().verify`` of the same password against the same stored hash — the cost no sign-in can
avoid. The ratio of the medians is the figure (**goal ≤ 1.3×**); means and p95 are printed too.

Production hashers: the settings run as ``development`` (argon2 first), never the test settings' MD5 hasher.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
PHONE = "+8613900005005"
PASSWORD = "bench-Sign-in-2026"  # noqa: S105 - a benchmark account's password


def setup_django(data_dir: str, database_url: str = "", redis_url: str = "") -> None:
    """Development settings (argon2) on a private data directory, on SQLite or the given PostgreSQL + Redis."""
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    if database_url:
        from loadtest import fresh_postgres

        fresh_postgres(database_url)
        os.environ["DATABASE_URL"] = database_url
    if redis_url:
        from loadtest import empty_redis

        empty_redis(redis_url)
        os.environ["REDIS_URL"] = redis_url
        os.environ["LINGJING_SESSION_ENGINE"] = "cache_db"
    os.environ["LINGJING_ENV"] = "development"
    os.environ["LINGJING_DATA_DIR"] = data_dir
    os.environ["LINGJING_DEBUG"] = "0"
    os.environ.setdefault("LINGJING_LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lingjing.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def ensure_member(phone: str = PHONE, password: str = PASSWORD) -> Any:
    """The account that signs in, registered through the accounts action (idempotent)."""
    import datetime as dt

    from lingjing.accounts.actions import do_register_user
    from lingjing.accounts.models import User
    from lingjing.security.crypto import blind_index

    user = User.objects.filter(phone_index=blind_index(phone)).first()
    if user is None:
        user = do_register_user(phone=phone, nickname="基准登录", birth_date=dt.date(1995, 5, 5), password=password)
    return user


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def run(rounds: int, *, warmup: int = 3) -> dict[str, Any]:
    """Interleaved sign-ins and bare verifications (Django already set up, the member exists)."""
    from django.contrib.auth.hashers import Argon2PasswordHasher, get_hasher
    from django.test import Client

    user = ensure_member()
    encoded = user.password
    if not encoded.startswith("argon2$"):
        raise SystemExit(f"the stored hash is not argon2 ({encoded.split('$', 1)[0]}): run with production hashers")
    assert get_hasher().algorithm == "argon2"
    hasher = Argon2PasswordHasher()
    client = Client()
    body = json.dumps({"phone": PHONE, "password": PASSWORD})
    signin: list[float] = []
    verify: list[float] = []
    for i in range(warmup + rounds):
        began = time.perf_counter()
        assert hasher.verify(PASSWORD, encoded)
        verified = time.perf_counter() - began
        began = time.perf_counter()
        response = client.post("/api/v1/auth/login", body, content_type="application/json")
        signed_in = time.perf_counter() - began
        if response.status_code != 200 or "token" not in response.json():
            raise SystemExit(f"sign-in failed: {response.status_code} {response.content[:300]!r}")
        if i >= warmup:
            verify.append(verified)
            signin.append(signed_in)
    median_ratio = statistics.median(signin) / statistics.median(verify)
    return {
        "rounds": rounds,
        "signin_ms": {"median": statistics.median(signin) * 1000, "mean": statistics.fmean(signin) * 1000,
                      "p95": percentile(signin, 0.95) * 1000},
        "verify_ms": {"median": statistics.median(verify) * 1000, "mean": statistics.fmean(verify) * 1000,
                      "p95": percentile(verify, 0.95) * 1000},
        "ratio_median": median_ratio,
        "ratio_mean": statistics.fmean(signin) / statistics.fmean(verify),
        "goal": 1.3,
        "met": median_ratio <= 1.3,
    }  # fmt: skip


def report(result: dict[str, Any]) -> str:
    s, v = result["signin_ms"], result["verify_ms"]
    return "\n".join([
        f"sign-in  (POST /api/v1/auth/login): median {s['median']:.1f} ms, mean {s['mean']:.1f} ms, "
        f"p95 {s['p95']:.1f} ms",
        f"baseline (argon2 verify alone)    : median {v['median']:.1f} ms, mean {v['mean']:.1f} ms, "
        f"p95 {v['p95']:.1f} ms",
        f"ratio: {result['ratio_median']:.2f}× median, {result['ratio_mean']:.2f}× mean over {result['rounds']} rounds "
        f"(goal ≤ {result['goal']}×: {'met' if result['met'] else 'MISSED'})",
    ])  # fmt: skip


def describe_stack() -> str:
    from django.conf import settings
    from django.db import connection

    cache = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    return f"database {connection.vendor}, cache {cache}, load average {os.getloadavg()[0]:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40, help="timed sign-ins (and as many bare verifications)")
    parser.add_argument("--profile", action="store_true", help="profile the sign-ins with pyinstrument")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--database-url", default="", help="PostgreSQL: a database named bench*, recreated")
    parser.add_argument("--redis-url", default="", help="a Redis database the benchmark may empty")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lingjing-bench-signin-") as data_dir:
        setup_django(data_dir, args.database_url, args.redis_url)
        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler()
            profiler.start()
            result = run(args.rounds)
            profiler.stop()
            print(profiler.output_text(unicode=True, color=False, show_all=False))
        else:
            result = run(args.rounds)
        result["stack"] = describe_stack()
        print(json.dumps(result, ensure_ascii=False) if args.json else f"{result['stack']}\n{report(result)}")


if __name__ == "__main__":
    main()
