"""``lingjing children report --year Y [--out DIR]``: the yearly compliance report of children's data processing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone


class Command(BaseCommand):
    help = "儿童个人信息处理年度合规报告 / Yearly compliance report of children's data processing"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        report = sub.add_parser("report", help="count a calendar year's processing of children's data")
        report.add_argument("--year", type=int, default=timezone.localdate().year - 1)
        report.add_argument("--out", help="directory for the files (default: $LINGJING_DATA_DIR/exports/children)")

    def handle(self, *args: Any, **options: Any) -> None:
        from lingjing.children.actions import do_generate_children_report

        report = do_generate_children_report(options["year"], acting_user=None)
        out = Path(options["out"] or Path(settings.EXPORTS_DIR) / "children")
        out.mkdir(parents=True, exist_ok=True)
        stem = out / f"children-report-{report.year}"
        stem.with_suffix(".json").write_text(json.dumps(report.counts, ensure_ascii=False, indent=2), encoding="utf-8")
        stem.with_suffix(".md").write_text(report.markdown, encoding="utf-8")
        self.stdout.write(f"{stem}.json\n{stem}.md")
