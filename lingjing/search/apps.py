from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "lingjing.search"
    label = "search"
    verbose_name = "搜索"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from lingjing.search import receivers  # noqa: F401  (consent withdrawal clears the history)
