from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "lingjing.core"
    label = "core"
    verbose_name = "站点"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from lingjing.core.cachecontrol import connect_invalidation
        from lingjing.core.leases import connect_signals
        from lingjing.core.roles import sync_roles_after_migrate

        connect_invalidation()  # cached public API answers retire when works or members change
        connect_signals()  # which task runs (claims a re-run task may take over, core/leases.py)

        post_migrate.connect(_create_cache_table, sender=self)
        from lingjing.core.memo import clear_all

        post_migrate.connect(clear_all, dispatch_uid="lingjing.core.memo")  # a flushed database: no memo survives
        # Without a sender: it must run after the last app's permissions exist (see roles.py).
        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="lingjing.core.roles")


def _create_cache_table(using: str = "default", **kwargs: Any) -> None:
    """The database cache (used without REDIS_URL) needs its table; create it with the schema."""
    from django.core.management import call_command

    call_command("createcachetable", database=using, verbosity=0)
