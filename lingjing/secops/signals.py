"""Keep the key escrow in step with erasure: a person added to the deletion list loses their escrowed keys as soon
as the erasure commits (``backups.py``, part 2)."""

from __future__ import annotations

import functools
import logging
from typing import Any

from django.db import transaction
from django.db.models.signals import post_save

log = logging.getLogger("lingjing.secops")


def _prune(subject: str) -> None:
    from lingjing.secops.backups import prune_escrow

    try:
        removed = prune_escrow([subject])
    except OSError:
        # The deletion list is replayed against the escrow at the next backup and at every restore as well.
        log.exception("could not prune the key escrow for an erased subject")
        return
    if removed:
        log.info("key escrow: %d key(s) of an erased subject removed", removed)


def _shredded(sender: Any, instance: Any, created: bool = False, raw: bool = False, **kwargs: Any) -> None:
    if created and not raw:
        transaction.on_commit(functools.partial(_prune, instance.subject))


def connect() -> None:
    from lingjing.security.models import ShreddedSubject

    post_save.connect(_shredded, sender=ShreddedSubject, dispatch_uid="lingjing.secops.escrow")
