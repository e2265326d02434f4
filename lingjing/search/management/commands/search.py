"""``lingjing search check|rebuild`` — the full-text index: report what is missing, or rebuild it from the works."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "搜索索引：检查或重建 / Search index: check it, or rebuild it from the published works"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("check", help="report missing index objects (exit 1 when any)")
        sub.add_parser("rebuild", help="re-derive every document from the published works and rebuild the index")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        from lingjing.search.backends import get_backend

        if action == "check":
            problems = get_backend().problems()
            for problem in problems:
                self.stderr.write(problem)
            if problems:
                raise CommandError(f"{len(problems)} problem(s) with the search index")
            self.stdout.write("search index ok")
            return
        from lingjing.search.actions import do_rebuild_index

        self.stdout.write(f"indexed {do_rebuild_index(acting_user=None)} published works")
