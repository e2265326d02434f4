"""Noticing a child's data collected without a guardian's consent (policy 六: "设法尽快删除相关数据").

Whatever changes a user's birth date (a correction on the profile, a rights request, the console) saves the user
row; a ``pre_save`` receiver sees that the sealed ``birth_date`` was assigned since the row was loaded (the field
then holds plaintext, not a :class:`~lingjing.security.crypto.Sealed` envelope) at no database cost, and
``post_save`` schedules :func:`lingjing.children.tasks.check_unconsented_child` for after the commit. The task
decides on the committed state, so a registration that adds the guardian's consent in the same transaction is
never mistaken for an unconsented child.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_save, pre_save

from lingjing.security.crypto import Sealed

_FLAG = "_lj_birth_date_assigned"


def _birth_date_assigned(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    if raw:
        return
    value = instance.__dict__.get("birth_date")
    if value is not None and not isinstance(value, Sealed):
        instance.__dict__[_FLAG] = True


def _schedule_check(sender: Any, instance: Any, created: bool = False, raw: bool = False, **kwargs: Any) -> None:
    if raw or not instance.__dict__.pop(_FLAG, False):
        return
    update_fields = kwargs.get("update_fields")
    if update_fields is not None and "birth_date" not in update_fields:
        return
    from lingjing.children.tasks import check_unconsented_child

    user_id = str(instance.pk)
    trigger = "account_created" if created else "birth_date_changed"
    transaction.on_commit(lambda: check_unconsented_child.enqueue(user_id, trigger))


def connect() -> None:
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    pre_save.connect(_birth_date_assigned, sender=user_model, dispatch_uid="lingjing.children.birth_date_assigned")
    post_save.connect(_schedule_check, sender=user_model, dispatch_uid="lingjing.children.schedule_check")
