"""``lingjing audit verify [--deep]`` — check the audit chain; ``lingjing audit checkpoint`` — sign the head now."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from lingjing.security.audit_chain import AuditChainError, iter_report_lines, verify, write_checkpoint


class Command(BaseCommand):
    help = "审计链校验与签名检查点 / verify the audit chain (exit 1 on any problem), or write a signed checkpoint."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["verify", "checkpoint"])
        parser.add_argument("--deep", action="store_true", help="also open every sealed detail and check its MAC")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "checkpoint":
            try:
                path = write_checkpoint()
            except AuditChainError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(f"检查点 / checkpoint: {path}" if path else "审计链为空 / audit chain is empty")
            return
        report = verify(deep=options["deep"])
        for line in iter_report_lines(report):
            self.stdout.write(line)
        (self.stdout if report.ok else self.stderr).write(report.summary())
        if not report.ok:
            sys.exit(1)
