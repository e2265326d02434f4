from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "lingjing.notify"
    label = "notify"
    verbose_name = "通知与公告"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from lingjing.notify.announcements import banner_memo
        from lingjing.notify.models import Announcement

        banner_memo.connect(Announcement)  # a saved announcement: the per-process banner rows are dropped
