from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "lingjing.support"
    label = "support"
    verbose_name = "客服"
    default_auto_field = "django.db.models.BigAutoField"
