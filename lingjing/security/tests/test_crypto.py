"""Per-person keys and sealed fields: confidentiality, binding, rotation and shredding."""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection, transaction

from lingjing.accounts.models import User
from lingjing.core.keyfiles import master_key_id
from lingjing.security import crypto
from lingjing.security.crypto import CryptoError, SubjectShredded, blind_index, open_sealed, shred_subject
from lingjing.security.models import DataKey, KeyRotation, ShreddedSubject

pytestmark = pytest.mark.django_db

PHONES = ["+8613800138001", "+8613900139002", "+8613700137003"]


def make_users() -> list[User]:
    return [
        User.objects.create_user(phone, nickname=f"用户{i}", birth_date=f"199{i}-01-0{i + 1}")
        for i, phone in enumerate(PHONES)
    ]


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


def test_sealed_values_round_trip_and_are_not_stored_in_plaintext() -> None:
    users = make_users()
    fresh = User.objects.get(pk=users[0].pk)
    assert fresh.phone == PHONES[0]
    assert fresh.birth_date == "1990-01-01"
    assert fresh.phone_masked == "138****8001"
    stored = raw("SELECT phone, birth_date FROM accounts_user WHERE id = %s", [users[0].pk.hex])
    if not stored:  # PostgreSQL stores UUIDs natively
        stored = raw("SELECT phone, birth_date FROM accounts_user WHERE id = %s", [str(users[0].pk)])
    phone_cell, birth_cell = stored[0]
    assert phone_cell.startswith("ljx1$k") and PHONES[0] not in phone_cell
    assert "1990" not in birth_cell


def test_a_raw_dump_shows_no_plaintext_phone() -> None:
    make_users()
    dump = dump_database_text()
    for phone in PHONES:
        assert phone not in dump
        assert phone[3:] not in dump  # nor the national number
    # The blind index is there (lookups work) but is a keyed hash, not the number.
    assert User.objects.get_by_phone("13800138001") is not None


def test_ciphertext_swapped_between_rows_fails_to_decrypt() -> None:
    first, second = make_users()[:2]
    envelope_1 = User._meta.get_field("phone").raw_envelope(User.objects.get(pk=first.pk))
    envelope_2 = User._meta.get_field("phone").raw_envelope(User.objects.get(pk=second.pk))
    # Copy the second user's ciphertext into the first user's row, bypassing the application.
    User.objects.filter(pk=first.pk).update(phone=crypto.Sealed(envelope_2))
    with pytest.raises(CryptoError):
        _ = User.objects.get(pk=first.pk).phone
    # Even the same person's key cannot open a value moved to another column.
    User.objects.filter(pk=first.pk).update(phone=crypto.Sealed(envelope_1), birth_date=crypto.Sealed(envelope_1))
    assert User.objects.get(pk=first.pk).phone == PHONES[0]
    with pytest.raises(CryptoError):
        _ = User.objects.get(pk=first.pk).birth_date


def test_tampered_ciphertext_is_detected() -> None:
    user = make_users()[0]
    envelope = User._meta.get_field("phone").raw_envelope(User.objects.get(pk=user.pk))
    assert envelope is not None
    prefix, key_id, body = envelope.split("$")
    blob = bytearray(base64.urlsafe_b64decode(body))
    blob[-1] ^= 1
    forged = f"{prefix}${key_id}${base64.urlsafe_b64encode(bytes(blob)).decode()}"
    User.objects.filter(pk=user.pk).update(phone=crypto.Sealed(forged))
    with pytest.raises(CryptoError):
        _ = User.objects.get(pk=user.pk).phone


def test_plaintext_cannot_reach_the_database_around_save() -> None:
    user = make_users()[0]
    with pytest.raises(CryptoError):
        User.objects.filter(pk=user.pk).update(phone="+8613800138001")


def test_each_person_has_their_own_key_named_inside_the_ciphertext() -> None:
    first, second = make_users()[:2]
    field = User._meta.get_field("phone")
    key_1 = crypto.envelope_key_id(field.raw_envelope(User.objects.get(pk=first.pk)) or "")
    key_2 = crypto.envelope_key_id(field.raw_envelope(User.objects.get(pk=second.pk)) or "")
    assert key_1 != key_2
    assert DataKey.objects.get(pk=key_1).subject == first.subject
    # Data keys are stored wrapped: the raw key bytes never appear.
    crypto.clear_key_cache()
    raw_key = crypto.key_by_id(key_1)
    assert raw_key is not None and raw_key not in bytes(DataKey.objects.get(pk=key_1).wrapped)


def test_blind_index_is_keyed_and_deterministic(settings: Any) -> None:
    assert blind_index("+8613800138001") == blind_index("+8613800138001")
    assert blind_index("+8613800138001") != blind_index("+8613800138001", purpose="guardian")
    before = blind_index("+8613800138001")
    settings.LINGJING_BLIND_INDEX_KEY = os.urandom(32)
    assert blind_index("+8613800138001") != before


def _all_envelopes() -> list[tuple[str, str | None]]:
    return [
        (f"{model._meta.label}.{field.name}:{obj.pk}", field.raw_envelope(obj))
        for model in crypto.models_with_sealed_fields()
        for field in crypto.sealed_fields(model)
        for obj in model._default_manager.all()
    ]


