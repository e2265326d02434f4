"""The consent purposes every deployment starts with, seeded idempotently.

The data migration ``0002_seed_purposes`` creates them on a fresh database. A database flush (``flush``, and
the test runner's transactional tests) empties the tables without migrating again, so the same seeding also runs
from ``post_migrate`` (which ``flush`` sends), after the last app: rows that exist are left alone (staff own the
texts once published), only missing purposes and their first notice are created.
"""

from __future__ import annotations

import importlib
from typing import Any


def seed_specs() -> list[dict[str, Any]]:
    """The purposes as the migration declares them (one list, not two copies)."""
    module = importlib.import_module("lingjing.consent.migrations.0002_seed_purposes")
    return list(module.PURPOSES)


def seed_purposes(*, using: str = "default") -> int:
    """Create the seeded purposes (and their first notice) that are missing. Answers how many were created."""
    from lingjing.consent.models import Purpose, PurposeNotice

    existing = set(Purpose.objects.using(using).values_list("key", flat=True))
    created = 0
    for item in seed_specs():
        if item["key"] in existing:
            continue
        texts = {k: item[k] for k in ("title_zh", "title_en", "text_zh", "text_en")}
        fields = {k: v for k, v in item.items() if k not in texts and k != "key"}
        purpose, made = Purpose.objects.using(using).get_or_create(key=item["key"], defaults=fields)
        PurposeNotice.objects.using(using).get_or_create(purpose=purpose, version=1, defaults=texts)
        created += int(made)
    return created


def seed_after_migrate(sender: Any, app_config: Any = None, using: str = "default", **kwargs: Any) -> None:
    """``post_migrate`` receiver: once, after the last app, when the consent tables exist."""
    from django.apps import apps as global_apps
    from django.db import connections

    with_models = [config for config in global_apps.get_app_configs() if config.models_module is not None]
    if app_config is None or not with_models or app_config.label != with_models[-1].label:
        return
    tables = set(connections[using].introspection.table_names())
    if not {"consent_purpose", "consent_purposenotice"} <= tables:
        return
    seed_purposes(using=using)
