"""Backups without the key store, and restores that keep erased people erased.

Design (read before changing; a restore replaces the whole database)
--------------------------------------------------------------------
1. **What a backup holds.** ``lingjing backup DIR`` writes ``DIR/manifest.json`` and the database: SQLite through
   the online backup API (``sqlite3.Connection.backup``, a consistent copy while the site runs), PostgreSQL through
   ``pg_dump --format=custom``. Three tables travel without their rows: the key store (``security_datakey``),
   the rate-limit cache and the browser sessions (a restore must not revive sessions that were signed out).
   In the SQLite copy the rows are deleted with ``secure_delete`` on and the file is vacuumed, so no page of them
   survives in it.
2. **The key store stays apart.** Data keys are escrowed in one file outside every backup:
   ``LINGJING_KEY_ESCROW_DIR/datakeys.json`` (default ``$LINGJING_DATA_DIR/key-escrow``, mode 0600; keep it on other
   storage than the backups, e.g. a secrets volume). The keys in it are wrapped by the master key exactly as in the
   database, so the file is useless without ``LINGJING_MASTER_KEYS``. Each backup merges the current keys into it
   (a key an older backup still needs stays, key rotation included), and erasing a person removes that person's
   keys from it at once (``signals.py``: a new deletion-list row prunes the escrow after commit). So any backup,
   however old, holds ciphertext whose keys exist only in the escrow, and an erased person's keys exist nowhere:
   erasure reaches backups the moment it happens (L12; policy 五(三)).
3. **Restore** (``lingjing restore DIR``; stop the site and the workers first):

   1. read the manifest, check the engine and the file digest, refuse a backup made by newer code;
   2. collect the deletion list — the live database's ``ShreddedSubject`` rows (if it still has any) and the
      ``deletion-list.txt`` kept beside it in ``LINGJING_DATA_DIR`` — and the live key store (keys made after the
      escrow was last written);
   3. replace the database (the backup API in the other direction; ``pg_restore`` into an emptied schema);
   4. ``migrate`` (an older backup gets the current schema);
   5. put back the keys (live ∪ escrow) of everyone *not* on the deletion list;
   6. replay the deletion list: each subject's ``ShreddedSubject`` row is back, no key of theirs exists, and every
      erased person whose rows came back with the backup is erased again by the engine (``erase_person``);
   7. sign every restored API token out (tokens revoked after the backup must not work again) and record
      ``BACKUP_RESTORED`` / ``BACKUP_DELETION_REPLAYED`` in the audit log. Audit checkpoints signed after the
      backup describe a chain the database no longer has: they are moved (not deleted) to
      ``AUDIT_CHECKPOINT_DIR/superseded-<time>/`` and the restore entry names them, so ``lingjing audit verify``
      checks the restored chain.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.pgdump"
ESCROW_FILE = "datakeys.json"
KEY_TABLE = "security_datakey"


class BackupError(Exception):
    pass


def _excluded_tables() -> list[str]:
    tables = [KEY_TABLE, "django_session"]
    cache = settings.CACHES.get("default", {})
    if cache.get("BACKEND") == "django.core.cache.backends.db.DatabaseCache":
        tables.append(str(cache["LOCATION"]))
    return tables


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _migrations() -> dict[str, list[str]]:
    applied: dict[str, list[str]] = {}
    for app, name in sorted(MigrationRecorder(connection).applied_migrations()):
        applied.setdefault(app, []).append(name)
    return applied


def deletion_list_path() -> Path:
    return Path(settings.DATA_DIR) / "deletion-list.txt"


# --- the key escrow -----------------------------------------------------------------------------------------


def escrow_dir(keys_dir: Path | None = None) -> Path:
    return Path(keys_dir or settings.LINGJING_KEY_ESCROW_DIR or Path(settings.DATA_DIR) / "key-escrow")


def escrow_path(keys_dir: Path | None = None) -> Path:
    return escrow_dir(keys_dir) / ESCROW_FILE


def _read_escrow(path: Path) -> dict[str, dict[str, str]]:
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {row["id"]: row for row in data.get("keys", [])}


def _write_escrow(path: Path, keys: dict[str, dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    body = json.dumps({"format": FORMAT, "updated_at": timezone.now().isoformat(),
                       "keys": sorted(keys.values(), key=lambda r: (r["subject"], r["created_at"], r["id"]))},
                      ensure_ascii=False, indent=1)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".escrow-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(body)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _live_keys() -> dict[str, dict[str, str]]:
    from lingjing.security.models import DataKey

    return {
        row.id: {"id": row.id, "subject": row.subject, "wrapped": base64.b64encode(bytes(row.wrapped)).decode(),
                 "master_key_id": row.master_key_id, "created_at": row.created_at.isoformat()}
        for row in DataKey.objects.all().iterator(chunk_size=2000)
    }


def _shredded_live() -> set[str]:
    from lingjing.security.models import ShreddedSubject

    return set(ShreddedSubject.objects.values_list("subject", flat=True))


def _deletion_file() -> set[str]:
    path = deletion_list_path()
    return {line.strip() for line in path.read_text().splitlines() if line.strip()} if path.exists() else set()


def update_escrow(keys_dir: Path | None = None) -> int:
    """Merge the live key store into the escrow, minus every erased person; answers the escrow's size."""
    path = escrow_path(keys_dir)
    keys = {**_read_escrow(path), **_live_keys()}
    gone = _shredded_live() | _deletion_file()
    keys = {k: v for k, v in keys.items() if v["subject"] not in gone}
    _write_escrow(path, keys)
    return len(keys)


