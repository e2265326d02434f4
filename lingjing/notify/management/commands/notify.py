"""``lingjing notify run`` (publish due announcements, resend due deliveries; run it every minute from cron or a
timer) and ``lingjing notify fanout ID`` (put one announcement into every inbox now)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "通知服务：发布到期公告、重试到期投递 / Notifications: publish due announcements, retry due deliveries"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("run", help="publish due announcements and resend due deliveries")
        fanout = sub.add_parser("fanout", help="fan one announcement out into every active inbox")
        fanout.add_argument("announcement_id", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        from lingjing.notify.announcements import publish_due, run_fanout
        from lingjing.notify.delivery import retry_due

        if options["action"] == "fanout":
            added = run_fanout(options["announcement_id"])
            self.stdout.write(f"announcement {options['announcement_id']}: {added} inbox entries added")
            return
        published = publish_due()
        counts = retry_due()
        self.stdout.write(f"announcements published: {len(published)}; deliveries: {counts or 'none due'}")
