"""The audit chain: entries are written through ``audit.record``; tampering goes around the application
(queryset updates, raw SQL, edited files), the way someone with database or disk access would do it."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import time_machine
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import strategies as st

from lingjing.security import audit_chain
from lingjing.security.audit import GENESIS, AuditEvent, detail_mac, entry_hash, record
from lingjing.security.audit_chain import (
    AuditChainError,
    ProblemKind,
    checkpoint_message,
    verify,
    write_checkpoint,
)
from lingjing.security.audit_models import AuditEntry, AuditHead
from lingjing.security.crypto import shred_subject

pytestmark = pytest.mark.django_db

ACTORS = [f"u:{uuid.UUID(int=i + 1)}" for i in range(3)]


@pytest.fixture(autouse=True)
def _empty_chain(db: None) -> None:
    """Start from an empty log: data migrations of other apps record entries of their own."""
    AuditEntry.objects.all().delete()
    AuditHead.objects.all().delete()


def append(count: int, *, start: int = 0) -> list[AuditEntry]:
    """``count`` entries, each in its own transaction, as actions write them."""
    entries = []
    for i in range(start, start + count):
        with transaction.atomic():
            entries.append(
                record(
                    AuditEvent.USER_UPDATED,
                    actor=ACTORS[i % len(ACTORS)],
                    subject=ACTORS[(i + 1) % len(ACTORS)],
                    details={"fields": ["nickname"], "n": i},
                )
            )
    return entries


@pytest.fixture
def chain() -> list[AuditEntry]:
    return append(10)


def entry(seq: int) -> AuditEntry:
    return AuditEntry.objects.get(seq=seq)


def swap_seq(a: int, b: int) -> None:
    """Swap two rows' positions (seq is unique, so through a parking value)."""
    AuditEntry.objects.filter(seq=a).update(seq=10**12)
    AuditEntry.objects.filter(seq=b).update(seq=a)
    AuditEntry.objects.filter(seq=10**12).update(seq=b)


def forge(seq: int, prev_hash: str, **fields: Any) -> AuditEntry:
    """A row written straight into the table with a correctly computed hash (the attacker knows the scheme)."""
    row = AuditEntry(
        seq=seq,
        at=fields.pop("at", timezone.now()),
        event=fields.pop("event", str(AuditEvent.USER_ROLE_CHANGED)),
        actor=fields.pop("actor", ACTORS[0]),
        subject=fields.pop("subject", ""),
        details=fields.pop("details", {"role": "admin"}),
        prev_hash=prev_hash,
    )
    row.hash = entry_hash(row, prev_hash)
    AuditEntry.objects.bulk_create([row])
    return row


def only_problem(report: audit_chain.VerifyReport) -> audit_chain.Problem:
    assert len(report.problems) == 1, [p.line() for p in report.problems]
    return report.problems[0]


# --- the intact chain -------------------------------------------------------------------------------------


def test_an_intact_chain_verifies(chain: list[AuditEntry]) -> None:
    assert write_checkpoint() is not None
    append(3, start=10)
    report = verify(deep=True)
    assert report.ok, [p.line() for p in report.problems]
    assert (report.entries, report.checkpoints, report.head_seq) == (13, 1, 13)
    assert report.summary() == "审计链完整 / audit chain intact: 13 entries, 1 checkpoints"


def test_an_empty_chain_verifies() -> None:
    report = verify()
    assert report.ok and report.entries == 0
    assert write_checkpoint() is None


def test_entries_link_each_to_the_previous_hash(chain: list[AuditEntry]) -> None:
    rows = list(AuditEntry.objects.order_by("seq"))
    assert [r.seq for r in rows] == list(range(1, 11))
    assert rows[0].prev_hash == GENESIS
    for before, after in zip(rows, rows[1:], strict=False):
        assert after.prev_hash == before.hash
        assert entry_hash(after, after.prev_hash) == after.hash
    head = AuditHead.objects.get(pk=1)
    assert (head.seq, head.hash) == (10, rows[-1].hash)


def test_verify_streams_the_chain_in_a_constant_number_of_queries(
    chain: list[AuditEntry], django_assert_max_num_queries: Any
) -> None:
    append(40, start=10)
    with django_assert_max_num_queries(3):  # head, the row stream, head again
        assert verify().ok


