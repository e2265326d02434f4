"""``lingjing worker``: the task worker for the configured backend — database-queue workers (django-tasks-db) or
RQ workers on Redis (django-tasks-rq); see docs/deploy.md. Run as many as the load needs: each claims a task
before running it (a conditional UPDATE with ``SKIP LOCKED`` on PostgreSQL, an atomic pop on Redis).

A database-queue worker beats every third of ``--lease`` seconds and gives back the running tasks of workers
that stopped beating (killed, out of memory): ``lingjing/core/leases.py``."""

import datetime as dt
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.crypto import get_random_string

from lingjing.core.leases import DEFAULT_LEASE, Heartbeat, beat
from lingjing.core.scaleout import DATABASE_BACKEND, RQ_BACKEND
from lingjing.core.taskqueue import JOB_CLASS

# Runs each job in the worker process itself, not in a fork per job: Django's connection pools and threads do
# not survive a fork, and a fork per job costs more than most tasks.
RQ_WORKER_CLASS = "rq.worker.SimpleWorker"


class Command(BaseCommand):
    help = "Run a background task worker (database queue, or RQ on Redis) on some or all queues."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--queues", default="*", help="comma-separated queue names, or * for all (default)")
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls when idle")
        parser.add_argument("--batch", action="store_true", help="run what is queued, then exit")
        parser.add_argument("--max-tasks", type=int, default=None, help="exit after this many tasks")
        parser.add_argument("--reload", action="store_true", help="restart on code changes (development)")
        parser.add_argument("--lease", type=float, default=DEFAULT_LEASE.total_seconds(),
                            help="seconds without a heartbeat after which a worker's running tasks are given back "
                                 "(database queue; default %(default)s)")

    def handle(self, *args: Any, **options: Any) -> None:
        backend = settings.TASKS["default"]["BACKEND"]
        if backend not in (DATABASE_BACKEND, RQ_BACKEND):
            raise CommandError(
                f"the task backend is {backend}, which needs no worker; "
                "set LINGJING_TASK_BACKEND=database (or rq, with REDIS_URL) to queue tasks"
            )
        queues = options["queues"].strip()
        known = list(settings.TASKS["default"].get("QUEUES", []))
        chosen = known if queues == "*" else [q for q in dict.fromkeys(q.strip() for q in queues.split(",")) if q]
        unknown = sorted(set(chosen) - set(known))
        if unknown:
            raise CommandError(f"unknown queue(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        if options["max_tasks"] is not None and options["max_tasks"] < 1:
            raise CommandError("--max-tasks must be at least 1")
        if options["lease"] < 1:
            raise CommandError("--lease must be at least 1 second")
        if backend == RQ_BACKEND:
            self.run_rq(chosen, options)
            return
        worker_options: dict[str, Any] = {
            "queue_name": queues,
            "interval": options["interval"],
            "batch": options["batch"],
            "reload": options["reload"],
            "startup_delay": False,
            "verbosity": options["verbosity"],
        }
        if options["max_tasks"] is not None:
            worker_options["max_tasks"] = options["max_tasks"]
        worker_id = get_random_string(32)
        with transaction.atomic():
            beat(worker_id)
        heartbeat = Heartbeat(worker_id, dt.timedelta(seconds=options["lease"]))
        heartbeat.start()
        try:
            call_command("db_worker", worker_id=worker_id, **worker_options)
        finally:
            heartbeat.stop()

    def run_rq(self, queues: list[str], options: dict[str, Any]) -> None:
        if options["reload"]:
            raise CommandError("--reload is not available with the RQ backend")
        # The scheduler (one per deployment is elected among the workers) moves deferred tasks (run_after)
        # onto their queue when due.
        call_command(
            "rqworker",
            *queues,
            job_class=JOB_CLASS,
            worker_class=RQ_WORKER_CLASS,
            with_scheduler=True,
            burst=options["batch"],
            max_jobs=options["max_tasks"],
            verbosity=options["verbosity"],
        )
