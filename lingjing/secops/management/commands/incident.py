"""``lingjing incident drill`` | ``status`` | ``handle REF`` (docs/subsystems/security-ops.md)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone


class Command(BaseCommand):
    help = "安全事件：演练、处置与报告时限 / Security incidents: drills, handling, report deadlines"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        drill = sub.add_parser("drill", help="run the whole incident flow on synthetic drill accounts")
        drill.add_argument("--people", type=int, default=3, help="drill accounts to use (default 3)")
        drill.add_argument("--touched", type=int, default=2, help="how many the simulated intruder reaches")
        sub.add_parser("status", help="open incidents and report deadlines; exit 1 when a report is overdue")
        handle = sub.add_parser("handle", help="compute affected people, notify them, announce, track deliveries")
        handle.add_argument("ref")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "drill":
            self._drill(options)
        elif action == "handle":
            self._handle(options["ref"])
        else:
            self._status()

    def _drill(self, options: dict[str, Any]) -> None:
        from lingjing.secops.drill import run_drill

        try:
            result = run_drill(people=options["people"], touched=options["touched"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        incident, handled = result.incident, result.handled
        announced = "yes" if handled.announcement else "no"
        self.stdout.write(f"drill {incident.ref}: {handled.affected} affected of {len(result.drill_people)} drill "
                          f"accounts, {handled.notified} notified, announcement: {announced}")
        for report in incident.reports.all():
            due = timezone.localtime(report.due_at).strftime("%Y-%m-%d %H:%M") if report.due_at else "—"
            self.stdout.write(f"  {report.get_stage_display()}: due {due}")
        for path in result.files:
            self.stdout.write(f"  {path}")

    def _handle(self, ref: str) -> None:
        from lingjing.secops.drill import handle
        from lingjing.secops.models import Incident

        incident = Incident.objects.filter(ref=ref).first()
        if incident is None:
            raise CommandError(f"no incident {ref}")
        done = handle(incident, acting_user=None)
        self.stdout.write(f"{incident.ref}: {done.affected} affected, {done.notified} notified, "
                          f"{done.unreachable} unreachable, announcement: {'yes' if done.announcement else 'no'}")

    def _status(self) -> None:
        from lingjing.secops.drill import overdue_reports
        from lingjing.secops.models import Incident, IncidentStatus
        from lingjing.secops.notices import track

        for incident in Incident.objects.filter(status=IncidentStatus.OPEN).order_by("discovered_at"):
            track(incident)
            self.stdout.write(f"open {incident}")
        late = overdue_reports()
        for report in late:
            assert report.due_at is not None
            self.stdout.write(f"OVERDUE {report.incident.ref} {report.get_stage_display()} (due "
                              f"{timezone.localtime(report.due_at):%Y-%m-%d %H:%M})")
        if late:
            raise CommandError(f"{len(late)} report(s) overdue")
