from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "lingjing.core"
    label = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        post_migrate.connect(_create_cache_table, sender=self)


def _create_cache_table(using: str = "default", **kwargs: Any) -> None:
    """The database cache (used without REDIS_URL) needs its table; create it with the schema."""
    from django.core.management import call_command

    call_command("createcachetable", database=using, verbosity=0)
