"""The erasure engine: nothing personal left, idempotent, resumable after a stop or a crash at any chunk."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import connection

from lingjing.accounts.models import ERASED_DATE, ApiToken, User, UserStatus
from lingjing.privacy.engines import RegistryIncomplete, erase_person, export_person
from lingjing.privacy.engines import erasure as engine
from lingjing.privacy.engines.export import jsonable
from lingjing.privacy.models import ErasureRun, ErasureStatus
from lingjing.privacy.registry import Gap, declarations
from lingjing.privacy.tests.conftest import Person, World, dump_database_text, raw, slow
from lingjing.privacy.tests.testapp.models import Bulk, Diary, Invoice, Showcase, Visit
from lingjing.security import audit
from lingjing.security.audit import AuditEvent
from lingjing.security.audit_models import AuditEntry
from lingjing.security.crypto import (
    SealedField,
    associated_data,
    envelope_key_id,
    models_with_sealed_fields,
    open_sealed,
    sealed_fields,
)
from lingjing.security.models import DataKey, ShreddedSubject

CHUNK = 2
MAX_CHUNKS = 13  # the parametrised interruptions cover 1..MAX_CHUNKS; test_chunk_budget_covers_a_full_run checks it


@pytest.fixture(autouse=True)
def fixed_chunks(settings: Any) -> None:
    """Chunks of exactly ``CHUNK`` rows, so the chunk counts below are known; the adaptive tests set a budget."""
    settings.LINGJING_ERASURE_CHUNK_MS = 0


def end_state(person: Person) -> dict[str, Any]:
    """What is left of a person, in terms that do not depend on random ids or ciphertexts."""
    uid = person.user.pk
    subject = f"u:{uid}"
    user = User.objects.get(pk=uid)
    user_field = User._meta.get_field("phone")
    assert isinstance(user_field, SealedField)
    showcases = Showcase.objects.filter(title__startswith=f"{person.tag} public title").order_by("title")
    invoices = list(Invoice.objects.filter(user_id=uid))
    memo_field = Invoice._meta.get_field("memo")
    assert isinstance(memo_field, SealedField)
    return {
        "user": {
            "phone": user.phone,
            "phone_raw": user_field.raw_envelope(user),
            "phone_index": user.phone_index,
            "birth_date": user.birth_date,
            "nickname": user.nickname,
            "password": user.password,
            "last_login": user.last_login,
            "date_joined": user.date_joined,
            "status": user.status,
        },
        "rows": {
            "tokens": ApiToken.objects.filter(user_id=uid).count(),
            "diaries": Diary.objects.filter(owner_id=uid).count(),
            "visits": Visit.objects.filter(subject=subject).count(),
            "bulk": Bulk.objects.filter(owner_id=uid).count(),
            "showcases_linked": Showcase.objects.filter(author_id=uid).count(),
        },
        "showcases": [
            (s.title, s.author.pk if s.author else None, s.signature, s.cover.name, s.draft, s.likes) for s in showcases
        ],
        "invoices": [(i.amount, i.memo, bool(memo_field.raw_envelope(i))) for i in invoices],
        "files": [default_storage.exists(name) for name in person.files],
        "keys": DataKey.objects.filter(subject=subject).count(),
        "shredded": ShreddedSubject.objects.filter(subject=subject).exists(),
        "audit_details_readable": [e.sealed for e in AuditEntry.objects.filter(subject=subject) if e.sealed],
        "open_runs": ErasureRun.objects.filter(user_id=uid, finished_at__isnull=True).count(),
        "finished_runs": ErasureRun.objects.filter(user_id=uid, status=ErasureStatus.FINISHED).count() > 0,
    }


def expected_end_state(person: Person) -> dict[str, Any]:
    return {
        "user": {
            "phone": None,
            "phone_raw": None,
            "phone_index": None,
            "birth_date": None,
            "nickname": "已注销用户",
            "password": "!",
            "last_login": None,
            "date_joined": ERASED_DATE,
            "status": UserStatus.ERASED,
        },
        "rows": {"tokens": 0, "diaries": 0, "visits": 0, "bulk": 0, "showcases_linked": 0},
        # ANONYMISE: the rows stay, the public title too; personal fields replaced, files gone, link cut
        "showcases": [(f"{person.tag} public title {i}", None, "已注销", "", None, 0) for i in range(3)],
        # KEEP: the row stays under its legal hold; its sealed memo is still stored but can no longer be read
        "invoices": [(42, None, True)],
        "files": [False] * len(person.files),
        "keys": 0,
        "shredded": True,
        "audit_details_readable": [],
        "open_runs": 0,
        "finished_runs": True,
    }


def untouched(person: Person) -> dict[str, Any]:
    return {
        "export": export_person(person.user),
        "files": [default_storage.exists(name) for name in person.files],
        "keys": DataKey.objects.filter(subject=person.user.subject).count(),
    }


def assert_no_personal_datum_left(person: Person) -> None:
    """Scan every declared field of every registered model, then the raw database, for the person's values."""
    for decl in declarations():
        for obj in decl.model._base_manager.all():
            for name in decl.fields:
                value = str(getattr(obj, name))
                hits = [m for m in person.markers if m in value]
                assert not hits, f"{decl.label}.{name} of {obj.pk} still holds {hits}"
    dump = dump_database_text()
    assert not [m for m in person.markers if m in dump]


