"""Erasure engine: removes one person's personal data everywhere the registry says it lives.

Design (read before changing; this module destroys data)
---------------------------------------------------------
What is deleted. For the person with user id U (subject ``u:U``) the engine walks ``registry.declarations()`` in
``erase_order`` (dependants first) and, per model, the rows its subject path links to U:

* ``RowErase.DELETE``: the rows are deleted (Django's ``on_delete`` cascades apply and are counted), and the files
  named by their ``export="file"`` fields are removed from storage.
* ``RowErase.ANONYMISE``: every declared personal field is overwritten with its ``PD.anonymised`` value (sealed
  fields with NULL), files named by ``export="file"`` fields are removed, and the link to U is cut (the foreign
  key set to NULL, a ``subject_ref`` emptied). The row stays (a published work, the user's own row). The user's
  row (``subject="self"``, erase_order 90) comes last and stays as a tombstone, so kept rows still point somewhere.
* ``RowErase.KEEP``: the rows stay untouched under their legal hold (``keep_days``); their sealed fields become
  unreadable in the last step, and the retention purge deletes the rows when the hold ends.

Last, every data key of ``u:U`` is destroyed (``security.crypto.shred_subject``) and U joins the deletion list.
Sealed copies anywhere (the audit log's sealed details, replicas, backups' data tables) stop decrypting.

How. Each chunk chooses its rows in the database, ``pk IN (SELECT pk … WHERE <subject> LIMIT chunk)``: no key
list passes through Python. A DELETE chunk is one ``DELETE`` statement when Django needs nothing loaded (no
cascades, no delete signal receivers for the model: ``Collector.can_fast_delete``); otherwise Django loads the
chunk's rows, sends the signals and follows the cascades. A model with ``export="file"`` fields reads the chunk's
keys first, so exactly the rows whose files were removed change. An ANONYMISE chunk is one ``UPDATE``; as
``update()`` sends no signals, the engine retires cached public answers (``public_content_changed``) on commit.
One statement at the start tells which steps have rows (the others cost nothing), one at the end counts the kept
rows. A chunk that takes fewer rows than its limit ends its step (no empty transaction to find that out).

How many rows a chunk takes. Adaptive by time: every step starts at ``LINGJING_ERASURE_CHUNK`` rows; a full
chunk whose statements took at most half of ``LINGJING_ERASURE_CHUNK_MS`` grows the next one towards half the
budget in proportion (doubled at least, ``GROWTH`` times at most, up to ``MAX_CHUNK`` or the configured chunk if
larger), a chunk over the budget shrinks the next one in proportion (halved at least, never below 1). The time
measured is the chunk's statements, not its commit (the wait for the disk is the same for any size). So a cheap
model (one ``DELETE`` by subject) soon goes in few large transactions and a costly one (Django's collector,
files) stays in small ones: each transaction's lock time stays within about the budget. The next chunk's size is
saved with the run's progress (``ErasureRun.chunk_size``, in the chunk's transaction), so a resumed run goes on at
the size it had reached; a new step starts again at the configured size. ``LINGJING_ERASURE_CHUNK_MS=0`` (or
``chunk_seconds=0``) pins every chunk at the configured size.

When. After an account cancellation's grace period or a granted deletion request, from a task taking the user
id; an operator can resume a failed run with ``lingjing privacy erase <uuid> --yes``. The engine refuses to start
while the registry has gaps (``registry.find_gaps``): an undeclared column could hold data it would miss.

Transaction boundaries. One durable transaction per chunk (rows of one model): the change of those rows, one
``ERASURE_STEP`` audit entry and the run's progress (``ErasureRun``) commit together. Must not be called inside
another transaction. Files are removed inside the chunk's transaction, before it commits: a rollback can leave a
row whose file is already gone (the rerun processes the row again and tolerates the missing file), never a
committed change with the file left behind. The last transaction shreds the keys,
audits ``SUBJECT_SHREDDED`` and ``ERASURE_FINISHED`` and marks the run finished.

How to recover. The work of every step is "rows still linked to U (or, for the user's row, not yet anonymised)",
so a repeated chunk finds nothing to redo. A crash or an exception rolls back the chunk in flight only; an
exception also marks the run ``failed`` with its class and step (never its message, which could quote data).
Calling ``erase_person(U)`` again resumes the open run at its recorded step and reaches the same end state. A call
after a finished run starts a new run that walks everything again and changes nothing; restoring a backup replays
the deletion list this way. Erased data cannot be recovered: that is the point.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.files.storage import Storage, default_storage
from django.db import DatabaseError, IntegrityError, connection, models, transaction
from django.db.models import F
from django.db.models.deletion import Collector
from django.db.models.expressions import RawSQL
from django.utils import timezone

from lingjing.core.cachecontrol import public_content_changed
from lingjing.privacy.models import ErasureRun, ErasureStatus
from lingjing.privacy.registry import Declaration, Gap, RowErase, declarations, find_gaps
from lingjing.security import audit
from lingjing.security.audit import AuditEvent, actor_ref
from lingjing.security.crypto import SealedField, shred_subject, user_subject

log = logging.getLogger(__name__)

SHRED_STEP = "security.shred_keys"
MAX_CHUNK = 100_000  # adaptive chunks grow up to this many rows (or to the configured chunk, if that is larger)
GROWTH = 8.0  # the most an adaptive chunk grows from one chunk to the next


def _clock() -> float:
    return time.perf_counter()


class RegistryIncomplete(Exception):
    """The registry has gaps: erasing now could leave undeclared personal data behind."""

    def __init__(self, gaps: list[Gap]) -> None:
        self.gaps = gaps
        super().__init__(f"{len(gaps)} registry gap(s), first: {gaps[0].model}.{gaps[0].field}: {gaps[0].problem}")


class _Stop(Exception):
    """Internal: the caller's chunk budget (``stop_after_chunks``) is spent."""


