"""Retention engine: every retention rule of the registry, enforced by a scheduled, idempotent, chunked purge.

Design (read before changing; this module destroys data)
---------------------------------------------------------
What is removed. The engine walks ``registry.declarations()`` and turns each declared rule into work:

1. ``Retention("created", N)`` — a row whose *clock* (the time its data was collected, :func:`clock_of`) is more
   than N days old:

   * when every personal field of the model has such a rule and the longest one has passed, the row is purged as
     its ``on_erase`` says: ``DELETE`` and ``KEEP`` rows are deleted (their ``export="file"`` files removed first),
     ``ANONYMISE`` rows get the erasure engine's anonymised values and lose their link to the person. Rows of the
     models in :data:`PRESERVE_ROWS` (the audit log's hash chain) are never deleted: their personal fields are
     cleared and the pseudonymous row stays, so ``lingjing audit verify`` keeps passing;
   * a field whose own, shorter rule has passed is cleared (its anonymised value, NULL, or "") while the row stays.

2. ``Retention("account_closed", D)`` and ``keep_days`` legal holds — rows of people on the deletion list
   (``security.ShreddedSubject``, written when an erasure finishes):

   * ``KEEP`` rows (held by the erasure) are purged once the person was erased more than ``max(D, keep_days)``
     days ago;
   * ``DELETE`` / ``ANONYMISE`` rows still linked to an erased person mean an erasure did not reach them (an
     interrupted run, or a restored backup): the erasure engine is run again for that person (``erase_person``,
     which changes nothing where nothing is left).

3. ``Retention("consent_withdrawn")`` data is deleted by the consent flows at the moment of withdrawal.

4. Other purges (:data:`EXTRA_PURGES`): expired Django sessions, rights-request copy packages past their link's
   7 days (``privacy.requests.due.expire_packages``), files older than ``LINGJING_EXPORT_TTL_DAYS`` under any
   export directories named in ``LINGJING_RETENTION_EXPORT_DIRS`` (none by default), child accounts
   whose guardian never consented (``accounts.guardian.purge_expired_pending_children``), raw analytics events and
   past analytics keys (``consent.analytics.purge_expired``), and any callables named in
   ``LINGJING_RETENTION_EXTRA_PURGES``.

A ``created`` rule whose model has no clock column cannot be enforced; :func:`unenforceable` lists such models
(``lingjing retention run`` prints them) so that a new model cannot silently escape.

When. ``lingjing retention run`` from cron (daily), or the ``run_retention`` task (``lingjing retention enqueue``)
for a worker. ``--dry-run`` counts without changing anything.

Transaction boundaries. One durable transaction per chunk (at most ``LINGJING_RETENTION_CHUNK`` rows of one model
and rule): the rows' change and one ``RETENTION_PURGED`` audit entry commit together. Must not be called inside
another transaction. A crash loses the chunk in flight only; the next run finds the rows still expired and
finishes the work. Every selection is "rows still past their limit and not yet handled", so a second run right
after the first removes nothing (:func:`overdue` answers what is still past its limit: after a run, nothing).

How to recover. There is no undo: purged data is gone, as the policy promises (PIPL art. 47). A dry run shows
what would go; backups taken earlier still hold rows, and restoring one replays the deletion list
(``lingjing.secops.backups``), while rows merely past retention come back until the next run removes them again.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import Storage, default_storage
from django.db import models, transaction
from django.db.models import ProtectedError, Q, QuerySet, RestrictedError
from django.db.models.functions import Coalesce
from django.utils import timezone

from lingjing.privacy.registry import PD, Declaration, RowErase, declarations
from lingjing.security import audit
from lingjing.security.audit import AuditEvent

log = logging.getLogger("lingjing.privacy.retention")

# Models whose rows must outlive their personal fields: expiry clears the fields, the row stays.
PRESERVE_ROWS: dict[str, str] = {
    "security.AuditEntry": "an append-only hash chain: deleting a row would break `lingjing audit verify`; the row "
                           "keeps only pseudonymous ids once its sealed details are cleared",
}

# The column that dates a row's data, when its name is not one of CLOCK_NAMES. Several names: the first non-null.
CLOCK_OVERRIDES: dict[str, tuple[str, ...]] = {
    # a token in use is collected again at each use; it expires 90 days after the last one
    "accounts.ApiToken": ("last_used_at", "created_at"),
}
CLOCK_NAMES = (
    "created_at", "at", "made_at", "requested_at", "found_at", "added_at", "granted_at", "acknowledged_at",
    "opened_at", "submitted_at", "uploaded_at", "recorded_at", "issued_at", "occurred_at", "sent_at", "written_at",
    "received_at", "generated_at", "started_at", "date_joined",
)  # fmt: skip


# --- rules --------------------------------------------------------------------------------------------------


def clock_of(model: type[models.Model]) -> tuple[str, ...]:
    """The column(s) holding the time a row's data was collected; () when the model has none."""
    names = {f.name for f in model._meta.concrete_fields if isinstance(f, models.DateTimeField | models.DateField)}
    override = CLOCK_OVERRIDES.get(model._meta.label)
    if override:
        return tuple(n for n in override if n in names)
    return next(((n,) for n in CLOCK_NAMES if n in names), ())