def prune_escrow(subjects: Iterable[str], keys_dir: Path | None = None) -> int:
    """Remove these subjects' keys from the escrow (run when they are erased). Answers how many went."""
    path = escrow_path(keys_dir)
    if not path.exists():
        return 0
    gone = set(subjects)
    keys = _read_escrow(path)
    kept = {k: v for k, v in keys.items() if v["subject"] not in gone}
    if len(kept) != len(keys):
        _write_escrow(path, kept)
    return len(keys) - len(kept)


# --- backup -------------------------------------------------------------------------------------------------


@dataclass
class BackupResult:
    directory: Path
    engine: str
    database_file: Path
    bytes: int
    escrowed_keys: int
    manifest: dict[str, Any] = field(default_factory=dict)


def backup(directory: Path, *, keys_dir: Path | None = None) -> BackupResult:
    """Write a backup of the database into ``directory`` (module docstring, part 1) and update the key escrow."""
    from lingjing.security.audit import AuditEvent, record

    directory = Path(directory)
    if (directory / MANIFEST).exists():
        raise BackupError(f"{directory} already holds a backup; choose an empty directory")
    directory.mkdir(parents=True, exist_ok=True)
    escrow = escrow_dir(keys_dir).resolve()
    if escrow == directory.resolve() or directory.resolve() in escrow.parents or escrow in directory.resolve().parents:
        raise BackupError("the key escrow must not live inside the backup directory")
    engine = connection.vendor
    if engine == "sqlite":
        target = directory / SQLITE_FILE
        _sqlite_backup(target)
    elif engine == "postgresql":
        target = directory / PG_FILE
        _pg_dump(target)
    else:
        raise BackupError(f"no backup method for the {engine} database engine")
    escrowed = update_escrow(keys_dir)
    manifest = {
        "format": FORMAT,
        "created_at": timezone.now().isoformat(),
        "engine": engine,
        "file": target.name,
        "sha256": _sha256(target),
        "bytes": target.stat().st_size,
        "migrations": _migrations(),
        "excluded_tables": _excluded_tables(),
        "deletion_list_size": len(_shredded_live() | _deletion_file()),
        "key_escrow": "kept apart (LINGJING_KEY_ESCROW_DIR), not in this backup",
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False), encoding="utf-8")
    with transaction.atomic(durable=True):
        record(AuditEvent.BACKUP_CREATED, actor="system",
               details={"engine": engine, "sha256": manifest["sha256"], "bytes": manifest["bytes"]})
    return BackupResult(directory, engine, target, target.stat().st_size, escrowed, manifest)


def _sqlite_backup(target: Path) -> None:
    connection.ensure_connection()
    live = connection.connection
    copy = sqlite3.connect(target)
    try:
        live.backup(copy)
        copy.execute("PRAGMA secure_delete = ON")
        for table in _excluded_tables():
            if copy.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)).fetchone():
                copy.execute(f'DELETE FROM "{table}"')  # noqa: S608 - table names from settings and constants
        copy.commit()
        copy.execute("VACUUM")
        copy.execute("PRAGMA journal_mode = DELETE")
    finally:
        copy.close()


def _pg_env() -> tuple[dict[str, str], str]:
    db = connection.settings_dict
    env = {**os.environ}
    for key, var in (("HOST", "PGHOST"), ("PORT", "PGPORT"), ("USER", "PGUSER"), ("PASSWORD", "PGPASSWORD")):
        if db.get(key):
            env[var] = str(db[key])
    return env, str(db["NAME"])


def _major(text: str) -> int:
    """The major version in ``pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)`` (15)."""
    match = re.search(r"PostgreSQL\)\s+(\d+)", text) or re.search(r"(\d+)", text)
    if not match:
        raise BackupError(f"cannot read a version from {text!r}")
    return int(match.group(1))


