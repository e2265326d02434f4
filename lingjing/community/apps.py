from django.apps import AppConfig


class CommunityConfig(AppConfig):
    name = "lingjing.community"
    label = "community"
    verbose_name = "社区"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from lingjing.community import receivers  # noqa: F401  (reviews restore content; withdrawal drops tags)
        from lingjing.core.home import HomeSection, register_home_section
        from lingjing.works.views import home_section

        register_home_section(HomeSection("works", "works/home_feed.html", home_section, order=10))
