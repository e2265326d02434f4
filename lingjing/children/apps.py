from __future__ import annotations

from django.apps import AppConfig


class ChildrenConfig(AppConfig):
    name = "lingjing.children"
    label = "children"
    verbose_name = "未成年人个人信息保护"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from lingjing.children import signals

        signals.connect()
