"""Personas for the engine tests: alice is exported or erased, bob must come through untouched."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction

from lingjing.accounts.models import ApiToken, User
from lingjing.privacy.tests.testapp.models import Bulk, Diary, Invoice, Showcase, Visit
from lingjing.security import audit
from lingjing.security.audit import AuditEvent

slow = pytest.mark.skipif(
    not os.environ.get("LINGJING_SLOW_TESTS"), reason="volume test; set LINGJING_SLOW_TESTS=1 to run"
)


@dataclass
class Person:
    user: User
    tag: str
    markers: list[str] = field(default_factory=list)  # every plaintext personal value stored about them
    files: list[str] = field(default_factory=list)  # storage names of their files


@dataclass
class World:
    alice: Person
    bob: Person


def raw(sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return list(cursor.fetchall())


def dump_database_text() -> str:
    """Every row of every table as text: what someone with a raw copy of the database would see."""
    chunks: list[str] = []
    for table in connection.introspection.table_names():
        for row in raw(f'SELECT * FROM "{table}"'):  # noqa: S608 - table names come from introspection
            chunks.extend(repr(value) for value in row)
    return "\n".join(chunks)


def populate(tag: str, phone: str, birth_date: str) -> Person:
    """One person with data in every erasure path: DELETE (+files, sealed), subject_ref, ANONYMISE, KEEP."""
    user = User.objects.create_user(phone, nickname=f"{tag}-昵称", birth_date=birth_date)
    person = Person(user, tag, markers=[phone, phone[3:], f"{tag}-昵称"])

    def mark(value: str) -> str:
        person.markers.append(value)
        return value

    token = ApiToken(user=user, token_hash=f"{tag}-hash".ljust(64, "0"), label=mark(f"{tag}-的手机"))
    token.save()
    for i in range(5):
        diary = Diary(owner=user, title=mark(f"{tag}-日记标题-{i}"), body=mark(f"{tag}-日记正文-{i}"))
        if i < 2:
            diary.attachment.save(f"{tag}-{i}.txt", ContentFile(f"{tag}-附件-{i}".encode()), save=False)
            assert diary.attachment.name
            person.files.append(diary.attachment.name)
        diary.save()
    for i in range(3):
        Visit.objects.create(subject=user.subject, ip=mark(f"10.{len(tag)}.{ord(tag[0])}.{i + 1}"))
    for i in range(3):
        show = Showcase(author=user, title=f"{tag} public title {i}", signature=mark(f"{tag}-签名-{i}"),
                        draft=mark(f"{tag}-草稿-{i}"), likes=7)
        if i == 0:
            show.cover.save(f"{tag}-cover.png", ContentFile(b"\x89PNG fake"), save=False)
            assert show.cover.name
            person.files.append(show.cover.name)
        show.save()
    Invoice(user=user, memo=mark(f"{tag}-发票备注"), amount=42).save()
    for i in range(3):
        Bulk.objects.create(owner=user, text=mark(f"{tag}-用量-{i}"), n=i)
    with transaction.atomic():
        audit.record(AuditEvent.USER_UPDATED, subject=user.subject, obj=user,
                     details={"fields": ["nickname"]}, personal={"nickname": mark(f"{tag}-审计细节")})
    return person


@pytest.fixture
def world(db: Any, settings: Any) -> World:
    settings.LINGJING_AUDIT_CHECKPOINT_EVERY = 10**9
    alice = populate("alice", "+8613811112222", "1990-05-06")
    bob = populate("bob", "+8613933334444", "1988-11-12")
    for person in (alice, bob):
        for name in person.files:
            assert default_storage.exists(name)
    return World(alice, bob)
