"""Per-person keys and field encryption (the spine's third vertebra).

Design
------
* Every *subject* (a person: ``u:<user uuid>``, or a visitor contact ``v:<uuid>``) gets AES-256 data keys,
  stored in :class:`~lingjing.security.models.DataKey` wrapped (AES-GCM) by the master key from the
  environment. The wrapped key names the master key that wrapped it, so master keys can be rotated.
* A sealed value is ``ljx1$<data key id>$<base64url(nonce || ciphertext)>``. The associated data binds the
  ciphertext to ``table|column|row id``: a ciphertext copied into another row or column fails to decrypt.
* Crypto-shredding: :func:`shred_subject` deletes every data key of the subject and records the subject in the
  deletion list. Copies of the rows anywhere (backups included) become unreadable at once, and no new value can
  be sealed for that subject afterwards.
* Rotation (:func:`rotate_keys`): per subject, in one transaction, a fresh data key under the current master key,
  every sealed value of the subject re-encrypted, the old keys deleted. A crash loses at most the subject in
  flight, whose transaction rolls back; running again resumes with the subjects still holding old keys.
* Unwrapped keys are cached in-process for a short time (``_CACHE_SECONDS``); shredding clears this process's
  cache and other processes drop theirs within that time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from lingjing.core.faults import checkpoint

if TYPE_CHECKING:
    from lingjing.security.models import DataKey

PREFIX = "ljx1"
_CACHE_SECONDS = 30.0


class CryptoError(Exception):
    """A sealed value could not be opened (wrong row, tampered, or unknown key)."""


class SubjectShredded(CryptoError):
    """The subject's keys were destroyed: nothing can be sealed for them any more."""


def user_subject(user_id: uuid.UUID | str) -> str:
    return f"u:{user_id}"


# --- blind index ------------------------------------------------------------------------------------------


def blind_index(value: str, *, purpose: str = "phone") -> str:
    """Keyed HMAC of a normalised value, for equality lookups without storing the value."""
    message = purpose.encode() + b"\x00" + value.encode()
    return hmac.new(settings.LINGJING_BLIND_INDEX_KEY, message, hashlib.sha256).hexdigest()


# --- key store --------------------------------------------------------------------------------------------

_cache: dict[str, tuple[float, bytes]] = {}
_cache_lock = threading.Lock()


def _cache_get(key_id: str) -> bytes | None:
    with _cache_lock:
        hit = _cache.get(key_id)
        if hit is None or hit[0] < time.monotonic():
            _cache.pop(key_id, None)
            return None
        return hit[1]


def _cache_put(key_id: str, key: bytes) -> None:
    with _cache_lock:
        _cache[key_id] = (time.monotonic() + _CACHE_SECONDS, key)


def clear_key_cache() -> None:
    with _cache_lock:
        _cache.clear()


def _wrap_ad(key_id: str, subject: str) -> bytes:
    return f"datakey|{key_id}|{subject}".encode()


def _unwrap(row: DataKey) -> bytes:
    master = settings.LINGJING_MASTER_KEYS.get(row.master_key_id)
    if master is None:
        raise CryptoError(f"master key {row.master_key_id} is not configured (LINGJING_OLD_MASTER_KEYS?)")
    blob = bytes(row.wrapped)
    try:
        return AESGCM(master).decrypt(blob[:12], blob[12:], _wrap_ad(row.id, row.subject))
    except InvalidTag:
        raise CryptoError(f"data key {row.id} does not unwrap under master key {row.master_key_id}") from None


def _new_data_key(subject: str) -> tuple[DataKey, bytes]:
    from lingjing.security.models import DataKey, ShreddedSubject

    if ShreddedSubject.objects.filter(subject=subject).exists():
        raise SubjectShredded(f"subject {subject} was erased; nothing can be sealed for it")
    key = AESGCM.generate_key(bit_length=256)
    key_id = "k" + uuid.uuid4().hex[:19]
    master_id = settings.LINGJING_CURRENT_MASTER_KEY_ID
    nonce = os.urandom(12)
    wrapped = nonce + AESGCM(settings.LINGJING_MASTER_KEYS[master_id]).encrypt(nonce, key, _wrap_ad(key_id, subject))
    row = DataKey.objects.create(id=key_id, subject=subject, wrapped=wrapped, master_key_id=master_id)
    _cache_put(key_id, key)
    return row, key


def active_key(subject: str) -> tuple[str, bytes]:
    """The subject's newest data key, created on first use."""
    from lingjing.security.models import DataKey

    row = DataKey.objects.filter(subject=subject).order_by("-created_at", "-id").first()
    if row is None:
        with transaction.atomic():
            row = DataKey.objects.select_for_update().filter(subject=subject).order_by("-created_at").first()
            if row is None:
                row, key = _new_data_key(subject)
                return row.id, key
    cached = _cache_get(row.id)
    if cached is not None:
        return row.id, cached
    key = _unwrap(row)
    _cache_put(row.id, key)
    return row.id, key