def test_erasure_leaves_no_personal_datum_and_spares_the_bystander(world: World) -> None:
    bob_before = untouched(world.bob)
    assert [m for m in world.alice.markers if m in str(export_person(world.alice.user))]  # the scan can fail

    report = erase_person(world.alice.user.pk, chunk=CHUNK)

    assert report.finished and report.keys_shredded >= 1
    assert report.deleted["privacy_testapp.Diary"] == 5 and report.deleted["privacy_testapp.Visit"] == 3
    assert report.anonymised == {"privacy_testapp.Showcase": 3, "accounts.User": 1}
    assert report.kept["privacy_testapp.Invoice"] == 1 and report.files_removed == 3
    assert end_state(world.alice) == expected_end_state(world.alice)
    assert_no_personal_datum_left(world.alice)
    assert untouched(world.bob) == bob_before
    # What an export still finds is the tombstone's placeholders, nothing that was about alice.
    leftovers = export_person(User.objects.get(pk=world.alice.user.pk))
    values = {(i["model"], i["field"]): i["value"] for group in leftovers.values() for i in group["items"]}
    assert values == {
        ("accounts.User", "nickname"): "已注销用户",
        ("accounts.User", "date_joined"): jsonable(ERASED_DATE),
        ("accounts.User", "status"): "erased",
    }


def sqlite_copy(path: Path) -> Path:
    """A file copy of the live SQLite test database, made from its SQL dump (``sqlite3 .dump``)."""
    connection.ensure_connection()
    script = "\n".join(connection.connection.iterdump())
    with sqlite3.connect(path) as target:
        target.executescript(script)
    return path


@pytest.mark.skipif(connection.vendor != "sqlite", reason="a dump of the SQLite database")
def test_a_raw_sql_dump_holds_no_personal_datum_after_erasure(world: World) -> None:
    erase_person(world.alice.user.pk, chunk=CHUNK)
    connection.ensure_connection()
    dump = "\n".join(connection.connection.iterdump())
    assert world.bob.markers[2] in dump  # bob's nickname is plain text: the grep can fail
    assert not [m for m in world.alice.markers if m in dump]
    # Deleted and overwritten cells are zeroed in the file too, not left in free pages.
    assert connection.cursor().execute("PRAGMA secure_delete").fetchone()[0] == 1


def test_second_run_changes_nothing(world: World) -> None:
    erase_person(world.alice.user.pk, chunk=CHUNK)
    skip = {"security_auditentry", "security_audithead", "privacy_erasurerun"}
    tables = [t for t in connection.introspection.table_names() if t not in skip]
    before = {t: raw(f'SELECT * FROM "{t}" ORDER BY 1') for t in tables}  # noqa: S608

    again = erase_person(world.alice.user.pk, chunk=CHUNK)

    assert again.finished and not again.resumed
    assert (again.deleted, again.anonymised, again.files_removed, again.keys_shredded) == ({}, {}, 0, 0)
    assert again.chunks == 1  # only the closing transaction (shredding nothing, auditing the check)
    after = {t: raw(f'SELECT * FROM "{t}" ORDER BY 1') for t in before}  # noqa: S608
    assert after == before
    assert end_state(world.alice) == expected_end_state(world.alice)