def check_pg_tools(tool: str = "pg_dump") -> tuple[int, int]:
    """(client major, server major). A client older than the server cannot dump it: refuse with the fix."""
    path = shutil.which(tool)
    if path is None:
        raise BackupError(f"{tool} not found: install postgresql-client (Debian: apt-get install postgresql-client)")
    out = subprocess.run([path, "--version"], capture_output=True, text=True, check=True).stdout  # noqa: S603
    client = _major(out)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        server = int(cursor.fetchone()[0]) // 10000
    if client < server:
        raise BackupError(f"{tool} {client} is older than the PostgreSQL {server} server; install "
                          f"postgresql-client-{server}")
    return client, server


def _pg_dump(target: Path) -> None:
    check_pg_tools("pg_dump")
    env, name = _pg_env()
    args = [shutil.which("pg_dump") or "pg_dump", "--format=custom", "--no-owner", "--no-privileges",
            f"--file={target}", *(f"--exclude-table-data={t}" for t in _excluded_tables()), name]
    result = subprocess.run(args, env=env, capture_output=True, text=True)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"pg_dump failed: {result.stderr.strip()[:500]}")


# --- restore ------------------------------------------------------------------------------------------------


@dataclass
class RestoreResult:
    engine: str
    keys_restored: int = 0
    keys_withheld: int = 0  # keys of erased people found in the escrow or the live store, not put back
    replayed: int = 0  # subjects on the deletion list
    erased_again: list[str] = field(default_factory=list)  # user ids whose rows came back and were erased again
    tokens_signed_out: int = 0
    superseded_checkpoints: list[str] = field(default_factory=list)


def read_manifest(directory: Path) -> dict[str, Any]:
    path = Path(directory) / MANIFEST
    if not path.exists():
        raise BackupError(f"{directory} holds no backup ({MANIFEST} missing)")
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {manifest.get('format')!r}")
    data = Path(directory) / str(manifest["file"])
    if not data.exists() or _sha256(data) != manifest["sha256"]:
        raise BackupError(f"{data.name} is missing or does not match the manifest's digest")
    return manifest


def _disk_migrations() -> set[tuple[str, str]]:
    from django.db.migrations.loader import MigrationLoader

    return set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)


def _newer_migrations(manifest: dict[str, Any]) -> list[str]:
    known = _disk_migrations()
    return sorted(f"{app}.{name}" for app, names in manifest.get("migrations", {}).items() for name in names
                  if (app, name) not in known)


def _older_schema(manifest: dict[str, Any]) -> bool:
    applied = {(app, name) for app, names in manifest.get("migrations", {}).items() for name in names}
    return bool(_disk_migrations() - applied)


def _safe(call: Any, default: Any) -> Any:
    """Read from the live database before it is replaced; it may be empty or missing tables."""
    from django.db import DatabaseError

    try:
        with transaction.atomic():
            return call()
    except DatabaseError:
        return default


