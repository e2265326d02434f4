"""``lingjing sharing successor-report --successor NAME [--out DIR]`` and
``lingjing sharing accept-successor-report ID --by NAME --digest SHA256 [--statement TEXT]``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.http import Http404


class Command(BaseCommand):
    help = "业务转让承继报告 / The report a successor of the business must accept"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        report = sub.add_parser("successor-report", help="export the data map and obligations (JSON + Markdown)")
        report.add_argument("--successor", required=True, help="the successor's legal name")
        report.add_argument("--out", help="directory for the files (default: $LINGJING_DATA_DIR/exports/successor)")
        accept = sub.add_parser("accept-successor-report", help="record the successor's acceptance of one report")
        accept.add_argument("report_id")
        accept.add_argument("--by", required=True, help="who signed for the successor")
        accept.add_argument("--digest", required=True, help="the SHA-256 the successor accepted")
        accept.add_argument("--statement", default="", help="the acceptance statement, if not the standard one")

    def handle(self, *args: Any, **options: Any) -> None:
        from lingjing.sharing.access import access_successor_report
        from lingjing.sharing.actions import do_accept_successor_report, do_create_successor_report
        from lingjing.sharing.successor import canonical

        try:
            if options["action"] == "successor-report":
                report = do_create_successor_report(successor=options["successor"], acting_user=None)
                out = Path(options["out"] or Path(settings.EXPORTS_DIR) / "successor")
                out.mkdir(parents=True, exist_ok=True)
                stem = f"successor-report-{report.generated_at:%Y%m%d}-{str(report.pk)[:8]}"
                (out / f"{stem}.json").write_bytes(canonical(report.document))
                (out / f"{stem}.md").write_text(report.markdown, encoding="utf-8")
                self.stdout.write(f"report {report.pk}\nsha256 {report.digest}\n{out / stem}.json\n{out / stem}.md")
                return
            report = access_successor_report(options["report_id"])
            done = do_accept_successor_report(report, accepted_by=options["by"], digest=options["digest"],
                                              statement=options["statement"], acting_user=None)
            self.stdout.write(f"accepted {done.pk} by {done.accepted_by_name} at {done.accepted_at:%Y-%m-%d %H:%M}")
        except Http404 as exc:
            raise CommandError(str(exc)) from None
        except ValidationError as exc:
            raise CommandError("；".join(exc.messages)) from None