def test_chunk_budget_covers_a_full_run(world: World) -> None:
    report = erase_person(world.alice.user.pk, chunk=CHUNK)
    # Bulk 2 + Diary 3 + ApiToken 1 + Visit 2 + Showcase 2 + User 1 + shredding 1 (more if other apps hold rows)
    assert 12 <= report.chunks <= MAX_CHUNKS
    run = ErasureRun.objects.get(pk=report.run_id)
    assert run.chunks_done == report.chunks - 1 and run.status == ErasureStatus.FINISHED
    events = list(AuditEntry.objects.filter(subject=world.alice.user.subject, event__startswith="privacy.erasure")
                  .values_list("event", flat=True))
    assert events == [AuditEvent.ERASURE_STARTED, *[AuditEvent.ERASURE_STEP] * (report.chunks - 1),
                      AuditEvent.ERASURE_FINISHED]


@pytest.mark.parametrize("stop_after", range(1, MAX_CHUNKS + 1))
def test_stopped_after_any_chunk_a_rerun_reaches_the_same_end(world: World, stop_after: int) -> None:
    bob_before = untouched(world.bob)
    first = erase_person(world.alice.user.pk, chunk=CHUNK, stop_after_chunks=stop_after)
    assert first.chunks == min(stop_after, first.chunks)
    if not first.finished:
        assert first.chunks == stop_after
        run = ErasureRun.objects.get(pk=first.run_id)
        assert run.finished_at is None and run.chunks_done == stop_after
        rest = erase_person(world.alice.user.pk, chunk=CHUNK)
        assert rest.resumed and rest.run_id == first.run_id and rest.finished
    assert end_state(world.alice) == expected_end_state(world.alice)
    assert untouched(world.bob) == bob_before


