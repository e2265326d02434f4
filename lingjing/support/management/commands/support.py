"""``lingjing support overdue`` (flag tickets past their deadline and alert; run hourly), ``lingjing support purge``
(delete visitors' unconfirmed tickets older than a day) and ``lingjing support convert-pending`` (hand recorded
privacy-request conversions to the rights-request module once it is installed)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "客服：超期告警、清理未确认工单、补交权利请求 / Customer service maintenance"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("overdue", help="flag tickets past their 15-working-day deadline and alert")
        sub.add_parser("purge", help="delete visitors' tickets never confirmed within a day")
        sub.add_parser("convert-pending", help="hand pending privacy-request conversions to lingjing.privacy.requests")

    def handle(self, *args: Any, **options: Any) -> None:
        from lingjing.support.convert import replay_pending_conversions
        from lingjing.support.tasks import flag_overdue_tickets, purge_unconfirmed_tickets

        action = options["action"]
        if action == "overdue":
            self.stdout.write(f"overdue tickets flagged: {flag_overdue_tickets.call()}")
        elif action == "purge":
            self.stdout.write(f"unconfirmed tickets deleted: {purge_unconfirmed_tickets.call()}")
        else:
            self.stdout.write(f"conversions handed over: {replay_pending_conversions()}")