def key_by_id(key_id: str) -> bytes | None:
    """The data key with this id, or None when it was shredded."""
    from lingjing.security.models import DataKey

    cached = _cache_get(key_id)
    if cached is not None:
        return cached
    row = DataKey.objects.filter(id=key_id).first()
    if row is None:
        return None
    key = _unwrap(row)
    _cache_put(key_id, key)
    return key


# --- sealing ----------------------------------------------------------------------------------------------


def associated_data(table: str, column: str, row_id: object) -> bytes:
    return f"{table}|{column}|{row_id}".encode()


def seal(subject: str, plaintext: str, ad: bytes) -> str:
    key_id, key = active_key(subject)
    return _seal_with(key_id, key, plaintext, ad)


def _seal_with(key_id: str, key: bytes, plaintext: str, ad: bytes) -> str:
    nonce = os.urandom(12)
    body = base64.urlsafe_b64encode(nonce + AESGCM(key).encrypt(nonce, plaintext.encode(), ad)).decode()
    return f"{PREFIX}${key_id}${body}"


def envelope_key_id(envelope: str) -> str:
    parts = envelope.split("$")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise CryptoError("not a sealed value")
    return parts[1]


def open_sealed(envelope: str, ad: bytes) -> str | None:
    """Plaintext of a sealed value; None when its key was shredded. Raises CryptoError on tampering."""
    key_id = envelope_key_id(envelope)
    key = key_by_id(key_id)
    if key is None:
        return None
    raw = base64.urlsafe_b64decode(envelope.split("$", 2)[2])
    try:
        return AESGCM(key).decrypt(raw[:12], raw[12:], ad).decode()
    except InvalidTag:
        raise CryptoError("sealed value does not belong to this row and column, or was altered") from None


# --- the model field --------------------------------------------------------------------------------------


class Sealed(str):
    """Marks a value that came from the database: a ciphertext envelope, not plaintext."""

    __slots__ = ()


_PLAIN_CACHE = "_sealed_plain"


class SealedDescriptor:
    """Holds the envelope; decrypts lazily on read; takes plaintext on write (sealed at save)."""

    def __init__(self, field: SealedField) -> None:
        self.field = field

    def __get__(self, instance: models.Model | None, owner: type | None = None) -> Any:
        if instance is None:
            return self
        if self.field.attname not in instance.__dict__:  # deferred (.only()/.defer()): load it like Django does
            instance.refresh_from_db(fields=[self.field.attname])
        value = instance.__dict__.get(self.field.attname)
        if value is None or not isinstance(value, Sealed):
            return value
        plain: dict[str, str | None] = instance.__dict__.setdefault(_PLAIN_CACHE, {})
        if self.field.attname not in plain:
            plain[self.field.attname] = open_sealed(value, self.field.ad_for(instance))
        return plain[self.field.attname]

    def __set__(self, instance: models.Model, value: Any) -> None:
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{self.field.name} holds text, not {type(value).__name__}")
        instance.__dict__.get(_PLAIN_CACHE, {}).pop(self.field.attname, None)
        instance.__dict__[self.field.attname] = value


class SealedField(models.TextField):  # type: ignore[type-arg]
    """Text encrypted under the owning subject's data key.

    ``owner`` names how to find the subject: ``"self"`` (the row is the user), the name of a foreign key to the
    user model (``"user"``, ``"author"``), or the name of a CharField that stores a subject string.
    The model's primary key must be a UUID with a default, so the row id is known before the first save.
    """

    description = "Text sealed with AES-GCM under a per-person key"

    def __init__(self, *args: Any, owner: str = "self", **kwargs: Any) -> None:
        self.owner = owner
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["owner"] = self.owner
        for key, default in (("null", True), ("blank", True), ("editable", False)):
            if kwargs.get(key) == default:
                kwargs.pop(key)
        return name, path, args, kwargs

    def contribute_to_class(self, cls: type[models.Model], name: str, private_only: bool = False) -> None:
        super().contribute_to_class(cls, name, private_only=private_only)
        setattr(cls, self.attname, SealedDescriptor(self))

    def check(self, **kwargs: Any) -> list[Any]:
        from django.core import checks

        errors: list[Any] = list(super().check(**kwargs))
        pk = self.model._meta.pk
        if not isinstance(pk, models.UUIDField) or not pk.has_default():
            errors.append(
                checks.Error(
                    f"{self.model.__name__}.{self.name}: a SealedField needs a UUID primary key with a default",
                    id="lingjing.E101",
                    obj=self,
                )
            )
        return errors

    def ad_for(self, instance: models.Model) -> bytes:
        return associated_data(self.model._meta.db_table, str(self.column), instance.pk)

    def subject_for(self, instance: models.Model) -> str:
        if self.owner == "self":
            return user_subject(instance.pk)
        field = self.model._meta.get_field(self.owner)
        if isinstance(field, models.ForeignKey):
            owner_id = getattr(instance, field.attname)
            if owner_id is None:
                raise CryptoError(f"{self.model.__name__}.{self.name}: no owner to seal for")
            return user_subject(owner_id)
        subject = getattr(instance, self.owner)
        if not subject:
            raise CryptoError(f"{self.model.__name__}.{self.name}: no owner subject to seal for")
        return str(subject)

    def owner_filter(self, subject: str) -> dict[str, Any]:
        """Queryset filter selecting the rows sealed for ``subject``."""
        if self.owner == "self" or isinstance(self.model._meta.get_field(self.owner), models.ForeignKey):
            if not subject.startswith("u:"):
                return {"pk__in": []}
            user_id = subject[2:]
            return {"pk": user_id} if self.owner == "self" else {f"{self.owner}_id": user_id}
        return {self.owner: subject}

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Sealed | None:
        return None if value is None else Sealed(value)

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = model_instance.__dict__.get(self.attname)
        if value is None or isinstance(value, Sealed):
            return value
        envelope = Sealed(seal(self.subject_for(model_instance), value, self.ad_for(model_instance)))
        model_instance.__dict__[self.attname] = envelope
        model_instance.__dict__.setdefault(_PLAIN_CACHE, {})[self.attname] = value
        return envelope

    def get_prep_value(self, value: Any) -> Any:
        if value is None or isinstance(value, Sealed):
            return None if value is None else str(value)
        # Plaintext reaching the database without pre_save (queryset.update, bulk_update) is refused.
        raise CryptoError(f"{self.model.__name__}.{self.name}: refusing to write plaintext; save() the instance")

    def raw_envelope(self, instance: models.Model) -> str | None:
        value = instance.__dict__.get(self.attname)
        return str(value) if isinstance(value, Sealed) else None


