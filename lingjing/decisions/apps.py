from django.apps import AppConfig


class DecisionsConfig(AppConfig):
    name = "lingjing.decisions"
    label = "decisions"
    verbose_name = "自动化决策"
    default_auto_field = "django.db.models.BigAutoField"