@pytest.mark.parametrize("fail_at", range(1, MAX_CHUNKS + 1))
def test_a_crash_inside_any_chunk_rolls_it_back_and_a_rerun_finishes(
    world: World, fail_at: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    bob_before = untouched(world.bob)
    real_record = audit.record
    calls = {"n": 0}

    def failing_record(event: AuditEvent, **kwargs: Any) -> Any:
        # The chunk's rows are already changed and its files deleted when its audit entry is written.
        if event in (AuditEvent.ERASURE_STEP, AuditEvent.ERASURE_FINISHED):
            calls["n"] += 1
            if calls["n"] == fail_at:
                raise RuntimeError("injected failure mid-chunk")
        return real_record(event, **kwargs)

    monkeypatch.setattr(audit, "record", failing_record)
    failed = False
    try:
        erase_person(world.alice.user.pk, chunk=CHUNK)
    except RuntimeError:
        failed = True
        run = ErasureRun.objects.get(user_id=world.alice.user.pk)
        assert run.status == ErasureStatus.FAILED and run.error.startswith("RuntimeError at ")
        assert run.chunks_done == fail_at - 1  # the failing chunk left no progress behind
    monkeypatch.setattr(audit, "record", real_record)
    if failed:
        rest = erase_person(world.alice.user.pk, chunk=CHUNK)
        assert rest.resumed and rest.finished
    assert end_state(world.alice) == expected_end_state(world.alice)
    assert untouched(world.bob) == bob_before


def test_failure_in_the_last_step_keeps_the_keys_until_the_rerun(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    real_record = audit.record

    def failing_record(event: AuditEvent, **kwargs: Any) -> Any:
        if event == AuditEvent.ERASURE_FINISHED:
            raise RuntimeError("injected")
        return real_record(event, **kwargs)

    monkeypatch.setattr(audit, "record", failing_record)
    with pytest.raises(RuntimeError):
        erase_person(world.alice.user.pk, chunk=CHUNK)
    assert DataKey.objects.filter(subject=world.alice.user.subject).exists()  # the shredding rolled back
    monkeypatch.setattr(audit, "record", real_record)
    assert erase_person(world.alice.user.pk, chunk=CHUNK).keys_shredded >= 1
    assert end_state(world.alice) == expected_end_state(world.alice)


def _sealed_cells(db: sqlite3.Connection | None = None) -> list[tuple[SealedField, object, str]]:
    """Every sealed cell (field, row id, envelope), read with raw SQL from the live database or a copy of it."""
    cells = []
    for model in models_with_sealed_fields():
        for f in sealed_fields(model):
            sql = f'SELECT "{model._meta.pk.column}", "{f.column}" FROM "{model._meta.db_table}" WHERE "{f.column}" IS NOT NULL'  # noqa: S608,E501
            rows = db.execute(sql).fetchall() if db is not None else raw(sql)
            cells += [(f, model._meta.pk.to_python(pk), envelope) for pk, envelope in rows]
    return cells


def _open(cell: tuple[SealedField, object, str]) -> str | None:
    f, pk, envelope = cell
    return open_sealed(envelope, associated_data(f.model._meta.db_table, str(f.column), pk))


def test_a_copy_taken_before_erasure_no_longer_decrypts(world: World, tmp_path: Path) -> None:
    """Crypto-shredding reaches copies: the data tables of a backup are unreadable once the keys are gone.

    (A backup's own copy of the key table is destroyed by replaying the deletion list when it is restored.)
    """
    alice_keys = set(DataKey.objects.filter(subject=world.alice.user.subject).values_list("id", flat=True))
    copy_before = _sealed_cells()
    alice_cells = [c for c in copy_before if envelope_key_id(c[2]) in alice_keys]
    bob_cells = [c for c in copy_before if envelope_key_id(c[2]) not in alice_keys]
    assert len(alice_cells) >= 12 and bob_cells
    assert all(_open(c) in world.alice.markers or _open(c) == "1990-05-06" or _open(c).startswith("{")  # type: ignore[union-attr]
               for c in alice_cells)
    bob_plain = [_open(c) for c in bob_cells]
    file_copy = sqlite_copy(tmp_path / "backup.sqlite3") if connection.vendor == "sqlite" else None

    erase_person(world.alice.user.pk, chunk=CHUNK)

    assert [_open(c) for c in alice_cells] == [None] * len(alice_cells)
    assert [_open(c) for c in bob_cells] == bob_plain
    if file_copy is not None:
        with sqlite3.connect(file_copy) as backup:
            restored = [c for c in _sealed_cells(backup) if envelope_key_id(c[2]) in alice_keys]
        assert len(restored) == len(alice_cells)
        assert [_open(c) for c in restored] == [None] * len(restored)
    assert world.alice.user.subject in (Path(str(tmp_path)) / "deletion-list.txt").read_text().split()


def test_an_open_run_is_resumed_not_duplicated(world: World) -> None:
    first = erase_person(world.alice.user.pk, chunk=CHUNK, stop_after_chunks=2)
    second = erase_person(str(world.alice.user.pk), chunk=CHUNK, stop_after_chunks=1)
    assert second.resumed and second.run_id == first.run_id
    assert ErasureRun.objects.filter(user_id=world.alice.user.pk).count() == 1


def test_rows_are_chosen_and_deleted_in_the_database_without_a_key_list(world: World) -> None:
    """Bulk (no cascades, no delete receivers) goes by subject in one statement a chunk; no key list in Python."""
    from django.db.models.signals import post_delete, pre_delete
    from django.test.utils import CaptureQueriesContext

    assert not (pre_delete.has_listeners(Bulk) or post_delete.has_listeners(Bulk))
    with CaptureQueriesContext(connection) as queries:
        report = erase_person(world.alice.user.pk, chunk=CHUNK)
    assert report.deleted["privacy_testapp.Bulk"] == 3 and report.deleted["privacy_testapp.Visit"] == 3
    bulk = [q["sql"] for q in queries.captured_queries if "privacy_testapp_bulk" in q["sql"]]
    deletes = [sql for sql in bulk if sql.startswith("DELETE")]
    assert len(deletes) == 2  # 2 + 1 rows: a chunk short of its limit ends the step, no empty chunk after it
    address = "ctid" if connection.vendor == "postgresql" else "rowid"
    assert all("LIMIT 2" in sql and "owner_id" in sql and address in sql for sql in deletes)
    # Besides the deletes, bulk appears only in the one statement that checks which steps have rows.
    assert [sql for sql in bulk if not sql.startswith("DELETE")] == [
        sql for sql in bulk if sql.startswith("SELECT (SELECT COUNT(*)")
    ]
    assert len([sql for sql in bulk if not sql.startswith("DELETE")]) == 1
    steps = list(AuditEntry.objects.filter(subject=world.alice.user.subject, event=AuditEvent.ERASURE_STEP)
                 .values_list("details", flat=True))
    assert [d["rows"] for d in steps if d["step"] == "privacy_testapp.Bulk"] == [2, 1]
    assert sum(d["rows"] for d in steps) == ErasureRun.objects.get(pk=report.run_id).rows_done
    assert Bulk.objects.filter(owner_id=world.bob.user.pk).count() == 3


def test_delete_receivers_and_cascades_still_see_every_row(world: World) -> None:
    """A model with a delete receiver is deleted through Django's collector: one signal per row, counted once."""
    from django.db.models.signals import post_delete

    seen: list[str] = []

    def receiver(sender: Any, instance: Visit, **kwargs: Any) -> None:
        seen.append(instance.subject)

    post_delete.connect(receiver, sender=Visit, dispatch_uid="test.erasure.visit")
    try:
        report = erase_person(world.alice.user.pk, chunk=CHUNK)
    finally:
        post_delete.disconnect(dispatch_uid="test.erasure.visit", sender=Visit)
    assert seen == [world.alice.user.subject] * 3 and report.deleted["privacy_testapp.Visit"] == 3
    assert Visit.objects.filter(subject=world.bob.user.subject).count() == 3


def test_anonymised_rows_retire_cached_public_answers(world: World, django_capture_on_commit_callbacks: Any) -> None:
    """update() sends no signals: the engine starts a new public cache generation itself (nicknames, works)."""
    from django.core.cache import cache

    from lingjing.core.cachecontrol import GENERATION_KEY

    cache.set(GENERATION_KEY, 1000, None)
    with django_capture_on_commit_callbacks(execute=True):
        erase_person(world.alice.user.pk, chunk=CHUNK)
    assert cache.get(GENERATION_KEY) > 1000


def test_erasure_refuses_while_the_registry_has_gaps(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "find_gaps", lambda: [Gap("privacy_testapp.Diary", "mood", "undeclared")])
    with pytest.raises(RegistryIncomplete):
        erase_person(world.alice.user.pk)
    assert not ErasureRun.objects.exists()
    assert Diary.objects.filter(owner=world.alice.user).count() == 5


def test_missing_files_do_not_stop_erasure(world: World) -> None:
    default_storage.delete(world.alice.files[0])
    assert erase_person(world.alice.user.pk, chunk=CHUNK).finished
    assert end_state(world.alice) == expected_end_state(world.alice)


def test_erasure_of_an_unknown_id_only_records_the_check(db: Any) -> None:
    nobody = uuid.uuid4()
    report = erase_person(nobody)
    assert report.finished and (report.deleted, report.anonymised, report.keys_shredded) == ({}, {}, 0)
    assert ShreddedSubject.objects.filter(subject=f"u:{nobody}").exists()


def test_operator_command_needs_confirmation(world: World) -> None:
    with pytest.raises(CommandError):
        call_command("privacy", "erase", str(world.alice.user.pk))
    assert Diary.objects.filter(owner=world.alice.user).count() == 5
    call_command("privacy", "erase", str(world.alice.user.pk), "--yes")
    assert end_state(world.alice) == expected_end_state(world.alice)


@slow
@pytest.mark.django_db
def test_erasure_of_100k_rows(settings: Any) -> None:
    import time

    settings.LINGJING_AUDIT_CHECKPOINT_EVERY = 10**9
    user = User.objects.create_user("+8613700000004", birth_date="1990-01-01")
    Bulk.objects.bulk_create([Bulk(owner=user, text=f"row {i}", n=i) for i in range(100_000)], batch_size=5000)
    started = time.perf_counter()
    report = erase_person(user.pk, chunk=500)
    elapsed = time.perf_counter() - started
    print(f"erased 100,000 rows in {report.chunks} chunks, {elapsed:.1f} s")
    assert report.deleted["privacy_testapp.Bulk"] == 100_000 and not Bulk.objects.filter(owner=user).exists()


# --- adaptive chunks: the time budget ------------------------------------------------------------------------------


def test_chunk_size_grows_while_fast_shrinks_on_overrun_and_stays_fixed_without_budget() -> None:
    size = engine._ChunkSize(start=100, budget=1.0)
    size.after(100, 0.5)  # full and within half the budget: double
    assert size.rows == 200
    size.after(200, 0.25)  # a quarter of the budget: towards half of it, still at least double
    assert size.rows == 400
    size.after(400, 0.01)  # far below: in proportion, but at most GROWTH times
    assert size.rows == 400 * engine.GROWTH
    size.rows = 200
    size.after(150, 0.01)  # a partial chunk says nothing about a larger one
    assert size.rows == 200
    size.after(200, 0.8)  # within the budget, more than half of it: keep
    assert size.rows == 200
    size.after(200, 4.0)  # four times over: in proportion
    assert size.rows == 50
    size.after(50, 1.2)  # just over: halved at least
    assert size.rows == 25
    for _ in range(40):
        size.after(size.rows, 0.0)
    assert size.rows == engine.MAX_CHUNK
    tiny = engine._ChunkSize(start=1, budget=1.0)
    tiny.after(1, 100.0)
    assert tiny.rows == 1  # never below one row
    fixed = engine._ChunkSize(start=7, budget=0)
    fixed.after(7, 0.0)
    fixed.after(7, 100.0)
    assert fixed.rows == 7
    large = engine._ChunkSize(start=engine.MAX_CHUNK * 2, budget=1.0)
    large.after(large.rows, 0.0)
    assert large.rows == engine.MAX_CHUNK * 2  # a configured chunk above the cap is the cap


BULK_ROWS = 63  # alice's Bulk rows in the adaptive tests (3 from the world, 60 added)


@pytest.fixture
def bulk_clock(world: World, monkeypatch: pytest.MonkeyPatch) -> dict[str, float]:
    """A clock that moves only with the Bulk rows alice has lost: ``cost`` seconds a row (every other step is free)."""
    Bulk.objects.bulk_create([Bulk(owner=world.alice.user, text=f"extra {i}", n=100 + i) for i in range(60)])
    clock = {"cost": 0.125}  # binary fractions: exact sums
    monkeypatch.setattr(
        engine, "_clock", lambda: (BULK_ROWS - Bulk.objects.filter(owner=world.alice.user).count()) * clock["cost"]
    )
    return clock


def _bulk_chunks(person: Person) -> list[tuple[int, int]]:
    steps = AuditEntry.objects.filter(subject=person.user.subject, event=AuditEvent.ERASURE_STEP).order_by("seq")
    details = steps.values_list("details", flat=True)
    return [(d["rows"], d["limit"]) for d in details if d["step"] == "privacy_testapp.Bulk"]


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        # 0.125 s a row, budget 2.5 s (20 rows): 2 rows take 0.25 s, grow 5 times towards half the budget; 10 rows
        # take half of it and double; 20 rows take the whole budget and stay
        (2, [(2, 2), (10, 10), (20, 20), (20, 20), (11, 20)]),
        # 40 rows take 5 s, twice the budget: the next chunk is halved, and 20 rows (2.5 s) are within it
        (40, [(40, 40), (20, 20), (3, 20)]),
    ],
)
def test_adaptive_chunks_follow_the_time_budget(
    world: World, bulk_clock: dict[str, float], start: int, expected: list[tuple[int, int]]
) -> None:
    report = erase_person(world.alice.user.pk, chunk=start, chunk_seconds=2.5)
    assert report.finished and report.deleted["privacy_testapp.Bulk"] == BULK_ROWS
    assert _bulk_chunks(world.alice) == expected
    assert end_state(world.alice) == expected_end_state(world.alice)
    steps = AuditEntry.objects.filter(subject=world.alice.user.subject, event=AuditEvent.ERASURE_STEP)
    assert all(d["rows"] <= d["limit"] for d in steps.values_list("details", flat=True))


