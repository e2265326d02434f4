"""``lingjing retention run [--dry-run]``, ``lingjing retention status``, ``lingjing retention enqueue``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "保存期限清理 / Enforce the registry's retention rules (docs/subsystems/retention.md)"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("run", help="purge everything past its retention, in chunks; safe to repeat")
        run.add_argument("--dry-run", action="store_true", help="count what would go, change nothing")
        sub.add_parser("status", help="list what is past its retention now; exit 1 when anything is")
        sub.add_parser("enqueue", help="queue the purge for a worker (the run_retention task)")

    def handle(self, *args: Any, **options: Any) -> None:
        from lingjing.privacy import retention

        if options["action"] == "enqueue":
            from lingjing.secops.tasks import run_retention

            result = run_retention.enqueue()
            self.stdout.write(f"queued: {result.id}")
            return
        if options["action"] == "status":
            overdue = retention.overdue()
            for label, count in sorted(overdue.items()):
                self.stdout.write(f"overdue {count:>7}  {label}")
            for label in retention.unenforceable():
                self.stdout.write(f"not enforceable (no date column): {label}")
            if overdue:
                raise CommandError(f"{sum(overdue.values())} item(s) past their retention")
            self.stdout.write("nothing past its retention")
            return
        report = retention.run(dry_run=options["dry_run"])
        for line in report.lines():
            self.stdout.write(line)
