from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class SharingConfig(AppConfig):
    name = "lingjing.sharing"
    label = "sharing"
    verbose_name = "对外提供与跨境"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from lingjing.sharing.seed import seed_after_migrate

        # Without a sender: it must run after the consent app's tables exist (purposes are rows there).
        post_migrate.connect(seed_after_migrate, dispatch_uid="lingjing.sharing.seed")
