"""``lingjing backup DIR [--keys-dir DIR]``: the database without its key store (docs/subsystems/backups.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "备份数据库（不含数据密钥）/ Back up the database; data keys go to the separate key escrow"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", help="an empty directory for this backup")
        parser.add_argument("--keys-dir", help="the key escrow (default: $LINGJING_KEY_ESCROW_DIR)")

    def handle(self, *args: Any, **options: Any) -> None:
        from lingjing.secops.backups import BackupError, backup

        try:
            result = backup(Path(options["directory"]), keys_dir=Path(options["keys_dir"]) if options["keys_dir"]
                            else None)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"backup: {result.database_file} ({result.engine}, {result.bytes} bytes, "
                          f"sha256 {result.manifest['sha256'][:16]}…)")
        self.stdout.write(f"key escrow: {result.escrowed_keys} data keys, kept apart from the backup")