def _with_clock(qs: QuerySet[Any], clock: tuple[str, ...]) -> QuerySet[Any]:
    expression: Any = models.F(clock[0]) if len(clock) == 1 else Coalesce(*clock)
    annotated: QuerySet[Any] = qs.annotate(_retention_clock=expression)
    return annotated


@dataclass(frozen=True)
class Rule:
    """One unit of work: what to select, and what to do with it."""

    decl: Declaration
    basis: str  # "created" (the row's clock) | "erased" (the person's erasure) | "erasure" (resume an erasure)
    days: int
    action: str  # "delete" | "anonymise" | "clear"
    fields: tuple[str, ...]  # the personal fields concerned

    @property
    def label(self) -> str:
        return self.decl.label

    @property
    def name(self) -> str:
        return f"{self.basis}:{self.days}:{self.action}"


def _row_action(decl: Declaration) -> str:
    if decl.label in PRESERVE_ROWS:
        return "clear"
    return "anonymise" if decl.on_erase == RowErase.ANONYMISE else "delete"


def rules() -> list[Rule]:
    """Every rule the registry declares, as work for the purge (module docstring, parts 1 and 2)."""
    out: list[Rule] = []
    for decl in declarations():
        if not decl.fields:
            continue
        created: dict[int, list[str]] = {}
        account: dict[int, list[str]] = {}
        for name, pd in decl.fields.items():
            if pd.retention.after == "created" and pd.retention.days is not None:
                created.setdefault(pd.retention.days, []).append(name)
            elif pd.retention.after == "account_closed":
                account.setdefault(pd.retention.days or 0, []).append(name)
        everything = tuple(decl.fields)
        if created and sum(map(len, created.values())) == len(decl.fields):
            longest = max(created)
            out.append(Rule(decl, "created", longest, _row_action(decl), everything))
            out += [Rule(decl, "created", d, "clear", tuple(f)) for d, f in created.items() if d != longest]
        else:
            out += [Rule(decl, "created", d, "clear", tuple(f)) for d, f in created.items()]
        if not (decl.subject or decl.subject_ref):
            continue
        if decl.on_erase == RowErase.KEEP:
            hold = max([decl.keep_days or 0, *account])
            out.append(Rule(decl, "erased", hold, _row_action(decl), everything))
        elif account:
            out.append(Rule(decl, "erasure", 0, "erase", everything))
    return out


def unenforceable() -> list[str]:
    """Models with a ``created`` rule but no clock column to measure it from."""
    return sorted({r.label for r in rules() if r.basis == "created" and not clock_of(r.decl.model)})


# --- selections ---------------------------------------------------------------------------------------------


