"""Helpers for the rights-request tests: personas, a generic populator that fills every model of the registry for a
person, and SMS-code helpers.

``populate_everything(user, tag)`` walks ``registry.declarations()`` and writes one row of every model that has a
subject path, with every declared personal field set (text fields to a marker carrying ``tag``), through the
model's own ``save()`` so sealed fields are sealed under the person's key. It answers what was stored, read back
decrypted: the copy must contain all of it. New models are covered the day they are declared.
"""

from __future__ import annotations

import datetime as dt
import decimal
import itertools
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import models, transaction

from lingjing.accounts.models import User
from lingjing.core.outbox import read_jsonl
from lingjing.privacy.engines.export import jsonable
from lingjing.privacy.registry import Declaration, declarations
from lingjing.security.crypto import SealedField

_counter = itertools.count(1)
WHEN = dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.UTC)


@dataclass
class Populated:
    user: User
    tag: str
    expected: dict[tuple[str, str], Any] = field(default_factory=dict)  # (model, field) -> exported value
    markers: list[str] = field(default_factory=list)  # every text marker written (long enough to search for)
    marker_fields: dict[str, str] = field(default_factory=dict)  # marker -> "<model>.<field>" it was written to
    files: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def make_user(phone: str, nickname: str, birth: str = "1990-05-06") -> User:
    return User.objects.create_user(phone, nickname=nickname, birth_date=birth)


def make_officer(phone: str = "+8613700000009", nickname: str = "officer") -> User:
    user = User.objects.create_user(phone, nickname=nickname, is_staff=True)
    group, _ = Group.objects.get_or_create(name="privacy_officer")
    for codename in ("view_rightsrequest", "change_rightsrequest"):
        perm = Permission.objects.get(codename=codename, content_type__app_label="privacy")
        group.permissions.add(perm)
    user.groups.add(group)
    return User.objects.get(pk=user.pk)


def last_code(phone: str) -> str:
    for message in reversed(read_jsonl("sms.jsonl")):
        if message["to"] == phone:
            match = re.search(r"\b(\d{6})\b", message["text"])
            assert match, message
            return match.group(1)
    raise AssertionError(f"no SMS to {phone}")


def _text(f: models.Field[Any, Any], value: str) -> str:
    limit = getattr(f, "max_length", None)
    return value[:limit] if limit else value


def _filler(f: models.Field[Any, Any], related: Any) -> Any:
    """A value for a required non-personal field."""
    n = next(_counter)
    if isinstance(f, models.ForeignKey | models.OneToOneField):
        return related(f.related_model)
    if f.choices:
        return f.choices[0][0]
    if isinstance(f, models.BooleanField):
        return False
    if isinstance(f, models.IntegerField):
        return n
    if isinstance(f, models.DateTimeField):
        return WHEN + dt.timedelta(days=30)
    if isinstance(f, models.DateField):
        return dt.date(2026, 3, 4)
    if isinstance(f, models.JSONField):
        return {}
    if isinstance(f, models.UUIDField):
        return uuid.uuid4()
    if isinstance(f, models.BinaryField):
        return b"x"
    if isinstance(f, models.DecimalField):
        return decimal.Decimal("1")
    if isinstance(f, models.FloatField):
        return 1.0
    if isinstance(f, models.GenericIPAddressField):
        return "10.0.0.1"
    if isinstance(f, models.URLField):
        return f"https://example.com/{n}"
    return _text(f, f"f{n}x{uuid.uuid4().hex}")


def _marker(decl: Declaration, f: models.Field[Any, Any], tag: str, pop: Populated) -> Any:
    """A value for a declared personal field that identifies ``tag`` and this field."""
    n = next(_counter)
    text = f"{tag}{n}{decl.model.__name__[:6]}{f.name[:6]}"
    pd = decl.fields[f.name]
    pop.marker_fields[text] = pop.marker_fields[f"{text}-file"] = f"{decl.label}.{f.name}"
    if isinstance(f, models.FileField) or pd.export == "file":
        name = default_storage.save(f"rights-test/{tag}/{n}.bin", ContentFile(f"{text}-file".encode()))
        pop.files.append(name)
        pop.markers.append(f"{text}-file")
        return name
    if isinstance(f, SealedField):
        pop.markers.append(text)
        return text
    if isinstance(f, models.BooleanField):
        return True
    if isinstance(f, models.IntegerField):
        return 7 + n
    if isinstance(f, models.DateTimeField):
        return WHEN + dt.timedelta(minutes=n)
    if isinstance(f, models.DateField):
        return dt.date(2020, 1, 2)
    if isinstance(f, models.JSONField):
        pop.markers.append(text)
        return {"m": text}
    if isinstance(f, models.UUIDField):
        return uuid.uuid4()
    if isinstance(f, models.GenericIPAddressField):
        return f"10.{n % 250}.1.2"
    if isinstance(f, models.DecimalField):
        return decimal.Decimal("1.5")
    if isinstance(f, models.FloatField):
        return 1.5
    if isinstance(f, models.CharField | models.TextField):
        value = _text(f, text)
        if len(value) >= 10:
            pop.markers.append(value)
            pop.marker_fields[value] = f"{decl.label}.{f.name}"
        return value
    return _filler(f, lambda m: None)


