"""``lingjing keys rotate`` — replace every data key (resumable); ``lingjing keys status``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from lingjing.security.keyops import key_status, rotate_with_audit


class Command(BaseCommand):
    help = "Data key rotation (re-encrypts every sealed value; safe to interrupt and rerun) and key status."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["rotate", "status"])
        parser.add_argument("--limit", type=int, default=None, help="stop after this many people (resume later)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "status":
            self.stdout.write(key_status())
            return
        report = rotate_with_audit(limit=options["limit"])
        state = "完成 finished" if report.finished else "已暂停，再次运行以继续 paused; run again to resume"
        self.stdout.write(
            f"rotation #{report.rotation_id}: {report.subjects_rotated} people, "
            f"{report.values_reencrypted} values re-encrypted — {state}"
        )