def _clear_values(decl: Declaration, names: Iterable[str]) -> dict[str, Any]:
    """What a cleared field holds: its anonymised value, else NULL, else "" (a field that can hold neither is
    left out and reported by :func:`uncleared_fields`)."""
    from lingjing.security.crypto import SealedField

    values: dict[str, Any] = {}
    for name in names:
        f = decl.model._meta.get_field(name)
        pd: PD = decl.fields[name]
        if isinstance(f, SealedField):
            values[f.attname] = None
        elif pd.anonymised is not None:
            values[f.attname] = pd.anonymised  # type: ignore[union-attr]
        elif f.null:
            values[f.attname] = None  # type: ignore[union-attr]
        elif isinstance(f, models.CharField | models.TextField):
            values[f.attname] = ""
    return values


def uncleared_fields() -> list[str]:
    """``label.field`` of personal fields a ``clear`` rule cannot empty (NOT NULL, no anonymised value)."""
    missing = []
    for rule in rules():
        if rule.action != "clear":
            continue
        values = _clear_values(rule.decl, rule.fields)
        missing += [
            f"{rule.label}.{name}" for name in rule.fields
            if rule.decl.model._meta.get_field(name).attname not in values  # type: ignore[union-attr]
        ]
    return sorted(set(missing))


def _anonymise_values(decl: Declaration) -> dict[str, Any]:
    values = _clear_values(decl, decl.fields)
    if decl.subject and decl.subject != "self":
        values[decl.model._meta.get_field(decl.subject).attname] = None  # type: ignore[union-attr]
    elif decl.subject_ref:
        values[decl.subject_ref] = ""
    return values


def _not_done(qs: QuerySet[Any], rule: Rule) -> QuerySet[Any]:
    """Rows of the selection the action has not handled yet (deleted rows are simply gone)."""
    if rule.action == "clear":
        values = _clear_values(rule.decl, rule.fields)
        return qs.exclude(**values) if values else qs.none()
    if rule.action == "anonymise":
        return qs.exclude(**_anonymise_values(rule.decl))
    return qs


def _erased_subjects(before: dt.datetime | None) -> Iterator[list[uuid.UUID]]:
    """Ids of people on the deletion list (erased before ``before``), in chunks."""
    from lingjing.security.models import ShreddedSubject

    qs = ShreddedSubject.objects.filter(subject__startswith="u:")
    if before is not None:
        qs = qs.filter(shredded_at__lt=before)
    chunk: list[uuid.UUID] = []
    for subject in qs.order_by("pk").values_list("subject", flat=True).iterator(chunk_size=2000):
        try:
            chunk.append(uuid.UUID(subject[2:]))
        except ValueError:
            continue
        if len(chunk) >= 500:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _subject_q(decl: Declaration, ids: list[uuid.UUID]) -> Q:
    if decl.subject == "self":
        return Q(pk__in=ids)
    if decl.subject:
        return Q(**{f"{decl.subject}_id__in": ids})
    assert decl.subject_ref
    return Q(**{f"{decl.subject_ref}__in": [f"u:{i}" for i in ids]})


def selections(rule: Rule, now: dt.datetime) -> Iterator[QuerySet[Any]]:
    """Querysets of the rows this rule must still handle (several for rules over the deletion list)."""
    model = rule.decl.model
    base = model._base_manager.all()
    if rule.basis == "created":
        clock = clock_of(model)
        if not clock:
            return
        cutoff = now - dt.timedelta(days=rule.days)
        yield _not_done(_with_clock(base, clock).filter(_retention_clock__lt=cutoff), rule)
        return
    if rule.basis == "erased":
        for ids in _erased_subjects(now - dt.timedelta(days=rule.days)):
            yield _not_done(base.filter(_subject_q(rule.decl, ids)), rule)
        return
    # "erasure": rows an erasure should have removed or anonymised
    for ids in _erased_subjects(None):
        qs = base.filter(_subject_q(rule.decl, ids))
        if rule.decl.on_erase == RowErase.ANONYMISE:
            qs = qs.exclude(**_anonymise_values(rule.decl)) if rule.decl.subject != "self" else qs.exclude(
                **_clear_values(rule.decl, rule.decl.fields)
            )
        yield qs


