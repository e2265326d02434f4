"""``lingjing privacy inventory [--json] [--check]``, ``lingjing privacy erase <user id> --yes`` and
``lingjing privacy run-due`` (rights requests: overdue alerts, due cancellations, expired copies, notices)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "个人信息清单（数据地图）与删除引擎 / The data map and the erasure engine"
    requires_system_checks: list[str] = []  # `inventory --check` reports the gaps itself

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        inv = sub.add_parser("inventory", help="print the data map")
        inv.add_argument("--json", action="store_true", help="JSON instead of a table")
        inv.add_argument("--check", action="store_true", help="exit 1 listing every registry gap")
        erase = sub.add_parser("erase", help="run or resume the erasure of one person (irreversible)")
        erase.add_argument("user_id")
        erase.add_argument("--yes", action="store_true", help="confirm: the person's data is destroyed")
        sub.add_parser("run-due", help="rights requests: overdue alerts, due cancellations, expired copies, notices")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "erase":
            self._erase(options)
            return
        if options["action"] == "run-due":
            from lingjing.privacy.requests.due import run_due

            self.stdout.write(str(run_due()))
            return
        from lingjing.privacy import inventory

        if options["check"]:
            gaps = inventory.check()
            if gaps:
                lines = [f"{g.id} {g.model}{'.' + g.field if g.field else ''}: {g.problem}" for g in gaps]
                raise CommandError(f"{len(gaps)} registry gap(s):\n" + "\n".join(lines))
            self.stdout.write(f"registry complete: {len(inventory.inventory_rows())} personal fields declared")
            return
        self.stdout.write(inventory.as_json() if options["json"] else inventory.as_table())

    def _erase(self, options: dict[str, Any]) -> None:
        from lingjing.privacy.engines import erase_person

        if not options["yes"]:
            raise CommandError("erasure destroys the person's data for good; add --yes to confirm")
        report = erase_person(options["user_id"], reason="erasure run by an operator")
        self.stdout.write(
            f"run {report.run_id}: {'finished' if report.finished else 'unfinished'}; "
            f"deleted {report.deleted}, anonymised {report.anonymised}, kept {report.kept}, "
            f"files {report.files_removed}, keys shredded {report.keys_shredded}"
        )
