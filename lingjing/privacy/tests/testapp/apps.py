from __future__ import annotations

from django.apps import AppConfig


class PrivacyTestAppConfig(AppConfig):
    """Models that exercise every path of the export and erasure engines. Installed only when LINGJING_ENV=test."""

    name = "lingjing.privacy.tests.testapp"
    label = "privacy_testapp"
    default_auto_field = "django.db.models.BigAutoField"
