"""The erasure saga: what happens to an account when its cancellation's undo window ends (policy 五(五)).

Design (read before changing; this module destroys data)
---------------------------------------------------------
What is done, in order (:data:`STEPS`), for the person U of a cancellation request R:

1. ``revoke_access`` — every browser session and API token of U ends (the kept undo session included).
2. ``search_index`` — U's works leave the search index (``search.index.remove_user_from_index``, when the search
   app is installed: :data:`SEARCH_HOOKS`; U's search history is registry data, erased in step 7).
3. ``works`` — U's choice at cancellation: ``remove`` deletes each of U's works with everything hanging off it
   (``works.actions.do_delete_work``: studio rows and every file under the work's storage prefix); ``anonymise``
   leaves them to step 7, which turns each into an anonymous tombstone (content shredded, author link cut).
4. ``media`` — files of U that no registry ``export="file"`` field names (so step 7 would not remove them): the
   storage trees of U's works and any other stored file named by one of U's declared fields (the avatar's
   thumbnail).
5. ``caches`` — unwrapped keys cached in this process are dropped (other processes drop theirs within 30 s).
6. ``propagate`` — one deletion notice per recipient in U's sharing log (``propagation.plan``), first attempt now;
   retries continue from ``run_due`` whatever happens to the saga.
7. ``erase`` — the registry-driven erasure engine (``engines.erasure.erase_person``): every declared row of U
   deleted or anonymised, U's files removed, U's keys shredded last, U added to the deletion list. Records under a
   legal duty (security logs, consent proof, sharing log, decisions, rights requests) stay pseudonymised with
   their sealed details unreadable, for their stated period, then retention purges them.
8. ``request_records`` — U's rights-request rows keep no phone lookup key and no package.
9. ``finish`` — R is completed, the saga marked finished.

Transaction boundaries and recovery. Each step's work is idempotent ("what is still there"), and after a step the
saga row records it in one durable transaction with a ``RIGHTS_SAGA_STEP`` audit row. A worker killed anywhere
leaves the saga at its last recorded step; :func:`run_saga` resumes there (the interrupted step runs again and
finds less, or nothing, to do) and reaches the same end state. A failing step marks the saga ``failed`` with the
exception class (never its message) and is retried by the next ``run_due``. A lease (``claimed_until``) keeps two
workers from running one saga at the same time; the same task run again after its worker died takes its lease
over at once (``core.leases``). Erased data cannot be recovered: that is the point.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import uuid
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.utils import timezone

from lingjing.core.faults import checkpoint
from lingjing.privacy.requests.models import (
    ErasureSaga,
    RequestStatus,
    RequestType,
    RightsRequest,
    SagaStatus,
    WorksChoice,
)
from lingjing.security.audit import AuditEvent, record

log = logging.getLogger("lingjing.privacy.saga")

LEASE = dt.timedelta(minutes=15)
# The search app's removal of a person's entries (called inside our transaction with the user id); the first
# that exists is used, so the saga runs where search is not installed too.
SEARCH_HOOKS: tuple[tuple[str, str], ...] = (
    ("lingjing.search.index", "remove_user_from_index"),
)


class Stop(Exception):
    """Tests and cautious workers: stop after a number of steps, as a kill would."""


def _works_of(user_id: uuid.UUID) -> list[Any]:
    from lingjing.works.models import Work

    return list(Work.objects.filter(author_id=user_id).order_by("pk"))


def step_revoke_access(saga: ErasureSaga) -> dict[str, Any]:
    from lingjing.privacy.actions import do_revoke_all_access

    return do_revoke_all_access(saga.user_id, request_id=saga.request_id)


def step_works(saga: ErasureSaga) -> dict[str, Any]:
    if saga.works_choice != WorksChoice.REMOVE:
        return {"works": "anonymised by the erasure"}
    from lingjing.works.actions import do_delete_work

    removed = 0
    for work in _works_of(saga.user_id):
        do_delete_work(work, acting_user=None)
        removed += 1
    return {"works_removed": removed}


def _stored_names(user_id: uuid.UUID) -> set[str]:
    """Storage names held in the person's declared text fields (those not removed by the engine's file step)."""
    from django.core.files.storage import default_storage

    from lingjing.privacy.registry import declarations

    names: set[str] = set()
    for decl in declarations():
        if not (decl.subject or decl.subject_ref):
            continue
        for name, pd in decl.fields.items():
            f = decl.model._meta.get_field(name)
            if pd.export == "value" or not isinstance(f, models.CharField | models.FileField):
                continue
            values = decl.model._base_manager.filter(**decl.subject_filter(user_id)).values_list(f.attname, flat=True)
            for value in values.iterator(chunk_size=500):
                text = str(value or "")
                if "/" in text and not text.startswith(("/", "http")) and default_storage.exists(text):
                    names.add(text)
    return names


def step_media(saga: ErasureSaga) -> dict[str, Any]:
    from django.core.files.storage import default_storage

    from lingjing.works.files import delete_storage_tree, work_media_prefix

    files = 0
    for work in _works_of(saga.user_id):
        files += delete_storage_tree(work_media_prefix(work.pk))
    for name in _stored_names(saga.user_id):
        default_storage.delete(name)
        files += 1
    return {"files_removed": files}


def search_hook() -> Callable[..., Any] | None:
    for module_name, attribute in SEARCH_HOOKS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        hook = getattr(module, attribute, None)
        if callable(hook):
            return hook  # type: ignore[no-any-return]
    return None


def step_search_index(saga: ErasureSaga) -> dict[str, Any]:
    """The search app's removal runs inside a transaction of ours, with our audit row."""
    hook = search_hook()
    if hook is None:
        return {"search_index": "not installed"}
    with transaction.atomic(durable=True):
        removed = hook(saga.user_id)
        record(AuditEvent.RIGHTS_SAGA_STEP, actor="system", subject=f"u:{saga.user_id}",
               details={"request": str(saga.request_id), "step": "search_index", "removed": removed})
    return {"search_entries_removed": removed if isinstance(removed, int) else 0}


