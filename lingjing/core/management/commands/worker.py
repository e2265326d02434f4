from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Run a background task worker (django-tasks database backend) on some or all queues."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--queues", default="*", help="comma-separated queue names, or * for all (default)")
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls when idle")
        parser.add_argument("--batch", action="store_true", help="run what is queued, then exit")
        parser.add_argument("--max-tasks", type=int, default=None, help="exit after this many tasks")
        parser.add_argument("--reload", action="store_true", help="restart on code changes (development)")

    def handle(self, *args: Any, **options: Any) -> None:
        backend = settings.TASKS["default"]["BACKEND"]
        if backend != "django_tasks_db.DatabaseBackend":
            raise CommandError(
                f"the task backend is {backend}, which needs no worker; "
                "set LINGJING_TASK_BACKEND=django_tasks_db.DatabaseBackend to queue tasks in the database"
            )
        queues = options["queues"].strip()
        known = set(settings.TASKS["default"].get("QUEUES", []))
        if queues != "*":
            unknown = sorted(set(filter(None, (q.strip() for q in queues.split(",")))) - known)
            if unknown:
                raise CommandError(f"unknown queue(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        worker_options: dict[str, Any] = {
            "queue_name": queues,
            "interval": options["interval"],
            "batch": options["batch"],
            "reload": options["reload"],
            "startup_delay": False,
            "verbosity": options["verbosity"],
        }
        if options["max_tasks"] is not None:
            if options["max_tasks"] < 1:
                raise CommandError("--max-tasks must be at least 1")
            worker_options["max_tasks"] = options["max_tasks"]
        call_command("db_worker", **worker_options)
