from django.apps import AppConfig


class SecurityConfig(AppConfig):
    name = "lingjing.security"
    label = "security"
    default_auto_field = "django.db.models.BigAutoField"