def _subject_ids(rule: Rule, qs: QuerySet[Any]) -> set[uuid.UUID]:
    decl = rule.decl
    if decl.subject == "self":
        return set(qs.values_list("pk", flat=True))
    if decl.subject:
        return {v for v in qs.values_list(f"{decl.subject}_id", flat=True) if v}
    refs = qs.values_list(decl.subject_ref, flat=True) if decl.subject_ref else []
    return {uuid.UUID(r[2:]) for r in refs if r and r.startswith("u:")}


# --- the purge ----------------------------------------------------------------------------------------------


@dataclass
class RetentionReport:
    dry_run: bool = False
    removed: dict[str, int] = field(default_factory=dict)  # rows deleted or anonymised, per model
    cleared: dict[str, int] = field(default_factory=dict)  # rows whose expired fields were cleared
    erasures: int = 0  # people whose interrupted erasure was run again
    extra: dict[str, int] = field(default_factory=dict)
    files_removed: int = 0
    protected: dict[str, int] = field(default_factory=dict)  # rows another row protects from deletion
    unenforceable: list[str] = field(default_factory=list)
    erased_seen: set[uuid.UUID] = field(default_factory=set, repr=False)  # people handled by an earlier rule

    @property
    def total(self) -> int:
        return sum(self.removed.values()) + sum(self.cleared.values()) + self.erasures + sum(self.extra.values())

    def add(self, bucket: dict[str, int], label: str, count: int) -> None:
        if count:
            bucket[label] = bucket.get(label, 0) + count

    def lines(self) -> list[str]:
        out = [f"{'would remove' if self.dry_run else 'removed'} {n:>7}  {label}" for label, n in
               sorted(self.removed.items())]
        out += [f"{'would clear' if self.dry_run else 'cleared'}  {n:>7}  {label} (expired fields)" for label, n in
                sorted(self.cleared.items())]
        verb = "would purge" if self.dry_run else "purged"
        out += [f"{verb}  {n:>7}  {name}" for name, n in sorted(self.extra.items())]
        if self.erasures:
            out.append(f"erasures run again: {self.erasures}")
        out += [f"protected {n:>7}  {label} (another row still points at them)" for label, n in
                sorted(self.protected.items())]
        out += [f"not enforceable (no date column): {label}" for label in self.unenforceable]
        out.append(f"total: {self.total}")
        return out


def _file_storage(f: models.Field[Any, Any]) -> Storage:
    return f.storage if isinstance(f, models.FileField) else default_storage


def _remove_files(decl: Declaration, pks: list[Any]) -> int:
    removed = 0
    for name, pd in decl.fields.items():
        if pd.export != "file":
            continue
        f = decl.model._meta.get_field(name)
        storage = _file_storage(f)  # type: ignore[arg-type]
        for stored in decl.model._base_manager.filter(pk__in=pks).values_list(f.attname, flat=True):  # type: ignore[union-attr]
            if stored:
                storage.delete(str(stored))
                removed += 1
    return removed


def _apply(rule: Rule, pks: list[Any], report: RetentionReport) -> dict[str, int]:
    model = rule.decl.model
    rows = model._base_manager.filter(pk__in=pks)
    if rule.action == "clear":
        rows.update(**_clear_values(rule.decl, rule.fields))
        report.add(report.cleared, rule.label, len(pks))
        return {}
    report.files_removed += _remove_files(rule.decl, pks)
    if rule.action == "anonymise":
        rows.update(**_anonymise_values(rule.decl))
        report.add(report.removed, rule.label, len(pks))
        return {}
    _total, per_model = rows.delete()
    for label, count in per_model.items():
        report.add(report.removed, label, count)
    return {k: v for k, v in per_model.items() if k != rule.label and v}


