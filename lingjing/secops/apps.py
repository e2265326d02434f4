from __future__ import annotations

from django.apps import AppConfig


class SecopsConfig(AppConfig):
    name = "lingjing.secops"
    label = "secops"
    verbose_name = "安全运营"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from lingjing.secops import signals

        signals.connect()
