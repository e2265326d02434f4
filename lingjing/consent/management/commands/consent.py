"""``lingjing consent report|purge|policy-check|publish``: thin wrappers around the consent app."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone


class Command(BaseCommand):
    help = "同意、统计分析与隐私政策版本 / Consent, analytics and policy versions"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        report = sub.add_parser("report", help="aggregate analytics (groups of at least 5) as JSON")
        report.add_argument("--days", type=int, default=7)
        sub.add_parser("purge", help="delete expired analytics events and past daily keys")
        sub.add_parser("policy-check", help="exit 1 when the registry has moved on since the policy in force")
        publish = sub.add_parser("publish", help="publish a new policy version (in force after 7 days)")
        publish.add_argument("--summary", required=True, help="change summary (Chinese)")
        publish.add_argument("--summary-en", default="")
        publish.add_argument("--material", action="store_true", help="materially reduces users' rights")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "report":
            from lingjing.consent.analytics import report

            today = timezone.localdate()
            days = max(1, options["days"])
            data = report(today - dt.timedelta(days=days - 1), today)
            self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))
        elif action == "purge":
            from lingjing.consent.analytics import purge_expired

            self.stdout.write(json.dumps(purge_expired(), ensure_ascii=False))
        elif action == "policy-check":
            from lingjing.consent.policy import current_policy_version, policy_drift

            version = current_policy_version()
            drift = [lang for lang in ("zh", "en") if policy_drift(lang)]
            if drift:
                raise CommandError(f"policy v{version.number if version else '?'} differs from the registry "
                                   f"({', '.join(drift)}): publish a new version")
            self.stdout.write(f"policy v{version.number if version else '?'} matches the registry")
        elif action == "publish":
            from lingjing.consent.actions import do_publish_policy_version

            version = do_publish_policy_version(summary_zh=options["summary"], summary_en=options["summary_en"],
                                                material=options["material"], acting_user=None)
            self.stdout.write(f"published v{version.number}, in force from {version.effective_at.isoformat()}")