@pytest.mark.django_db(transaction=True)
def test_record_outside_a_transaction_raises_and_writes_nothing() -> None:
    # transaction=True: no test transaction around us, so this is autocommit, as in a view without an action.
    with pytest.raises(RuntimeError):
        record(AuditEvent.USER_UPDATED, actor=ACTORS[0])
    assert not AuditEntry.objects.exists()
    with transaction.atomic():
        record(AuditEvent.USER_UPDATED, actor=ACTORS[0])
    assert verify().ok


@pytest.mark.parametrize("when", [1, 2], ids=["before-the-stream", "after-the-stream"])
def test_entries_appended_while_verifying_are_neither_deleted_nor_inserted(
    chain: list[AuditEntry], monkeypatch: pytest.MonkeyPatch, when: int
) -> None:
    real_read_head = audit_chain._read_head
    calls: list[int] = []

    def read_head_while_others_append() -> tuple[int, str] | None:
        calls.append(1)
        if len(calls) == 2 == when:  # between the stream and the second read of the head
            append(2, start=200)
        head = real_read_head()
        if len(calls) == 1 == when:  # between the first read of the head and the stream
            append(2, start=100)
        return head

    monkeypatch.setattr(audit_chain, "_read_head", read_head_while_others_append)
    report = verify()
    assert report.ok, [p.line() for p in report.problems]
    assert len(calls) == 2


def test_an_authentic_entry_with_an_earlier_clock_is_a_note_not_a_failure(chain: list[AuditEntry]) -> None:
    with time_machine.travel(timezone.now() - timedelta(minutes=5), tick=False):
        append(1, start=10)  # another server whose clock runs behind
    report = verify()
    assert report.ok
    assert len(report.notes) == 1 and "seq 11" in report.notes[0]


# --- tampering with rows ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"details": {"fields": ["nickname"], "n": 999}},
        {"event": str(AuditEvent.LOGIN_FAILED)},
        {"actor": "system"},
        {"subject": ""},
        {"object_id": "42"},
        {"at": timezone.now() - timedelta(days=400)},
        {"prev_hash": "f" * 64},
    ],
    ids=["details", "event", "actor", "subject", "object", "at", "prev_hash"],
)
def test_an_edited_row_is_reported_as_edited_at_that_seq_only(chain: list[AuditEntry], change: dict[str, Any]) -> None:
    AuditEntry.objects.filter(seq=4).update(**change)
    problem = only_problem(verify())
    assert (problem.kind, problem.seq, problem.entry_id) == (ProblemKind.EDITED, 4, str(chain[3].id))