@dataclass
class ErasureReport:
    run_id: int
    user_id: uuid.UUID
    finished: bool = False
    resumed: bool = False
    chunks: int = 0  # chunk transactions committed by this call (the final shredding one included)
    deleted: dict[str, int] = field(default_factory=dict)  # model label -> rows (cascades included)
    anonymised: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)  # rows left under a legal hold
    files_removed: int = 0  # file references deleted from storage (a file already missing counts too)
    keys_shredded: int = 0

    def add(self, bucket: dict[str, int], label: str, count: int) -> None:
        if count:
            bucket[label] = bucket.get(label, 0) + count


@dataclass
class _ChunkSize:
    """The rows the next chunk of a step may take: fixed (``budget`` 0) or adapted to a time budget in seconds."""

    start: int
    budget: float
    rows: int = 0

    def __post_init__(self) -> None:
        self.rows = self.rows or self.start

    def after(self, done: int, elapsed: float) -> None:
        """Adapt to a chunk that processed ``done`` rows of at most ``rows`` in ``elapsed`` seconds."""
        if self.budget <= 0:
            return
        if elapsed > self.budget:
            self.rows = max(1, min(self.rows // 2, int(self.rows * self.budget / elapsed)))
        elif done >= self.rows and elapsed <= self.budget / 2:  # a partial chunk says nothing about a larger one
            # towards half the budget: at least doubled, at most ``GROWTH`` times
            factor = GROWTH if elapsed <= 0 else min(GROWTH, max(2.0, self.budget / 2 / elapsed))
            self.rows = min(max(MAX_CHUNK, self.start), int(self.rows * factor))


@dataclass(frozen=True)
class _Step:
    label: str
    decl: Declaration | None  # None: the final shredding step


def _steps() -> list[_Step]:
    steps = [
        _Step(d.label, d)
        for d in declarations()
        if (d.subject or d.subject_ref) and d.on_erase in (RowErase.DELETE, RowErase.ANONYMISE)
    ]
    return [*steps, _Step(SHRED_STEP, None)]


def erase_person(
    user_id: uuid.UUID | str,
    *,
    acting_user: Any = None,
    chunk: int | None = None,
    chunk_seconds: float | None = None,
    stop_after_chunks: int | None = None,
    reason: str = "erasure",
) -> ErasureReport:
    """Erase every personal datum of one person, resumably. Returns what this call did.

    1. Refuse while the registry has gaps.
    2. Open a run, or resume the person's unfinished one (audit ``ERASURE_STARTED`` when new).
    3. For each DELETE / ANONYMISE declaration from the run's step on: chunks until no row is left.
    4. Shred the person's keys, audit, mark the run finished (one transaction).

    ``chunk`` is each step's first chunk size (default ``LINGJING_ERASURE_CHUNK``), ``chunk_seconds`` the time
    budget that adapts it (default ``LINGJING_ERASURE_CHUNK_MS``; 0 keeps every chunk at ``chunk``).
    ``stop_after_chunks`` returns after that many committed chunk transactions, as a kill would (tests,
    and workers that want to yield); the next call resumes.
    """
    gaps = find_gaps()
    if gaps:
        raise RegistryIncomplete(gaps)
    uid = uuid.UUID(str(user_id))
    chunk = chunk or settings.LINGJING_ERASURE_CHUNK
    budget = settings.LINGJING_ERASURE_CHUNK_MS / 1000 if chunk_seconds is None else chunk_seconds
    _zero_freed_space()
    run, resumed = _open_run(uid, acting_user)
    report = ErasureReport(run_id=run.pk, user_id=uid, resumed=resumed)
    steps = _steps()
    labels = [s.label for s in steps]
    index = labels.index(run.step_label) if run.step_label in labels else min(run.step_index, len(steps) - 1)
    left = stop_after_chunks
    current = steps[index].label
    try:
        # One statement tells which steps have rows at all; the others cost no transaction.
        todo = [(s.label, _pending(s.decl, uid)[:1]) for s in steps[index:] if s.decl is not None]
        busy = {label for (label, _qs), n in zip(todo, _counts([qs for _label, qs in todo]), strict=True) if n}
        for position in range(index, len(steps)):
            step = steps[position]
            current = step.label
            if step.decl is not None and step.label not in busy:
                continue
            # a resumed run goes on at the size its step had reached
            resumed_size = run.chunk_size if budget > 0 and run.step_label == step.label else 0
            size = _ChunkSize(chunk, budget, resumed_size)
            while True:
                if left is not None and left <= 0:
                    return report  # as if killed here: the next call resumes
                limit = size.rows
                if step.decl is None:
                    _finish(run, position, step, acting_user, reason, report)
                    done = 1
                else:
                    done = _chunk(run, position, step, uid, size, acting_user, report)
                    if not done:
                        break
                report.chunks += 1
                left = None if left is None else left - 1
                if step.decl is None:
                    report.finished = True
                    break
                if done < limit:  # the chunk found fewer rows than it could take: the step has none left
                    break
    except _Stop:
        return report
    except Exception as exc:
        ErasureRun.objects.filter(pk=run.pk).update(
            status=ErasureStatus.FAILED, error=f"{type(exc).__name__} at {current}"[:200]
        )
        log.exception("erasure run %s failed at %s", run.pk, current)
        raise
    held = [d for d in declarations() if d.on_erase == RowErase.KEEP and (d.subject or d.subject_ref)]
    kept = _counts([d.model._base_manager.filter(**d.subject_filter(uid)) for d in held])
    for decl, count in zip(held, kept, strict=True):
        report.add(report.kept, decl.label, count)
    _flush_wal()
    return report


def _counts(querysets: list[models.QuerySet[Any]]) -> list[int]:
    """The row count of each queryset, in one round trip: ``SELECT (SELECT COUNT(*) FROM (…) AS q0), …``."""
    if not querysets:
        return []
    parts: list[str] = []
    params: list[Any] = []
    for i, qs in enumerate(querysets):
        sql, qs_params = qs.values("pk").query.get_compiler(using=qs.db).as_sql()
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS q{i})")  # noqa: S608 (compiled querysets, bound params)
        params.extend(qs_params)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        row = cursor.fetchone()
    return [int(n) for n in row]


def _zero_freed_space() -> None:
    """SQLite keeps deleted and overwritten cells in free pages of the file unless ``secure_delete`` is on."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA secure_delete = ON")


def _flush_wal() -> None:
    """Best effort: copy the WAL into the database file and truncate it, so no old page image lingers there."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except DatabaseError:  # busy readers: the next checkpoint overwrites the frames
        log.info("WAL checkpoint after erasure deferred")


def _open_run(uid: uuid.UUID, acting_user: Any) -> tuple[ErasureRun, bool]:
    run = ErasureRun.objects.filter(user_id=uid, finished_at__isnull=True).first()
    if run is not None:
        return run, True
    subject = user_subject(uid)
    try:
        with transaction.atomic(durable=True):
            run = ErasureRun.objects.create(user_id=uid, subject=subject, actor=actor_ref(acting_user))
            audit.record(AuditEvent.ERASURE_STARTED, acting_user=acting_user, subject=subject, obj=run,
                         details={"run": run.pk})
    except IntegrityError:  # another worker opened it between our read and our insert
        return ErasureRun.objects.get(user_id=uid, finished_at__isnull=True), True
    return run, False


def _anonymised_values(decl: Declaration) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, pd in decl.fields.items():
        f = decl.model._meta.get_field(name)
        values[f.attname] = None if isinstance(f, SealedField) else pd.anonymised  # type: ignore[union-attr]
    return values


def _pending(decl: Declaration, uid: uuid.UUID) -> models.QuerySet[Any]:
    """The subject's rows this step still has to process."""
    rows = decl.model._base_manager.filter(**decl.subject_filter(uid))
    if decl.on_erase == RowErase.ANONYMISE and decl.subject == "self":
        # The user's own row keeps matching the subject filter; once anonymised it has nothing left to do.
        values = _anonymised_values(decl)
        if values:
            rows = rows.exclude(**values)
    return rows


def _file_fields(decl: Declaration) -> list[models.Field[Any, Any]]:
    """The declared ``export="file"`` fields: their files go with the rows."""
    return [decl.model._meta.get_field(n) for n, pd in decl.fields.items() if pd.export == "file"]  # type: ignore[misc]


def _chunk(
    run: ErasureRun,
    position: int,
    step: _Step,
    uid: uuid.UUID,
    sizer: _ChunkSize,
    acting_user: Any,
    report: ErasureReport,
) -> int:
    """Process one chunk of one step in its own transaction: the rows of the step's model it took (0: none left).

    The chunk takes at most ``sizer.rows`` rows; the time its statements took adapts the next chunk's size, which
    is saved with the run's progress.

    The chunk's rows are chosen in the database: ``pk IN (SELECT pk … WHERE <subject> LIMIT size)``, no key list
    travels through Python. A model with files is the exception: its chunk's keys are read first, so exactly
    the rows whose files were removed are changed.
    """
    decl = step.decl
    assert decl is not None
    model = decl.model
    size = sizer.rows
    started = _clock()
    with transaction.atomic(durable=True):
        locked = ErasureRun.objects.select_for_update().get(pk=run.pk)
        if locked.finished_at is not None:  # another worker finished this run meanwhile
            raise _Stop
        files = 0
        pending = _pending(decl, uid).order_by()
        if _file_fields(decl):
            pks = list(pending.values_list("pk", flat=True)[:size])
            if not pks:
                return 0
            files = _remove_files(decl, pks)
            rows = model._base_manager.filter(pk__in=pks)
        else:
            rows = model._base_manager.filter(pk__in=pending.values("pk")[:size])
        details: dict[str, Any] = {"run": run.pk, "step": step.label}
        if decl.on_erase == RowErase.DELETE and not files and _can_delete_in_database(pending):
            count = _delete_in_database(pending, size)
            if not count:
                return 0
            report.add(report.deleted, decl.label, count)
            details.update(action="delete", cascade={})
        elif decl.on_erase == RowErase.DELETE:
            # Django loads the rows, sends the delete signals and follows the cascades.
            _total, per_model = rows.delete()
            count = per_model.get(decl.label, 0)
            if not count:
                return 0
            for label, deleted in per_model.items():
                report.add(report.deleted, label, deleted)
            details["action"] = "delete"
            details["cascade"] = {k: v for k, v in per_model.items() if k != decl.label and v}
        else:
            values = _anonymised_values(decl)
            if decl.subject and decl.subject != "self":
                values[model._meta.get_field(decl.subject).attname] = None  # type: ignore[union-attr]
            elif decl.subject_ref:
                values[decl.subject_ref] = ""
            count = rows.update(**values)
            if not count:
                return 0
            report.add(report.anonymised, decl.label, count)
            details["action"] = "anonymise"
            # update() sends no signals: retire cached public answers that may show the old values
            transaction.on_commit(lambda: public_content_changed(sender=model))
        details.update(rows=count, limit=size, files=files)
        report.files_removed += files
        audit.record(AuditEvent.ERASURE_STEP, acting_user=acting_user, subject=run.subject, obj=run, details=details)
        sizer.after(count, _clock() - started)
        ErasureRun.objects.filter(pk=run.pk).update(
            status=ErasureStatus.RUNNING,
            chunk_size=sizer.rows,
            step_index=position,
            step_label=step.label,
            chunks_done=F("chunks_done") + 1,
            rows_done=F("rows_done") + count,
            error="",
        )
    return count


# The database's own address of a row: deleting by it skips a primary-key index lookup per row.
_ROW_ADDRESS = {"postgresql": "ctid = ANY(ARRAY({rows}))", "sqlite": "rowid IN ({rows})"}
_ROW_ADDRESS_COLUMN = {"postgresql": "ctid", "sqlite": "rowid"}


def _can_delete_in_database(pending: models.QuerySet[Any]) -> bool:
    """Django's own test for a delete without loading the rows: no cascades, no delete signal receivers."""
    return connection.vendor in _ROW_ADDRESS and Collector(using=pending.db).can_fast_delete(pending)


def _delete_in_database(pending: models.QuerySet[Any], size: int) -> int:
    """Delete at most ``size`` of the pending rows with one statement; returns how many went.

    ``DELETE … WHERE <subject> AND ctid = ANY(ARRAY(SELECT ctid … WHERE <subject> LIMIT size))`` (SQLite:
    ``rowid IN (…)``). The outer statement repeats the subject filter, so it can only ever delete the subject's
    rows; a row changed meanwhile by someone else no longer matches its address and waits for the next chunk.
    """
    vendor = connection.vendor
    address = RawSQL(_ROW_ADDRESS_COLUMN[vendor], ())  # noqa: S611 (a constant column name)
    chosen = pending.annotate(erasure_row=address).values("erasure_row")[:size]
    sql, params = chosen.query.get_compiler(using=pending.db).as_sql()
    # a constant template around a compiled queryset; its values stay bound parameters
    where = RawSQL(_ROW_ADDRESS[vendor].format(rows=sql), tuple(params), output_field=models.BooleanField())  # noqa: S611
    return int(pending.filter(where)._raw_delete(pending.db))


def _file_storage(f: models.Field[Any, Any]) -> Storage:
    return f.storage if isinstance(f, models.FileField) else default_storage


def _remove_files(decl: Declaration, pks: Iterable[Any]) -> int:
    """Delete from storage every file named by the rows' ``export="file"`` fields; missing files are fine."""
    removed = 0
    for f in _file_fields(decl):
        storage = _file_storage(f)
        for stored in decl.model._base_manager.filter(pk__in=list(pks)).values_list(f.attname, flat=True):
            if not stored:
                continue
            try:
                storage.delete(str(stored))
            except FileNotFoundError:
                continue
            removed += 1
    return removed


def _finish(
    run: ErasureRun, position: int, step: _Step, acting_user: Any, reason: str, report: ErasureReport
) -> None:
    """The last transaction: destroy the keys, audit, mark the run finished."""
    with transaction.atomic(durable=True):
        locked = ErasureRun.objects.select_for_update().get(pk=run.pk)
        if locked.finished_at is not None:  # another worker finished this run meanwhile
            report.finished = True
            raise _Stop
        keys = shred_subject(run.subject, reason=f"{reason} (erasure run {run.pk})")
        report.keys_shredded = keys
        audit.record(AuditEvent.SUBJECT_SHREDDED, acting_user=acting_user, subject=run.subject,
                     details={"keys": keys, "run": run.pk})
        audit.record(
            AuditEvent.ERASURE_FINISHED,
            acting_user=acting_user,
            subject=run.subject,
            obj=run,
            details={"run": run.pk, "chunks": locked.chunks_done, "rows": locked.rows_done},
        )
        ErasureRun.objects.filter(pk=run.pk).update(
            status=ErasureStatus.FINISHED,
            step_index=position,
            step_label=step.label,
            finished_at=timezone.now(),
            error="",
        )