def _run_rule(rule: Rule, now: dt.datetime, chunk: int, report: RetentionReport, dry_run: bool) -> None:
    if rule.action == "erase":
        _rerun_erasures(rule, now, report, dry_run)
        return
    for qs in selections(rule, now):
        if dry_run:
            count = qs.count()
            bucket = report.cleared if rule.action == "clear" else report.removed
            report.add(bucket, rule.label, count)
            continue
        skip: list[Any] = []
        while True:
            with transaction.atomic(durable=True):
                pks = list(qs.exclude(pk__in=skip).order_by("pk").values_list("pk", flat=True)[:chunk])
                if not pks:
                    break
                try:
                    with transaction.atomic():
                        cascade = _apply(rule, pks, report)
                except (ProtectedError, RestrictedError):
                    skip += pks
                    report.add(report.protected, rule.label, len(pks))
                    continue
                audit.record(AuditEvent.RETENTION_PURGED, actor="system",
                             details={"model": rule.label, "rule": rule.name, "rows": len(pks), "cascade": cascade})


def _rerun_erasures(rule: Rule, now: dt.datetime, report: RetentionReport, dry_run: bool) -> None:
    from lingjing.privacy.engines.erasure import erase_person

    for qs in selections(rule, now):
        for uid in sorted(_subject_ids(rule, qs), key=str):
            if uid in report.erased_seen:
                continue
            report.erased_seen.add(uid)
            report.erasures += 1
            if not dry_run:
                erase_person(uid, reason="retention: the deletion list names this person")


# --- other purges -------------------------------------------------------------------------------------------


def purge_sessions(now: dt.datetime, *, dry_run: bool = False) -> int:
    """Expired browser sessions (Django's ``clearsessions``, counted)."""
    from django.contrib.sessions.models import Session

    if settings.SESSION_ENGINE != "django.contrib.sessions.backends.db":
        return 0  # cache-based sessions expire by themselves
    expired = Session.objects.filter(expire_date__lt=now)
    if dry_run:
        return expired.count()
    count, _ = expired.delete()
    return count


def _export_files(now: dt.datetime) -> list[Path]:
    cutoff = (now - dt.timedelta(days=settings.LINGJING_EXPORT_TTL_DAYS)).timestamp()
    base = Path(settings.EXPORTS_DIR)
    found = []
    for name in settings.LINGJING_RETENTION_EXPORT_DIRS:
        root = base / name
        if root.is_dir():
            found += [p for p in root.rglob("*") if p.is_file() and p.stat().st_mtime < cutoff]
    return found


def purge_exports(now: dt.datetime, *, dry_run: bool = False) -> int:
    """Personal-data export packages past ``LINGJING_EXPORT_TTL_DAYS`` (files under the listed export dirs)."""
    files = _export_files(now)
    if not dry_run:
        for path in files:
            path.unlink(missing_ok=True)
    return len(files)


def purge_copy_packages(now: dt.datetime, *, dry_run: bool = False) -> int:
    """Copy packages of rights requests past their link's days (``privacy.requests.due.expire_packages``)."""
    try:
        from lingjing.privacy.requests.due import expire_packages
        from lingjing.privacy.requests.models import RightsRequest
    except ImportError:  # the rights-request desk is not part of this deployment
        return 0
    if dry_run:
        return (RightsRequest.objects.filter(package_expires_at__lte=now, package_deleted_at__isnull=True)
                .exclude(package_name="").count())
    return expire_packages(now)


def purge_pending_children(now: dt.datetime, *, dry_run: bool = False) -> int:
    from lingjing.accounts.guardian import purge_expired_pending_children
    from lingjing.accounts.models import GuardianConsent, GuardianStatus

    if dry_run:
        return GuardianConsent.objects.filter(status=GuardianStatus.PENDING, expires_at__lte=now).count()
    return purge_expired_pending_children()