def test_an_edit_through_raw_sql_is_reported(chain: list[AuditEntry]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("UPDATE security_auditentry SET actor = %s WHERE seq = %s", ["u:someone-else", 7])
    problem = only_problem(verify())
    assert (problem.kind, problem.seq) == (ProblemKind.EDITED, 7)


def test_two_edited_rows_are_each_reported(chain: list[AuditEntry]) -> None:
    AuditEntry.objects.filter(seq__in=[2, 9]).update(actor="system")
    report = verify()
    assert [(p.kind, p.seq) for p in report.problems] == [(ProblemKind.EDITED, 2), (ProblemKind.EDITED, 9)]


def test_a_row_rewritten_with_a_recomputed_hash_is_reported_as_edited(chain: list[AuditEntry]) -> None:
    row = entry(5)
    row.actor = "system"
    AuditEntry.objects.filter(seq=5).update(actor="system", hash=entry_hash(row, row.prev_hash))
    problem = only_problem(verify())
    assert (problem.kind, problem.seq, problem.entry_id) == (ProblemKind.EDITED, 5, str(chain[4].id))
    assert "recomputed hash" in problem.message


def test_a_changed_hash_column_is_reported_once(chain: list[AuditEntry]) -> None:
    AuditEntry.objects.filter(seq=6).update(hash="0" * 63 + "1")
    problem = only_problem(verify())
    assert (problem.kind, problem.seq) == (ProblemKind.EDITED, 6)


def test_a_deleted_row_is_reported_as_deleted(chain: list[AuditEntry]) -> None:
    AuditEntry.objects.filter(seq=5).delete()
    problem = only_problem(verify())
    assert (problem.kind, problem.seq, problem.last_seq) == (ProblemKind.DELETED, 5, 5)


@pytest.mark.parametrize(("first", "last"), [(1, 1), (3, 6), (10, 10)])
def test_deleted_rows_anywhere_are_reported_as_one_range(chain: list[AuditEntry], first: int, last: int) -> None:
    AuditEntry.objects.filter(seq__gte=first, seq__lte=last).delete()
    problem = only_problem(verify())
    assert (problem.kind, problem.seq, problem.last_seq) == (ProblemKind.DELETED, first, last)


@pytest.mark.parametrize(("a", "b"), [(4, 5), (3, 8), (1, 2), (9, 10)])
def test_two_swapped_rows_are_reported_as_reordered(chain: list[AuditEntry], a: int, b: int) -> None:
    swap_seq(a, b)
    report = verify()
    assert {(p.kind, p.seq, p.entry_id) for p in report.problems} == {
        (ProblemKind.REORDERED, a, str(chain[b - 1].id)),
        (ProblemKind.REORDERED, b, str(chain[a - 1].id)),
    }, [p.line() for p in report.problems]
    assert any(f"written at seq {a}" in p.message for p in report.problems)


def test_a_forged_row_appended_after_the_head_is_reported_as_inserted(chain: list[AuditEntry]) -> None:
    forged = forge(11, chain[-1].hash)
    problem = only_problem(verify())
    assert (problem.kind, problem.seq, problem.entry_id) == (ProblemKind.INSERTED, 11, str(forged.id))


def test_a_forged_row_spliced_into_the_middle_is_reported_as_inserted(chain: list[AuditEntry]) -> None:
    for seq in range(10, 5, -1):  # make room at seq 6, last first (seq is unique)
        AuditEntry.objects.filter(seq=seq).update(seq=seq + 1)
    forged = forge(6, chain[4].hash)
    report = verify()
    found = {(p.kind, p.seq, p.last_seq, p.entry_id) for p in report.problems}
    assert found == {
        (ProblemKind.INSERTED, 6, None, str(forged.id)),
        (ProblemKind.REORDERED, 7, 11, None),  # the genuine rows 6–10, pushed down by one
    }, [p.line() for p in report.problems]


def test_a_forged_row_that_links_to_the_wrong_predecessor_is_reported_as_inserted(chain: list[AuditEntry]) -> None:
    AuditEntry.objects.filter(seq=10).delete()
    AuditHead.objects.filter(pk=1).update(seq=9, hash=chain[8].hash)  # the attacker hides the deletion
    forged = forge(10, chain[2].hash)  # but links the forgery to seq 3
    AuditHead.objects.filter(pk=1).update(seq=10, hash=forged.hash)
    problem = only_problem(verify())
    assert (problem.kind, problem.seq, problem.entry_id) == (ProblemKind.INSERTED, 10, str(forged.id))


def test_a_head_that_does_not_match_the_last_row_is_reported(chain: list[AuditEntry]) -> None:
    AuditHead.objects.filter(pk=1).update(hash="a" * 64)
    problem = only_problem(verify())
    assert (problem.kind, problem.seq) == (ProblemKind.HEAD_MISMATCH, 10)


def test_a_missing_head_is_reported(chain: list[AuditEntry]) -> None:
    AuditHead.objects.all().delete()
    assert only_problem(verify()).kind == ProblemKind.HEAD_MISMATCH


# --- checkpoints ------------------------------------------------------------------------------------------


def test_checkpoints_are_written_every_n_entries_after_commit(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.LINGJING_AUDIT_CHECKPOINT_EVERY = 4
    for i in range(10):
        with django_capture_on_commit_callbacks(execute=True):
            append(1, start=i)
    directory = Path(settings.AUDIT_CHECKPOINT_DIR)
    assert sorted(p.name for p in directory.glob("checkpoint-*.json")) == [
        "checkpoint-000000000004.json",
        "checkpoint-000000000008.json",
    ]
    report = verify()
    assert report.ok and report.checkpoints == 2


def test_a_checkpoint_verifies_with_the_public_key_file_alone(chain: list[AuditEntry], settings: Any) -> None:
    path = write_checkpoint()
    assert path is not None
    directory = Path(settings.AUDIT_CHECKPOINT_DIR)
    public = serialization.load_pem_public_key((directory / "audit-signing.pub").read_bytes())
    assert isinstance(public, Ed25519PublicKey)
    data = json.loads(path.read_text())
    assert (data["seq"], data["hash"]) == (10, chain[-1].hash)
    message = json.dumps({k: data[k] for k in ("at", "hash", "key_id", "seq")}, separators=(",", ":")).encode()
    assert message == checkpoint_message(data)
    public.verify(base64.b64decode(data["signature"]), message)
    data["hash"] = chain[-2].hash
    with pytest.raises(InvalidSignature):
        public.verify(base64.b64decode(data["signature"]), checkpoint_message(data))


def test_write_checkpoint_is_idempotent_for_the_same_seq(chain: list[AuditEntry]) -> None:
    first = write_checkpoint()
    assert first is not None
    content = first.read_bytes()
    assert write_checkpoint() == first
    assert first.read_bytes() == content
    append(1, start=10)
    second = write_checkpoint()
    assert second is not None and second.name == "checkpoint-000000000011.json"


def test_write_checkpoint_refuses_to_sign_a_broken_chain(chain: list[AuditEntry], settings: Any) -> None:
    write_checkpoint()
    append(2, start=10)
    AuditEntry.objects.filter(seq=11).update(actor="system")
    with pytest.raises(AuditChainError, match="seq 11"):
        write_checkpoint()
    assert not (Path(settings.AUDIT_CHECKPOINT_DIR) / "checkpoint-000000000012.json").exists()


def test_a_truncated_tail_after_a_checkpoint_is_caught(chain: list[AuditEntry]) -> None:
    write_checkpoint()  # seq 10
    append(3, start=10)
    # Delete the tail and move the head back: rows and head agree again, only the checkpoint remembers.
    AuditEntry.objects.filter(seq__gte=8).delete()
    AuditHead.objects.filter(pk=1).update(seq=7, hash=chain[6].hash)
    problem = only_problem(verify())
    assert (problem.kind, problem.seq) == (ProblemKind.CHECKPOINT_MISMATCH, 10)
    assert "truncated" in problem.message


def test_a_rewritten_tail_with_a_matching_head_is_caught_by_the_checkpoint(chain: list[AuditEntry]) -> None:
    write_checkpoint()  # seq 10
    # Rewrite seq 6 onwards with recomputed hashes and a matching head: the chain itself is consistent again.
    prev = chain[4].hash
    for seq in range(6, 11):
        row = entry(seq)
        if seq == 6:
            row.actor = "system"
        row.prev_hash = prev
        row.hash = entry_hash(row, prev)
        AuditEntry.objects.filter(pk=row.pk).update(actor=row.actor, prev_hash=row.prev_hash, hash=row.hash)
        prev = row.hash
    AuditHead.objects.filter(pk=1).update(hash=prev)
    problem = only_problem(verify())
    assert (problem.kind, problem.seq) == (ProblemKind.CHECKPOINT_MISMATCH, 10)


def test_a_forged_checkpoint_file_fails_its_signature(chain: list[AuditEntry]) -> None:
    path = write_checkpoint()
    assert path is not None
    data = json.loads(path.read_text())
    data["hash"] = "b" * 64
    path.write_text(json.dumps(data))
    report = verify()
    assert [(p.kind, p.seq) for p in report.problems] == [(ProblemKind.BAD_SIGNATURE, 10)]
    assert report.checkpoints == 0


def test_a_checkpoint_signed_with_another_key_fails(chain: list[AuditEntry], settings: Any) -> None:
    attacker = Ed25519PrivateKey.generate()
    body = {"seq": 5, "hash": chain[4].hash, "at": timezone.now().isoformat(), "key_id": audit_chain.key_id()}
    body["signature"] = base64.b64encode(attacker.sign(checkpoint_message(body))).decode()
    directory = Path(settings.AUDIT_CHECKPOINT_DIR)
    directory.mkdir(parents=True)
    (directory / "checkpoint-000000000005.json").write_text(json.dumps(body))
    (directory / "checkpoint-000000000006.json").write_text("{not json")
    report = verify()
    assert sorted((p.kind, p.seq) for p in report.problems) == [
        (ProblemKind.BAD_SIGNATURE, 5),
        (ProblemKind.BAD_SIGNATURE, 6),
    ]


def test_a_replaced_public_key_file_is_reported(chain: list[AuditEntry], settings: Any) -> None:
    write_checkpoint()
    other = Ed25519PrivateKey.generate().public_key()
    (Path(settings.AUDIT_CHECKPOINT_DIR) / "audit-signing.pub").write_bytes(audit_chain.public_key_pem(other))
    problem = only_problem(verify())
    assert problem.kind == ProblemKind.BAD_SIGNATURE and "audit-signing.pub" in problem.message


# --- personal details -------------------------------------------------------------------------------------


def raw_cell(column: str, entry_id: uuid.UUID) -> Any:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM security_auditentry WHERE id IN (%s, %s)",  # noqa: S608 - fixed column names
            [entry_id.hex, str(entry_id)],
        )
        return cursor.fetchone()[0]


def test_personal_details_are_sealed_and_shredding_keeps_the_chain_verifiable() -> None:
    subject = f"u:{uuid.uuid4()}"
    personal = {"phone": "+8613800138000", "nickname": "小明"}
    with transaction.atomic():
        sealed = record(AuditEvent.PHONE_CHANGED, actor=subject, subject=subject, personal=personal,
                        details={"field": "phone"})
    append(3)
    stored = raw_cell("sealed", sealed.id)
    assert stored.startswith("ljx1$") and "13800138000" not in stored and "小明" not in stored
    plain = AuditEntry.objects.get(pk=sealed.id).sealed
    assert json.loads(plain) == personal
    assert raw_cell("detail_mac", sealed.id) == detail_mac(plain)
    assert verify(deep=True).ok

    shred_subject(subject, reason="erasure")

    assert AuditEntry.objects.get(pk=sealed.id).sealed is None
    report = verify(deep=True)
    assert report.ok and report.entries == 4


def test_personal_details_need_a_subject() -> None:
    with transaction.atomic(), pytest.raises(ValueError, match="subject"):
        record(AuditEvent.PHONE_CHANGED, actor=ACTORS[0], personal={"phone": "+8613800138000"})


def test_deep_verify_catches_sealed_details_moved_or_removed() -> None:
    subject = f"u:{uuid.uuid4()}"
    with transaction.atomic():
        first = record(AuditEvent.PHONE_CHANGED, actor=subject, subject=subject, personal={"phone": "+8613800138000"})
        second = record(AuditEvent.PHONE_CHANGED, actor=subject, subject=subject, personal={"phone": "+8613900139000"})
    moved = raw_cell("sealed", first.id)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE security_auditentry SET sealed = %s WHERE seq = 2", [moved])
    assert verify().ok  # the chain hashes a MAC of the details, not the ciphertext (so rotation can re-encrypt)
    problem = only_problem(verify(deep=True))
    assert (problem.kind, problem.seq, problem.entry_id) == (ProblemKind.EDITED, 2, str(second.id))
    with connection.cursor() as cursor:
        cursor.execute("UPDATE security_auditentry SET sealed = NULL WHERE seq = 1")
    assert [(p.kind, p.seq) for p in verify(deep=True).problems] == [(ProblemKind.EDITED, 1), (ProblemKind.EDITED, 2)]


# --- the command ------------------------------------------------------------------------------------------


def test_verify_command_exits_0_on_an_intact_chain(chain: list[AuditEntry], capsys: Any) -> None:
    call_command("audit", "checkpoint")
    call_command("audit", "verify")
    assert "审计链完整 / audit chain intact: 10 entries, 1 checkpoints" in capsys.readouterr().out


def test_verify_command_exits_1_with_a_line_per_problem(chain: list[AuditEntry], capsys: Any) -> None:
    AuditEntry.objects.filter(seq=3).update(actor="system")
    AuditEntry.objects.filter(seq=8).delete()
    with pytest.raises(SystemExit) as exit_info:
        call_command("audit", "verify")
    assert exit_info.value.code == 1
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("edited 被修改: seq 3 id ")
    assert lines[1].startswith("deleted 被删除: seq 8 ")
    assert "audit chain broken: 2 problems" in captured.err


def test_checkpoint_command_refuses_a_broken_chain(chain: list[AuditEntry]) -> None:
    from django.core.management.base import CommandError

    AuditEntry.objects.filter(seq=3).update(actor="system")
    with pytest.raises(CommandError, match="broken at seq 3"):
        call_command("audit", "checkpoint")


# --- the staff console ------------------------------------------------------------------------------------


def test_the_console_lists_entries_read_only_without_sealed_details(client: Any) -> None:
    from lingjing.accounts.models import User

    subject = f"u:{uuid.uuid4()}"
    with transaction.atomic():
        sealed = record(AuditEvent.PHONE_CHANGED, actor=subject, subject=subject, personal={"phone": "+8613800138000"})
    admin_user = User.objects.create_superuser("+8613700137000", "a-long-password")
    client.force_login(admin_user)
    listing = client.get("/console/security/auditentry/")
    assert listing.status_code == 200
    body = listing.content.decode()
    assert "account.phone_changed" in body and subject in body
    assert "ljx1$" not in body and "13800138000" not in body
    detail = client.get(f"/console/security/auditentry/{sealed.pk}/change/")
    assert detail.status_code == 200
    assert "ljx1$" not in detail.content.decode() and "13800138000" not in detail.content.decode()
    assert client.get("/console/security/auditentry/add/").status_code == 403
    assert client.post(f"/console/security/auditentry/{sealed.pk}/delete/").status_code == 403
    assert client.post(f"/console/security/auditentry/{sealed.pk}/change/", {"actor": "system"}).status_code == 403
    assert AuditEntry.objects.get(pk=sealed.pk).actor == subject
    assert verify().ok


# --- concurrency (PostgreSQL) -----------------------------------------------------------------------------


@pytest.mark.skipif(
    "postgresql" not in django_settings.DATABASES["default"]["ENGINE"],
    reason="row locks and concurrent writers need PostgreSQL",
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_keep_one_verifiable_chain(settings: Any) -> None:
    settings.LINGJING_AUDIT_CHECKPOINT_EVERY = 7
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def writer(n: int) -> None:
        from django.db import connection as thread_connection

        try:
            barrier.wait()
            append(10, start=n * 10)
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(AuditEntry.objects.values_list("seq", flat=True)) == list(range(1, 41))
    assert sorted(AuditEntry.objects.values_list("details__n", flat=True)) == list(range(40))
    report = verify()
    assert report.ok, [p.line() for p in report.problems]
    assert report.checkpoints >= 1  # written after commit by the writers themselves
    AuditEntry.objects.filter(seq=20).update(actor="system")
    assert not verify().ok


# --- any tampering is caught ------------------------------------------------------------------------------


def _tamper(op: str, seq: int, other: int) -> None:
    if op == "edit":
        AuditEntry.objects.filter(seq=seq).update(details={"forged": seq})
    elif op == "delete":
        AuditEntry.objects.filter(seq=seq).delete()
    elif op == "swap":
        swap_seq(seq, other)
    elif op == "move":
        AuditEntry.objects.filter(seq=seq).update(seq=1000 + seq)
    elif op == "rehash":
        row = entry(seq)
        row.details = {"forged": seq}
        AuditEntry.objects.filter(seq=seq).update(details=row.details, hash=entry_hash(row, row.prev_hash))
    elif op == "append":
        forge(1000 + seq, entry(seq).hash)



@hypothesis.settings(
    max_examples=20, deadline=None, suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture]
)
@hypothesis.given(
    ops=st.lists(
        st.tuples(st.sampled_from(["edit", "delete", "swap", "move", "rehash", "append"]), st.integers(1, 12)),
        min_size=1,
        max_size=4,
        unique_by=lambda op: op[1],
    )
)
def test_any_tampering_is_caught_and_named(ops: list[tuple[str, int]]) -> None:
    """Random edits, deletions, swaps, moves, rewrites and forged appends: verify never calls the chain intact,
    and each row touched is named (its seq or its neighbour's, for deletions and rewrites)."""
    if not AuditEntry.objects.exists():
        append(12)
        write_checkpoint()
    with transaction.atomic():
        used: set[int] = set()
        applied: list[tuple[str, int]] = []
        for op, seq in ops:
            other = seq % 12 + 1
            if seq in used or (op == "swap" and other in used):
                continue
            used.update((seq, other) if op == "swap" else (seq,))
            applied.append((op, seq))
            _tamper(op, seq, other)
        report = verify()
        transaction.set_rollback(True)
    lines = [p.line() for p in report.problems]
    assert not report.ok, ops

    def named(seq: int) -> bool:
        return bool(report.kinds_at(seq))

    for op, seq in applied:
        if op == "swap":
            assert named(seq) and named(seq % 12 + 1), (ops, lines)
        elif op in ("move", "append"):
            assert named(1000 + seq), (ops, lines)
        elif op == "rehash":
            # Its witness is the next entry (or the head): deleting or damaging that witness leaves only the
            # witness's own problem to see.
            witness_gone = any(s == seq + 1 and o in ("delete", "edit") for o, s in applied)
            assert named(seq) or witness_gone, (ops, lines)
        else:
            assert named(seq), (ops, lines)
    # ... and nothing else is accused: every problem concerns a row that was touched.
    touched = {s for _, s in applied} | {s % 12 + 1 for o, s in applied if o == "swap"}
    touched |= {1000 + s for o, s in applied if o in ("move", "append")}
    for problem in report.problems:
        assert problem.seq is not None, (ops, lines)
        span = set(range(problem.seq, (problem.last_seq or problem.seq) + 1))
        assert span & touched, (ops, lines)
    assert verify().ok
