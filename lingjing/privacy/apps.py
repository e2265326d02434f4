from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core import checks


class PrivacyConfig(AppConfig):
    name = "lingjing.privacy"
    label = "privacy"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "隐私"

    def ready(self) -> None:
        checks.register(registry_check, "lingjing")
        from lingjing.privacy.requests.notices import register_messages

        register_messages()  # the rights requests' message templates join the notification catalogue


def registry_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Fails when a model in a personal-data app has a field the registry does not account for."""
    from lingjing.privacy.registry import find_gaps

    return [
        checks.Error(f"{gap.model}{'.' + gap.field if gap.field else ''}: {gap.problem}", id=gap.id)
        for gap in find_gaps()
    ]