def purge_analytics(now: dt.datetime, *, dry_run: bool = False) -> int:
    from lingjing.consent import analytics
    from lingjing.consent.models import AnalyticsEvent, AnalyticsSecret

    if dry_run:
        today = timezone.localdate(now)
        cutoff = today - dt.timedelta(days=analytics.retention_days())
        return (AnalyticsEvent.objects.filter(day__lt=cutoff).count()
                + AnalyticsSecret.objects.filter(day__lt=today).count())
    result = analytics.purge_expired(now)
    return int(result["events_deleted"]) + int(result["secrets_deleted"])


EXTRA_PURGES: dict[str, Callable[..., int]] = {
    "sessions": purge_sessions,
    "exports": purge_exports,
    "privacy.copy_packages": purge_copy_packages,
    "accounts.pending_children": purge_pending_children,
    "consent.analytics": purge_analytics,
}


def _configured_purges() -> dict[str, Callable[..., Any]]:
    found: dict[str, Callable[..., Any]] = {}
    for dotted in settings.LINGJING_RETENTION_EXTRA_PURGES:
        module, _, name = dotted.rpartition(".")
        found[dotted] = getattr(importlib.import_module(module), name)
    return found


def _run_extra(name: str, func: Callable[..., Any], now: dt.datetime, dry_run: bool) -> int:
    result = func(now, dry_run=dry_run)
    if isinstance(result, dict):
        return sum(int(v) for v in result.values() if isinstance(v, int))
    return int(result or 0)


# --- entry points -------------------------------------------------------------------------------------------


def run(*, dry_run: bool = False, now: dt.datetime | None = None, chunk: int | None = None) -> RetentionReport:
    """Enforce every rule once (see the module docstring); record the run and what it removed.

    1. The other purges first: they belong to apps that know their own files (a copy package's file is removed by
       its request's expiry, not left behind by the generic row purge).
    2. Registry rules by ``created`` clock, then holds and erasures over the deletion list.
    3. A :class:`~lingjing.secops.models.RetentionRun` row with the counts, and one audit entry when anything went.
    """
    from lingjing.secops.models import RetentionRun

    now = now or timezone.now()
    chunk = chunk or settings.LINGJING_RETENTION_CHUNK
    report = RetentionReport(dry_run=dry_run, unenforceable=unenforceable())
    started = timezone.now()
    for name, func in {**EXTRA_PURGES, **_configured_purges()}.items():
        report.add(report.extra, name, _run_extra(name, func, now, dry_run))
    ordered = sorted(rules(), key=lambda r: (r.basis == "erasure", r.decl.erase_order, r.label))
    for rule in ordered:
        _run_rule(rule, now, chunk, report, dry_run)
    with transaction.atomic(durable=True):
        RetentionRun.objects.create(started_at=started, finished_at=timezone.now(), dry_run=dry_run,
                                    removed=report.removed, cleared=report.cleared,
                                    extra={**report.extra, "erasures": report.erasures}, total=report.total)
        if report.total and not dry_run:
            audit.record(AuditEvent.RETENTION_RUN_FINISHED, actor="system",
                         details={"removed": report.removed, "cleared": report.cleared, "extra": report.extra,
                                  "erasures": report.erasures})
    return report


def overdue(now: dt.datetime | None = None) -> dict[str, int]:
    """What is still past its limit: ``{"<model label>" or "<purge>": count}``; empty when nothing is."""
    report = RetentionReport(dry_run=True)
    now = now or timezone.now()
    for rule in rules():
        _run_rule(rule, now, 0, report, True)
    out: dict[str, int] = {}
    for bucket in (report.removed, report.cleared):
        for label, n in bucket.items():
            out[label] = out.get(label, 0) + n
    if report.erasures:
        out["erasures"] = report.erasures
    for name, func in {**EXTRA_PURGES, **_configured_purges()}.items():
        n = _run_extra(name, func, now, True)
        if n:
            out[name] = n
    return out
