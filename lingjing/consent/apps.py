from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "lingjing.consent"
    label = "consent"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "同意与隐私政策"
