from typing import Any

from django.core.management.base import BaseCommand

from lingjing.core.demo import run_demo


class Command(BaseCommand):
    help = "Seed a demonstration site (staff of every role, users, works). Safe to run again."

    def handle(self, *args: Any, **options: Any) -> None:
        ran = run_demo(self.stdout)
        self.stdout.write(self.style.SUCCESS(f"demo seeded by {len(ran)} app(s)"))