def test_rotation_reencrypts_every_value_under_new_keys() -> None:
    users = make_users()
    before = dict(_all_envelopes())
    old_keys = set(DataKey.objects.values_list("id", flat=True))
    report = crypto.rotate_keys()
    assert report.finished and report.subjects_rotated == len(users)
    assert report.values_reencrypted == sum(1 for envelope in before.values() if envelope)
    after = dict(_all_envelopes())
    for ref, envelope in after.items():
        if envelope:
            assert crypto.envelope_key_id(envelope) not in old_keys, ref
            assert envelope != before[ref]
    assert not DataKey.objects.filter(id__in=old_keys).exists()
    crypto.clear_key_cache()
    for user, phone in zip(users, PHONES, strict=True):
        assert User.objects.get(pk=user.pk).phone == phone


def test_rotation_resumes_after_interruption(monkeypatch: pytest.MonkeyPatch) -> None:
    users = make_users()
    first = crypto.rotate_keys(limit=1)
    assert not first.finished and first.subjects_rotated == 1
    # Crash inside the next person's transaction: it rolls back, leaving their old key and values intact.
    real_open = crypto.open_sealed
    calls = {"n": 0}

    def failing_open(envelope: str, ad: bytes) -> str | None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")
        return real_open(envelope, ad)

    monkeypatch.setattr(crypto, "open_sealed", failing_open)
    with pytest.raises(RuntimeError):
        crypto.rotate_keys()
    monkeypatch.setattr(crypto, "open_sealed", real_open)
    crypto.clear_key_cache()
    for user, phone in zip(users, PHONES, strict=True):
        assert User.objects.get(pk=user.pk).phone == phone
    resumed = crypto.rotate_keys()
    assert resumed.finished and resumed.rotation_id == first.rotation_id
    assert resumed.subjects_rotated == len(users) - 1
    rotation = KeyRotation.objects.get(pk=first.rotation_id)
    assert rotation.subjects_rotated == len(users) and rotation.finished_at is not None
    # Every data key is now newer than the rotation's cutoff, and every value still opens.
    assert not DataKey.objects.filter(created_at__lte=rotation.cutoff).exists()
    crypto.clear_key_cache()
    assert [User.objects.get(pk=u.pk).phone for u in users] == PHONES


def test_master_key_rotation_rewraps_data_keys(settings: Any) -> None:
    users = make_users()
    old_master = settings.LINGJING_CURRENT_MASTER_KEY_ID
    new_key = os.urandom(32)
    new_id = master_key_id(new_key)
    settings.LINGJING_MASTER_KEYS = {new_id: new_key, **settings.LINGJING_MASTER_KEYS}
    settings.LINGJING_CURRENT_MASTER_KEY_ID = new_id
    crypto.clear_key_cache()
    call_command("keys", "rotate", stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert set(DataKey.objects.values_list("master_key_id", flat=True)) == {new_id}
    # The old master key can now be retired.
    settings.LINGJING_MASTER_KEYS = {new_id: new_key}
    crypto.clear_key_cache()
    assert [User.objects.get(pk=u.pk).phone for u in users] == PHONES
    assert old_master != new_id


def test_shredding_makes_a_person_unreadable_everywhere_at_once() -> None:
    victim, other = make_users()[:2]
    # A "backup": the raw rows as they were before erasure.
    snapshot = User.objects.get(pk=victim.pk)
    envelope = User._meta.get_field("phone").raw_envelope(snapshot)
    assert envelope is not None
    shred_subject(victim.subject, reason="test erasure")
    assert not DataKey.objects.filter(subject=victim.subject).exists()
    assert ShreddedSubject.objects.filter(subject=victim.subject).exists()
    assert open_sealed(envelope, User._meta.get_field("phone").ad_for(snapshot)) is None
    assert User.objects.get(pk=victim.pk).phone is None
    assert User.objects.get(pk=other.pk).phone == PHONES[1]
    # Nothing can be sealed for an erased person again (no resurrection by a late write).
    reloaded = User.objects.get(pk=victim.pk)
    reloaded.nickname = "x"
    reloaded.phone = "+8613800138001"
    with pytest.raises(SubjectShredded), transaction.atomic():
        reloaded.save()
    # Idempotent.
    assert shred_subject(victim.subject, reason="again") == 0


def test_shredded_subjects_are_appended_to_the_deletion_list_file(settings: Any) -> None:
    user = make_users()[0]
    shred_subject(user.subject, reason="test")
    shred_subject(user.subject, reason="test")
    lines = (settings.DATA_DIR / "deletion-list.txt").read_text().splitlines()
    assert lines == [user.subject]


def test_every_model_with_sealed_fields_has_a_uuid_primary_key() -> None:
    from django.db import models

    for model in apps.get_models():
        if crypto.sealed_fields(model):
            assert isinstance(model._meta.pk, models.UUIDField), model


def test_deferred_sealed_field_loads_on_access() -> None:
    user = make_users()[0]
    deferred = User.objects.only("id", "nickname").get(pk=user.pk)
    assert deferred.phone == PHONES[0]
