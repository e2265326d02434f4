from django.apps import AppConfig


class WorksConfig(AppConfig):
    name = "lingjing.works"
    label = "works"
    verbose_name = "作品"
    default_auto_field = "django.db.models.BigAutoField"