def sealed_fields(model: type[models.Model]) -> list[SealedField]:
    return [f for f in model._meta.concrete_fields if isinstance(f, SealedField)]


def models_with_sealed_fields() -> Iterator[type[models.Model]]:
    from django.apps import apps

    for model in apps.get_models():
        if sealed_fields(model):
            yield model


# --- shredding and rotation -------------------------------------------------------------------------------


def shred_subject(subject: str, *, reason: str) -> int:
    """Destroy every data key of ``subject`` and add it to the deletion list. Idempotent."""
    from lingjing.security.models import DataKey, ShreddedSubject

    with transaction.atomic():
        deleted, _ = DataKey.objects.filter(subject=subject).delete()
        ShreddedSubject.objects.get_or_create(subject=subject, defaults={"reason": reason[:200]})
    _append_deletion_list(subject)
    clear_key_cache()
    return deleted


def _append_deletion_list(subject: str) -> None:
    """The deletion list lives outside the database too, so a restore can replay it."""
    path = settings.DATA_DIR / "deletion-list.txt"
    existing = path.read_text().splitlines() if path.exists() else []
    if subject not in existing:
        with path.open("a") as handle:
            handle.write(subject + "\n")


@dataclass
class RotationReport:
    rotation_id: int
    subjects_rotated: int
    values_reencrypted: int
    finished: bool


def rotate_keys(*, limit: int | None = None) -> RotationReport:
    """Start (or resume) a rotation: every data key created before it began is replaced.

    ``limit`` stops after that many subjects (tests use it to simulate an interruption).
    """
    from lingjing.security.models import DataKey, KeyRotation

    rotation = KeyRotation.objects.filter(finished_at__isnull=True).order_by("id").first()
    if rotation is None:
        rotation = KeyRotation.objects.create(cutoff=timezone.now())
    stale = (
        DataKey.objects.filter(created_at__lte=rotation.cutoff).values_list("subject", flat=True).distinct()
    )
    subjects_done = 0
    values = 0
    for subject in list(stale.order_by("subject")):
        if limit is not None and subjects_done >= limit:
            return RotationReport(rotation.pk, subjects_done, values, False)
        count = _rotate_subject(subject, rotation.cutoff)
        values += count
        subjects_done += 1
        KeyRotation.objects.filter(pk=rotation.pk).update(
            subjects_rotated=models.F("subjects_rotated") + 1, values_reencrypted=models.F("values_reencrypted") + count
        )
        checkpoint("security.keys.subject")  # fault tests: killed between two subjects
    KeyRotation.objects.filter(pk=rotation.pk).update(finished_at=timezone.now())
    return RotationReport(rotation.pk, subjects_done, values, True)


def _rotate_subject(subject: str, cutoff: Any) -> int:
    from lingjing.security.models import DataKey

    count = 0
    with transaction.atomic():
        old = list(DataKey.objects.select_for_update().filter(subject=subject, created_at__lte=cutoff))
        if not old:
            return 0
        new_row, new_key = _new_data_key(subject)
        for model in models_with_sealed_fields():
            for field in sealed_fields(model):
                rows = model._default_manager.filter(**field.owner_filter(subject)).exclude(**{field.attname: None})
                for obj in rows.iterator(chunk_size=500):
                    envelope = field.raw_envelope(obj)
                    if envelope is None or envelope_key_id(envelope) == new_row.id:
                        continue
                    plain = open_sealed(envelope, field.ad_for(obj))
                    if plain is None:
                        continue
                    fresh = Sealed(_seal_with(new_row.id, new_key, plain, field.ad_for(obj)))
                    model._default_manager.filter(pk=obj.pk).update(**{field.attname: fresh})
                    count += 1
        DataKey.objects.filter(pk__in=[row.pk for row in old]).delete()
    clear_key_cache()
    return count