def populate_everything(user: User, tag: str, *, other: User) -> Populated:
    """One row of every registry model with a subject path, for ``user``; ``other`` fills foreign keys to users that
    are not the subject (reviewers, followees)."""
    from lingjing.security import audit
    from lingjing.security.audit import AuditEvent

    pop = Populated(user=user, tag=tag)
    built: dict[str, Any] = {}

    def related(model: type[models.Model]) -> Any:
        if model is User:
            return other
        label = model._meta.label
        if label in built:
            return built[label]
        obj = _build(model, None, related, pop, tag, user)
        built[label] = obj
        return obj

    for decl in declarations():
        if not (decl.subject or decl.subject_ref) or decl.subject == "self":
            continue
        if decl.label == "security.AuditEntry":
            text = f"{tag}-auditdetail"
            with transaction.atomic():
                audit.record(AuditEvent.USER_UPDATED, subject=f"u:{user.pk}", details={"fields": ["x"]},
                             personal={"m": text})
            pop.markers.append(text)
            continue
        try:
            with transaction.atomic():
                obj = _build(decl.model, decl, related, pop, tag, user)
                built.setdefault(decl.label, obj)
        except Exception as exc:  # noqa: BLE001 - reported by the test with the model's name
            pop.failures.append(f"{decl.label}: {type(exc).__name__}: {exc}")
    _fill_user(user, tag, pop)
    _read_back(pop)
    return pop


def _build(model: type[models.Model], decl: Declaration | None, related: Any, pop: Populated, tag: str,
           user: User) -> Any:
    obj = model()
    for f in model._meta.concrete_fields:
        if decl is not None and f.name == decl.subject:
            setattr(obj, f.name, user)
            continue
        if decl is not None and f.name == decl.subject_ref:
            setattr(obj, f.name, f"u:{user.pk}")
            continue
        if decl is not None and f.name in decl.fields:
            if isinstance(f, models.ForeignKey):
                setattr(obj, f.name, related(f.related_model))
            else:
                setattr(obj, f.attname, _marker(decl, f, tag, pop))
            continue
        if f.primary_key:
            continue
        if isinstance(f, models.ForeignKey | models.OneToOneField):
            target = related(f.related_model)
            if isinstance(f, models.OneToOneField):
                target = _build(f.related_model, None, related, pop, tag, user)  # a fresh one: unique
            setattr(obj, f.name, target)
            continue
        if f.has_default() or f.null or (f.blank and not isinstance(f, models.DateTimeField)):
            continue
        setattr(obj, f.attname, _filler(f, related))
    obj.save()
    return obj


def _fill_user(user: User, tag: str, pop: Populated) -> None:
    name = default_storage.save(f"rights-test/{tag}/avatar.png", ContentFile(f"{tag}-avatar-file".encode()))
    thumb = default_storage.save(f"rights-test/{tag}/avatar_256.png", ContentFile(f"{tag}-thumb-file".encode()))
    pop.files += [name, thumb]
    pop.markers += [f"{tag}-avatar-file", f"{tag}-thumb-file"]
    for old in (user.avatar, user.avatar_thumb):  # replaced, as accounts.actions.do_set_avatar does
        if old:
            default_storage.delete(old)
    user.avatar = name
    user.avatar_thumb = thumb
    user.last_login = WHEN
    user.totp_enabled_at = WHEN
    user.save()
    pop.markers.append(user.nickname)
    pop.markers.append(user.phone or "")


def _read_back(pop: Populated) -> None:
    """What is stored now, decrypted, per exported declared field of the person's rows."""
    for decl in declarations():
        if not (decl.subject or decl.subject_ref):
            continue
        rows = list(decl.model._base_manager.filter(**decl.subject_filter(pop.user.pk)))
        for name, pd in decl.fields.items():
            if pd.export == "omit":
                continue
            f = decl.model._meta.get_field(name)
            attr = f.attname if f.is_relation else f.name  # type: ignore[union-attr]
            values = [jsonable(getattr(row, attr)) for row in rows]
            present = [v for v in values if v not in (None, "")]
            if not present:
                pop.failures.append(f"{decl.label}.{name}: no value stored")
                continue
            pop.expected[(decl.label, name)] = present
