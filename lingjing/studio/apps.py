from django.apps import AppConfig


class StudioConfig(AppConfig):
    name = "lingjing.studio"
    label = "studio"
    verbose_name = "创作工作台"
    default_auto_field = "django.db.models.BigAutoField"
