"""``lingjing restore DIR [--keys-dir DIR]``: replace the database with a backup, then replay the deletion list.

Stop the web server and the workers first (docs/subsystems/backups.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "从备份恢复并重放删除清单 / Restore a backup; erased people stay erased"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", help="a directory written by `lingjing backup`")
        parser.add_argument("--keys-dir", help="the key escrow (default: $LINGJING_KEY_ESCROW_DIR)")

    def handle(self, *args: Any, **options: Any) -> None:
        from lingjing.secops.backups import BackupError, restore

        try:
            result = restore(Path(options["directory"]),
                             keys_dir=Path(options["keys_dir"]) if options["keys_dir"] else None)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"restored ({result.engine}); data keys put back: {result.keys_restored}, "
                          f"withheld (erased people): {result.keys_withheld}")
        self.stdout.write(f"deletion list replayed: {result.replayed} subject(s); erased again: "
                          f"{len(result.erased_again)}; API tokens signed out: {result.tokens_signed_out}")
        if result.superseded_checkpoints:
            self.stdout.write(f"audit checkpoints after the backup moved aside: {len(result.superseded_checkpoints)}")
