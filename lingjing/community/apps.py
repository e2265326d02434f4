from django.apps import AppConfig


class CommunityConfig(AppConfig):
    name = "lingjing.community"
    label = "community"
    verbose_name = "社区"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from lingjing.community import receivers  # noqa: F401  (reviews restore content; withdrawal drops tags)