def restore(directory: Path, *, keys_dir: Path | None = None) -> RestoreResult:
    """Replace the database with a backup and replay the deletion list (module docstring, part 3)."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    engine = connection.vendor
    if manifest["engine"] != engine:
        raise BackupError(f"the backup is of a {manifest['engine']} database, this site uses {engine}")
    newer = _newer_migrations(manifest)
    if newer:
        raise BackupError(f"the backup was made by newer code (unknown migrations: {', '.join(newer[:5])})")
    # 2. what must survive the replacement
    deletion = _safe(_shredded_live, set()) | _deletion_file()
    keys = {**_read_escrow(escrow_path(keys_dir)), **_safe(_live_keys, {})}
    # 3. the database itself
    if engine == "sqlite":
        _sqlite_restore(directory / SQLITE_FILE)
    else:
        _pg_restore(directory / PG_FILE)
    # 4. schema; checkpoints signed after the backup are moved aside before anything is appended to the chain
    if _older_schema(manifest):
        call_command("migrate", interactive=False, verbosity=0)
    result = RestoreResult(engine=engine)
    result.superseded_checkpoints = _supersede_checkpoints()
    deletion |= _shredded_live()
    # 5. keys of the living
    result.keys_restored, result.keys_withheld = _put_back_keys(keys, deletion)
    # 6. and 7.
    result.replayed = len(deletion)
    result.erased_again = replay_deletion_list(deletion)
    result.tokens_signed_out = _sign_out_tokens()
    _audit_restore(manifest, result)
    from lingjing.security.crypto import clear_key_cache

    clear_key_cache()
    return result


def _sqlite_restore(source: Path) -> None:
    connection.close()
    connection.ensure_connection()
    live = connection.connection
    backup_db = sqlite3.connect(source)
    try:
        backup_db.backup(live)
    finally:
        backup_db.close()
    connection.close()  # reopen with the site's pragmas (WAL, foreign keys) on the next query


def _pg_restore(source: Path) -> None:
    check_pg_tools("pg_restore")
    env, name = _pg_env()
    with connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA public CASCADE")
        cursor.execute("CREATE SCHEMA public")
    connection.close()
    args = [shutil.which("pg_restore") or "pg_restore", "--no-owner", "--no-privileges", "--single-transaction",
            f"--dbname={name}", str(source)]
    result = subprocess.run(args, env=env, capture_output=True, text=True)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"pg_restore failed: {result.stderr.strip()[:500]}")


def _put_back_keys(keys: dict[str, dict[str, str]], deletion: set[str]) -> tuple[int, int]:
    from lingjing.security.models import DataKey

    withheld = sum(1 for row in keys.values() if row["subject"] in deletion)
    present = set(DataKey.objects.values_list("id", flat=True))
    wanted = [row for row in keys.values() if row["subject"] not in deletion and row["id"] not in present]
    created_field = DataKey._meta.get_field("created_at")
    table = connection.ops.quote_name(DataKey._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in ("id", "subject", "wrapped", "master_key_id",
                                                                 "created_at"))
    params = [
        (row["id"], row["subject"], base64.b64decode(row["wrapped"]), row["master_key_id"],
         created_field.get_db_prep_value(dt.datetime.fromisoformat(row["created_at"]), connection))
        for row in wanted
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        # created_at is auto_now_add: written as-is here so the newest key stays the active one
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, %s)", params)  # noqa: S608
    return len(params), withheld


def replay_deletion_list(subjects: Iterable[str]) -> list[str]:
    """Make every subject on the list erased again: its deletion-list row, no key, and (for people) every row the
    registry knows about erased by the engine. Answers the user ids whose data had come back."""
    from lingjing.accounts.models import User
    from lingjing.privacy.engines.erasure import erase_person
    from lingjing.privacy.retention import Rule, rules, selections
    from lingjing.security.models import DataKey, ShreddedSubject

    subjects = sorted(set(subjects))
    with transaction.atomic():
        for subject in subjects:
            ShreddedSubject.objects.get_or_create(subject=subject, defaults={"reason": "deletion list replayed after a "
                                                                                       "restore"})
        DataKey.objects.filter(subject__in=subjects).delete()
    people = {uuid.UUID(s[2:]) for s in subjects if s.startswith("u:") and _is_uuid(s[2:])}
    back: set[uuid.UUID] = set()
    erasure_rules: list[Rule] = [r for r in rules() if r.basis == "erasure"]
    now = timezone.now()
    for rule in erasure_rules:
        for qs in selections(rule, now):
            from lingjing.privacy.retention import _subject_ids

            back |= _subject_ids(rule, qs) & people
    back |= set(User.objects.filter(pk__in=people).exclude(status="erased").values_list("pk", flat=True))
    for uid in sorted(back, key=str):
        erase_person(uid, reason="deletion list replayed after a restore")
    return sorted(str(u) for u in back)


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _sign_out_tokens() -> int:
    from lingjing.accounts.models import ApiToken

    with transaction.atomic():
        return ApiToken.objects.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


def _supersede_checkpoints() -> list[str]:
    from lingjing.security.audit_models import AuditHead

    directory = Path(settings.AUDIT_CHECKPOINT_DIR)
    if not directory.is_dir():
        return []
    head = AuditHead.objects.filter(pk=1).values_list("seq", flat=True).first() or 0
    later = [p for p in sorted(directory.glob("checkpoint-*.json"))
             if (m := re.search(r"checkpoint-(\d+)\.json$", p.name)) and int(m.group(1)) > head]
    if not later:
        return []
    archive = directory / f"superseded-{timezone.now():%Y%m%dT%H%M%S}"
    archive.mkdir(parents=True, exist_ok=True)
    for path in later:
        path.rename(archive / path.name)
    return [p.name for p in later]


def _audit_restore(manifest: dict[str, Any], result: RestoreResult) -> None:
    from lingjing.security.audit import AuditEvent, record

    with transaction.atomic():
        record(AuditEvent.BACKUP_RESTORED, actor="system",
               details={"backup_created_at": manifest["created_at"], "sha256": manifest["sha256"],
                        "keys_restored": result.keys_restored, "keys_withheld": result.keys_withheld,
                        "tokens_signed_out": result.tokens_signed_out,
                        "superseded_checkpoints": result.superseded_checkpoints})
        record(AuditEvent.BACKUP_DELETION_REPLAYED, actor="system",
               details={"subjects": result.replayed, "erased_again": len(result.erased_again)})
