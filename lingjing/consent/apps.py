from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ConsentConfig(AppConfig):
    name = "lingjing.consent"
    label = "consent"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "同意与隐私政策"

    def ready(self) -> None:
        from lingjing.consent.seed import seed_after_migrate

        # Without a sender: after a flush the purposes come back even though no migration runs (consent.seed).
        post_migrate.connect(seed_after_migrate, dispatch_uid="lingjing.consent.seed")
        from lingjing.consent.models import PolicyVersion
        from lingjing.consent.policy import versions_memo

        versions_memo.connect(PolicyVersion)  # a published or edited version: the per-process list is dropped
