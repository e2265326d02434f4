"""Test-only models, one per erasure path: DELETE with a file and a sealed field, ANONYMISE, KEEP, and
``subject_ref``; plus a plain model for volume tests."""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from lingjing.privacy.registry import PD, NonPersonal, Retention, RowErase, declare
from lingjing.security.crypto import SealedField

_ACCOUNT = Retention.account()


@declare(
    subject="owner",
    fields={
        "title": PD("content.script", ("content",), "contract", _ACCOUNT),
        "body": PD("content.script", ("content",), "contract", _ACCOUNT),
        "attachment": PD("content.asset", ("content",), "contract", _ACCOUNT, export="file"),
        "written_at": PD("content.script", ("content",), "contract", _ACCOUNT),
    },
    non_personal=NonPersonal(["id", "owner"], why="pseudonymous ids"),
    on_erase=RowErase.DELETE,
    erase_order=10,
)
class Diary(models.Model):
    objects: ClassVar[models.Manager[Diary]] = models.Manager()  # this app is installed only under test
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    title = models.CharField(max_length=80)
    body = SealedField(owner="owner")
    attachment = models.FileField(upload_to="diary", blank=True)
    written_at = models.DateTimeField(default=timezone.now)


@declare(
    subject="author",
    fields={
        "signature": PD("profile.nickname", ("profile",), "contract", _ACCOUNT, anonymised="已注销"),
        "cover": PD("content.asset", ("content",), "contract", _ACCOUNT, export="file", anonymised=""),
        "draft": PD("content.script", ("content",), "contract", _ACCOUNT),
        "likes": PD("content.comment", ("content",), "contract", _ACCOUNT, anonymised=0),
    },
    non_personal=NonPersonal(["id", "author", "title"], why="the public title stays with the work"),
    on_erase=RowErase.ANONYMISE,
    erase_order=40,
)
class Showcase(models.Model):
    objects: ClassVar[models.Manager[Showcase]] = models.Manager()  # this app is installed only under test
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    title = models.CharField(max_length=80)
    signature = models.CharField(max_length=40)
    cover = models.FileField(upload_to="covers", blank=True)
    draft = SealedField(owner="author")
    likes = models.PositiveIntegerField(default=0)


@declare(
    subject_ref="subject",
    fields={"ip": PD("device.ip", ("security",), "legal_duty", Retention.for_days(180))},
    non_personal=NonPersonal(["id", "subject", "kind"], why="pseudonymous subject and an event kind"),
    on_erase=RowErase.DELETE,
    erase_order=20,
)
class Visit(models.Model):
    objects: ClassVar[models.Manager[Visit]] = models.Manager()  # this app is installed only under test
    subject = models.CharField(max_length=64, db_index=True)
    ip = models.CharField(max_length=45)
    kind = models.CharField(max_length=20, default="view")


@declare(
    subject="user",
    fields={"memo": PD("support.message", ("compliance",), "legal_duty", Retention.for_days(30))},
    non_personal=NonPersonal(["id", "user", "amount"], why="pseudonymous id and an amount"),
    on_erase=RowErase.KEEP,
    keep_days=30,
    erase_order=30,
)
class Invoice(models.Model):
    objects: ClassVar[models.Manager[Invoice]] = models.Manager()  # this app is installed only under test
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    memo = SealedField(owner="user")
    amount = models.PositiveIntegerField()


@declare(
    subject="owner",
    fields={"text": PD("behaviour.usage", ("analytics",), "consent", Retention.for_days(30))},
    non_personal=NonPersonal(["id", "owner", "n"], why="pseudonymous ids and a counter"),
    on_erase=RowErase.DELETE,
    erase_order=5,
)
class Bulk(models.Model):
    objects: ClassVar[models.Manager[Bulk]] = models.Manager()  # this app is installed only under test
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    text = models.CharField(max_length=64)
    n = models.PositiveIntegerField()