def step_caches(saga: ErasureSaga) -> dict[str, Any]:
    from lingjing.security.crypto import clear_key_cache

    clear_key_cache()
    return {"key_cache": "cleared"}


def step_propagate(saga: ErasureSaga) -> dict[str, Any]:
    from lingjing.privacy.requests import propagation

    recipients = propagation.plan(saga.user_id, saga.request_id)
    outcome = propagation.deliver_due(request_id=saga.request_id)
    return {"recipients": recipients, "first_attempt": outcome}


def step_erase(saga: ErasureSaga) -> dict[str, Any]:
    from lingjing.privacy.engines.erasure import erase_person

    report = erase_person(saga.user_id, reason="account cancellation")
    if not report.finished:
        raise RuntimeError("erasure did not finish")
    return {"erasure_run": report.run_id, "rows_deleted": sum(report.deleted.values()),
            "rows_anonymised": sum(report.anonymised.values()), "rows_kept": sum(report.kept.values()),
            "files": report.files_removed, "keys_shredded": report.keys_shredded}


def step_request_records(saga: ErasureSaga) -> dict[str, Any]:
    from lingjing.privacy.actions import do_clear_requester_traces

    return {"rows": do_clear_requester_traces(saga.user_id, request_id=saga.request_id)}


def step_finish(saga: ErasureSaga) -> dict[str, Any]:
    from lingjing.privacy.actions import do_complete_request

    req = RightsRequest.objects.filter(pk=saga.request_id).first()
    if req is not None and req.status != RequestStatus.COMPLETED:
        do_complete_request(req, result={"erasure": saga.log}, actor="system", code="account_erased")
    return {"request": "completed"}


STEPS: tuple[tuple[str, Callable[[ErasureSaga], dict[str, Any]]], ...] = (
    ("revoke_access", step_revoke_access),
    ("search_index", step_search_index),
    ("works", step_works),
    ("media", step_media),
    ("caches", step_caches),
    ("propagate", step_propagate),
    ("erase", step_erase),
    ("request_records", step_request_records),
    ("finish", step_finish),
)
STEP_NAMES = tuple(name for name, _ in STEPS)


def open_saga(req: RightsRequest) -> ErasureSaga:
    """The request's saga, created on first call (audited)."""
    existing = ErasureSaga.objects.filter(request_id=req.pk).first()
    if existing is not None:
        return existing
    assert req.user_id is not None
    try:
        with transaction.atomic(durable=True):
            saga = ErasureSaga.objects.create(request_id=req.pk, user_id=req.user_id,
                                              works_choice=req.params.get("works", WorksChoice.ANONYMISE))
            record(AuditEvent.RIGHTS_SAGA_STEP, actor="system", subject=f"u:{req.user_id}", obj=saga,
                   details={"request": str(req.pk), "step": "started", "works": saga.works_choice})
    except IntegrityError:
        return ErasureSaga.objects.get(request_id=req.pk)
    return saga