ADAPTIVE_CHUNKS = 11  # Bulk 5 chunks of 2..20 + Diary, ApiToken, Visit, Showcase, User 1 each + shredding


@pytest.mark.parametrize("stop_after", range(1, ADAPTIVE_CHUNKS + 1))
def test_stopped_after_any_adaptive_chunk_a_rerun_goes_on_at_the_size_reached(
    world: World, bulk_clock: dict[str, float], stop_after: int
) -> None:
    """Progress and the adapted size are saved with every chunk: a resumed run repeats nothing and goes on at it."""
    bob_before = untouched(world.bob)
    first = erase_person(world.alice.user.pk, chunk=2, chunk_seconds=2.5, stop_after_chunks=stop_after)
    full = [(2, 2), (10, 10), (20, 20), (20, 20), (11, 20)]
    if not first.finished:
        run = ErasureRun.objects.get(pk=first.run_id)
        assert run.finished_at is None and run.chunks_done == stop_after
        done = _bulk_chunks(world.alice)
        assert done == full[: len(done)]
        if run.step_label == "privacy_testapp.Bulk" and len(done) < len(full):
            assert run.chunk_size == full[len(done)][1]  # the size the next chunk takes
        rest = erase_person(world.alice.user.pk, chunk=2, chunk_seconds=2.5)
        assert rest.resumed and rest.run_id == first.run_id and rest.finished
    assert first.chunks <= ADAPTIVE_CHUNKS
    assert _bulk_chunks(world.alice) == full  # the same chunks as an uninterrupted run, none repeated
    assert end_state(world.alice) == expected_end_state(world.alice)
    assert untouched(world.bob) == bob_before
