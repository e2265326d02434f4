"""Backups keep the key store apart; restoring an old backup replays the deletion list (erased people stay erased)."""

from __future__ import annotations

import io
import json
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client

from lingjing.secops import backups
from lingjing.secops.tests.conftest import ALICE_PHONE, BOB_PHONE, PASSWORD, login_api, make_member

# A restore replaces the whole database: these tests run outside the test transaction.
pytestmark = pytest.mark.django_db(transaction=True)


def _escrowed_subjects(tmp_path: Path) -> set[str]:
    data = json.loads((tmp_path / "key-escrow" / "datakeys.json").read_text())
    return {row["subject"] for row in data["keys"]}


def test_restoring_an_old_backup_does_not_resurrect_an_erased_user(tmp_path: Path, settings: Any) -> None:
    from lingjing.accounts.models import ApiToken, User, UserSession
    from lingjing.privacy.engines import erase_person
    from lingjing.security.audit_chain import verify
    from lingjing.security.crypto import associated_data, clear_key_cache, open_sealed
    from lingjing.security.models import DataKey, ShreddedSubject

    settings.LINGJING_AUDIT_CHECKPOINT_EVERY = 5
    alice = make_member(ALICE_PHONE, "爱丽丝")
    bob = make_member(BOB_PHONE, "鲍勃")
    Client().post("/accounts/login/", {"tab": "password", "action": "login", "phone": ALICE_PHONE,
                                       "password": PASSWORD})
    login_api(Client(), ALICE_PHONE, password=PASSWORD)
    bobs_token = login_api(Client(), BOB_PHONE, password=PASSWORD).json()["token"]
    old = tmp_path / "backup-monday"
    out = io.StringIO()
    call_command("backup", str(old), stdout=out)
    assert "kept apart from the backup" in out.getvalue()
    assert f"u:{alice.pk}" in _escrowed_subjects(tmp_path)

    erase_person(alice.pk)  # on Tuesday alice leaves
    assert f"u:{alice.pk}" not in _escrowed_subjects(tmp_path)  # her keys left the escrow with the erasure
    later_checkpoints = sorted((tmp_path / "audit").glob("checkpoint-*.json"))
    assert later_checkpoints

    call_command("restore", str(old), stdout=out)  # on Wednesday the disk dies and Monday's backup comes back
    assert "erased again: 1; API tokens signed out: 1" in out.getvalue()
    clear_key_cache()
    back = User.objects.get(pk=alice.pk)
    assert back.status == "erased" and back.phone is None and back.nickname == "已注销用户"
    assert back.phone_index is None and not back.has_usable_password()
    assert not ApiToken.objects.filter(user=back).exists() and not UserSession.objects.filter(user=back).exists()
    assert ShreddedSubject.objects.filter(subject=f"u:{alice.pk}").exists()
    assert not DataKey.objects.filter(subject=f"u:{alice.pk}").exists()
    assert User.objects.get(pk=bob.pk).phone == BOB_PHONE  # the living keep their keys (from the escrow)
    assert Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {bobs_token}").status_code == 401
    assert login_api(Client(), BOB_PHONE, password=PASSWORD).status_code == 200
    assert login_api(Client(), ALICE_PHONE, password=PASSWORD).status_code == 401
    assert verify().ok, verify().summary()
    assert "audit checkpoints after the backup moved aside" in out.getvalue()  # moved, not deleted
    assert list((tmp_path / "audit").glob("superseded-*/checkpoint-*.json"))

    if connection.vendor == "sqlite":  # the copy itself: alice's sealed phone is there, and nothing can open it
        copy = sqlite3.connect(old / backups.SQLITE_FILE)
        (envelope,) = copy.execute("SELECT phone FROM accounts_user WHERE id = ?", (alice.pk.hex,)).fetchone()
        copy.close()
        assert envelope and open_sealed(envelope, associated_data("accounts_user", "phone", alice.pk)) is None


def test_a_backup_holds_no_key_and_the_escrow_lives_apart(tmp_path: Path) -> None:
    from lingjing.security.models import DataKey

    make_member(ALICE_PHONE, "爱丽丝")
    target = tmp_path / "b"
    made = backups.backup(target)
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["engine"] == connection.vendor and "security_datakey" in manifest["excluded_tables"]
    assert manifest["sha256"] == backups._sha256(made.database_file)
    wrapped = [bytes(w) for w in DataKey.objects.values_list("wrapped", flat=True)]
    raw = made.database_file.read_bytes()
    assert wrapped and not any(w in raw for w in wrapped)  # not even in free pages
    if made.engine == "sqlite":
        copy = sqlite3.connect(made.database_file)
        assert copy.execute("SELECT count(*) FROM security_datakey").fetchone() == (0,)
        assert copy.execute("SELECT count(*) FROM django_session").fetchone() == (0,)
        copy.close()
    escrow = tmp_path / "key-escrow" / "datakeys.json"
    assert stat.S_IMODE(escrow.stat().st_mode) == 0o600 and made.escrowed_keys == len(wrapped)
    with pytest.raises(backups.BackupError, match="already holds a backup"):
        backups.backup(target)
    with pytest.raises(backups.BackupError, match="must not live inside"):
        backups.backup(tmp_path / "c", keys_dir=tmp_path / "c" / "keys")


def test_a_damaged_or_foreign_backup_is_refused(tmp_path: Path) -> None:
    make_member(ALICE_PHONE, "爱丽丝")
    made = backups.backup(tmp_path / "b")
    manifest_path = tmp_path / "b" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["engine"] = "oracle"
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(backups.BackupError, match="oracle"):
        backups.restore(tmp_path / "b")
    with made.database_file.open("ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(backups.BackupError, match="digest"):
        backups.restore(tmp_path / "b")
    with pytest.raises(CommandError, match="holds no backup"):
        call_command("restore", str(tmp_path / "nothing"), stdout=io.StringIO())


def test_an_older_backup_gets_the_current_schema(tmp_path: Path, monkeypatch: Any) -> None:
    make_member(ALICE_PHONE, "爱丽丝")
    backups.backup(tmp_path / "b")
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert not backups._older_schema(manifest)
    manifest["migrations"]["secops"] = []
    assert backups._older_schema(manifest) and not backups._newer_migrations(manifest)
    manifest["migrations"]["secops"] = ["9999_from_the_future"]
    assert backups._newer_migrations(manifest) == ["secops.9999_from_the_future"]


def test_pg_dump_must_not_be_older_than_the_server(monkeypatch: Any) -> None:
    assert backups._major("pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)") == 15
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    client, server = backups.check_pg_tools()
    assert client >= server
    monkeypatch.setattr(backups, "_major", lambda text: 9)
    with pytest.raises(backups.BackupError, match="older than the PostgreSQL"):
        backups.check_pg_tools()