def _claim(saga: ErasureSaga, now: dt.datetime) -> bool:
    """The lease, when free, expired, or held by an earlier run of this same task whose worker died."""
    from lingjing.core.leases import holds_claim, note_claim

    key = f"saga:{saga.pk}"
    with transaction.atomic():
        free = Q() if holds_claim(key) else Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
        claimed = (ErasureSaga.objects.filter(free, pk=saga.pk).exclude(status=SagaStatus.FINISHED)
                   .update(claimed_until=now + LEASE, attempts=models.F("attempts") + 1))
        if claimed:
            note_claim(key)
    return bool(claimed)


def _advance(saga: ErasureSaga, name: str, result: dict[str, Any]) -> None:
    with transaction.atomic(durable=True):
        locked = ErasureSaga.objects.select_for_update().get(pk=saga.pk)
        locked.log = {**locked.log, name: result}
        locked.step = name
        locked.status = SagaStatus.FINISHED if name == STEP_NAMES[-1] else SagaStatus.RUNNING
        locked.error = ""
        locked.updated_at = timezone.now()
        fields = ["log", "step", "status", "error", "updated_at"]
        if locked.status == SagaStatus.FINISHED:
            locked.finished_at = locked.updated_at
            locked.claimed_until = None
            fields += ["finished_at", "claimed_until"]
        locked.save(update_fields=fields)
        record(AuditEvent.RIGHTS_SAGA_FINISHED if name == STEP_NAMES[-1] else AuditEvent.RIGHTS_SAGA_STEP,
               actor="system", subject=f"u:{saga.user_id}", obj=locked,
               details={"request": str(saga.request_id), "step": name,
                        "result": {k: v for k, v in result.items() if isinstance(v, int | str | bool)}})
        saga.log, saga.step, saga.status = locked.log, locked.step, locked.status


def run_saga(request_id: str | uuid.UUID, *, stop_after: int | None = None) -> str:
    """Run (or resume) the erasure saga of one cancellation request. Answers the saga's status."""
    req = RightsRequest.objects.filter(pk=request_id, type=RequestType.CANCEL_ACCOUNT).first()
    if req is None or req.user_id is None:
        return "missing"
    started = ErasureSaga.objects.filter(request_id=req.pk).exists()
    if not started and (req.status != RequestStatus.IN_PROGRESS
                        or (req.grace_until is not None and req.grace_until > timezone.now())):
        return "not_due"  # withdrawn or refused before it started, or still inside the undo window
    saga = open_saga(req)
    if saga.status == SagaStatus.FINISHED:
        return SagaStatus.FINISHED
    now = timezone.now()
    if not _claim(saga, now):
        return "claimed"
    saga.refresh_from_db()
    start = STEP_NAMES.index(saga.step) + 1 if saga.step in STEP_NAMES else 0
    done = 0
    current = ""
    try:
        for name, step in STEPS[start:]:
            if stop_after is not None and done >= stop_after:
                raise Stop
            current = name
            result = step(saga)
            checkpoint("privacy.saga.step")  # fault tests: killed after a step's work, before it is recorded
            _advance(saga, name, result)
            done += 1
    except Stop:
        ErasureSaga.objects.filter(pk=saga.pk).update(claimed_until=None)
        return saga.status
    except Exception as exc:
        ErasureSaga.objects.filter(pk=saga.pk).update(status=SagaStatus.FAILED, claimed_until=None,
                                                      error=f"{type(exc).__name__} at {current}"[:200])
        log.exception("erasure saga of request %s failed at %s", req.pk, current)
        raise
    return saga.status


def due_requests(now: dt.datetime | None = None) -> list[str]:
    """Cancellation requests whose undo window has ended, and sagas left unfinished."""
    at = now or timezone.now()
    ids = set(
        RightsRequest.objects.filter(type=RequestType.CANCEL_ACCOUNT, status=RequestStatus.IN_PROGRESS,
                                     grace_until__lte=at).values_list("pk", flat=True)[:500]
    )
    ids |= set(ErasureSaga.objects.exclude(status=SagaStatus.FINISHED)
               .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=at))
               .values_list("request_id", flat=True)[:500])
    return sorted(str(i) for i in ids)


def run_due_cancellations(now: dt.datetime | None = None) -> int:
    """Run every due saga (``lingjing privacy run-due``, the ``run_due`` task). Answers how many finished."""
    finished = 0
    for request_id in due_requests(now):
        try:
            if run_saga(request_id) == SagaStatus.FINISHED:
                finished += 1
        except Exception:  # noqa: BLE001 - recorded on the saga; the next run retries, the others go on
            log.warning("saga of request %s failed; retried at the next run", request_id)
    return finished
