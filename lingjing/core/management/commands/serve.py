from argparse import ArgumentParser, BooleanOptionalAction
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from lingjing.core.serve import ServeOptions, serve


class Command(BaseCommand):
    help = "Serve the site and the API with gunicorn and run a task worker beside it (see lingjing/core/serve.py)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=2, help="web processes (default 2, for two cores)")
        parser.add_argument("--threads", type=int, default=4, help="threads per web process (default 4)")
        parser.add_argument("--timeout", type=int, default=60, help="seconds before a stuck request is killed")
        parser.add_argument("--worker", action=BooleanOptionalAction, default=True, help="run a task worker")
        parser.add_argument(
            "--schedule", action=BooleanOptionalAction, default=True,
            help="run the periodic jobs (lingjing schedule run)",
        )  # fmt: skip
        parser.add_argument("--queues", default="*", help="task queues for the worker, comma-separated (default all)")
        parser.add_argument(
            "--migrate", action=BooleanOptionalAction, default=None,
            help="apply migrations first (default: only on the embedded SQLite database)",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        if not 0 < options["port"] < 65536:
            raise CommandError(f"--port must be between 1 and 65535, not {options['port']}")
        if options["workers"] < 1 or options["threads"] < 1:
            raise CommandError("--workers and --threads must be at least 1")
        code = serve(
            ServeOptions(
                host=options["host"],
                port=options["port"],
                workers=options["workers"],
                threads=options["threads"],
                timeout=options["timeout"],
                run_worker=options["worker"],
                run_schedule=options["schedule"],
                queues=options["queues"],
                migrate=options["migrate"],
            ),
            self.stdout,
        )
        if code:
            raise SystemExit(code)
