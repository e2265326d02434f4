from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "lingjing.notify"
    label = "notify"
    verbose_name = "通知与公告"
    default_auto_field = "django.db.models.BigAutoField"
