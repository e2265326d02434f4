"""Faults: workers killed with SIGKILL in the middle of real work, the database gone, the message providers down.

Kills are placed with fault points (``lingjing/core/faults.py``): the process waits at a named checkpoint, the
test kills it there, starts a new worker (or reruns the command) and checks that the work finished exactly once,
with the right result. The queue gives a dead worker's task back after its heartbeat lease (``core/leases.py``).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lingjing.core.scaleout import DATABASE_BACKEND
from lingjing.core.tests.hardening import world
from lingjing.core.tests.hardening.faults import Shared, finished, shared_stack, task_rows
from lingjing.security.audit import AuditEvent

process = pytest.mark.process


@pytest.fixture
def shared(tmp_path: Path, transactional_db: Any, settings: Any) -> Iterator[Shared]:
    """Tasks enqueued by the test go to the database queue that the worker processes read."""
    settings.TASKS = {"default": {**settings.TASKS["default"], "BACKEND": DATABASE_BACKEND}}
    stack = shared_stack(tmp_path)
    try:
        yield stack
    finally:
        stack.close()


def audit_count(event: AuditEvent, **details: str) -> int:
    from lingjing.security.audit_models import AuditEntry

    rows = AuditEntry.objects.filter(event=event.value)
    return sum(1 for d in rows.values_list("details", flat=True) if all(d.get(k) == v for k, v in details.items()))


# --- 1a. a copy export ------------------------------------------------------------------------------------


@process
def test_worker_killed_while_packing_a_copy_builds_it_once_after_restart(shared: Shared) -> None:
    from lingjing.privacy.actions import Requester, do_create_request, start_fulfilment
    from lingjing.privacy.requests.models import RequestStatus, RightsRequest
    from lingjing.works.actions import do_create_work

    alice = world.member("复制爱丽丝")
    do_create_work(alice, title="爱丽丝的故事", script=world.STORY, acting_user=alice)
    req = do_create_request(alice, "copy", requester=Requester(acting_user=alice, verification="step_up"))
    start_fulfilment(req, acting_user=alice)
    assert task_rows_local("build_copy") == 1
    shared.publish()

    first = shared.worker("privacy", fault="privacy.copy.package")
    second = shared.successor(first, "build_copy", "privacy")
    shared.kill_at(first, "privacy.copy.package")
    exports = Path(shared.data_dir / "exports")
    assert [p.name for p in exports.rglob("*.part")], "the kill left no half-written package"

    shared.wait_for(finished(shared, "build_copy"), second, "the copy after the restart")
    second.stop()
    shared.pull()

    assert task_rows(shared, "build_copy") == [("SUCCESSFUL", 2)]  # one task, run by two workers, once to the end
    req = RightsRequest.objects.get(pk=req.pk)
    assert req.status == RequestStatus.COMPLETED and req.package_name
    package = exports / req.package_name
    body = package.read_bytes()
    assert hashlib.sha256(body).hexdigest() == req.package_sha256 and len(body) == req.package_size
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.testzip() is None
        data = json.loads(archive.read("lingjing-copy/data.json"))
        names = archive.namelist()
    values = {str(r["value"]) for r in data["records"]}
    assert {"复制爱丽丝", "爱丽丝的故事", alice.phone} <= values
    assert "lingjing-copy/index.html" in names and "lingjing-copy/README.txt" in names
    leftovers = [p.name for p in exports.rglob("*") if p.name.endswith(".part") or p.name.startswith(".build-")]
    assert not leftovers  # no half package, no scratch rows in plain text
    assert audit_count(AuditEvent.RIGHTS_COPY_BUILT) == 1


def task_rows_local(name: str) -> int:
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(task_path__endswith=f".{name}").count()


# --- 1b. an erasure saga ----------------------------------------------------------------------------------


@process
def test_worker_killed_inside_an_erasure_saga_finishes_it_once_after_restart(shared: Shared, settings: Any) -> None:
    from lingjing.accounts.models import User, UserStatus
    from lingjing.privacy.actions import Requester, submit_request
    from lingjing.privacy.requests.models import ErasureSaga, RequestStatus, RightsRequest, SagaStatus
    from lingjing.privacy.requests.saga import STEP_NAMES
    from lingjing.security.models import DataKey
    from lingjing.works.actions import do_create_work
    from lingjing.works.models import Work

    settings.LINGJING_DELETION_GRACE_DAYS = 0
    bob = world.member("注销鲍勃")
    works = [do_create_work(bob, title=f"鲍勃的作品{n}", script=world.STORY, acting_user=bob).pk for n in range(2)]
    req = submit_request(bob, "cancel_account", requester=Requester(verification="step_up", acting_user=bob),
                         params={"works": "remove"})
    assert task_rows_local("run_saga") == 1
    shared.publish()

    # Killed after step 3 ("works": both works deleted) did its work, before the saga recorded it.
    assert STEP_NAMES[2] == "works"
    first = shared.worker("privacy", fault="privacy.saga.step@3", LINGJING_DELETION_GRACE_DAYS="0")
    second = shared.successor(first, "run_saga", "privacy", LINGJING_DELETION_GRACE_DAYS="0")
    shared.kill_at(first, "privacy.saga.step")
    assert shared.query("SELECT step FROM privacy_erasuresaga") == [("search_index",)]

    shared.wait_for(finished(shared, "run_saga"), second, "the saga after the restart")
    second.stop()
    shared.pull()

    assert task_rows(shared, "run_saga") == [("SUCCESSFUL", 2)]
    saga = ErasureSaga.objects.get(request_id=req.pk)
    assert saga.status == SagaStatus.FINISHED and saga.attempts == 2 and saga.step == STEP_NAMES[-1]
    assert RightsRequest.objects.get(pk=req.pk).status == RequestStatus.COMPLETED
    gone = User.objects.get(pk=bob.pk)
    assert gone.status == UserStatus.ERASED and gone.nickname != "注销鲍勃"
    assert not DataKey.objects.filter(subject=gone.subject).exists()
    assert not Work.objects.filter(pk__in=works).exists()
    # Each step recorded once, whatever ran twice ("search_index" and "request_records" also audit their work).
    steps = Counter(d.get("step") for d in audit_details(AuditEvent.RIGHTS_SAGA_STEP, f"u:{bob.pk}"))
    expected = {name: 1 for name in STEP_NAMES[:-1]} | {"started": 1, "search_index": 2,
                                                                "request_records": 2}
    assert steps == expected
    assert len(audit_details(AuditEvent.RIGHTS_SAGA_FINISHED, f"u:{bob.pk}")) == 1
    assert audit_count(AuditEvent.WORK_DELETED) == len(works)  # the rerun of "works" found nothing left


def audit_details(event: AuditEvent, subject: str) -> list[dict[str, Any]]:
    from lingjing.security.audit_models import AuditEntry

    return list(AuditEntry.objects.filter(event=event.value, subject=subject).values_list("details", flat=True))


# --- 1c. a studio render ----------------------------------------------------------------------------------


@process
def test_worker_killed_during_a_render_makes_each_output_once_after_restart(shared: Shared) -> None:
    from django.core.files.storage import default_storage

    from lingjing.studio.actions import do_start_job
    from lingjing.studio.models import GeneratedAsset, JobStatus, Shot, StudioJob
    from lingjing.works.actions import do_create_work

    carol = world.member("渲染卡罗尔")
    work = do_create_work(carol, title="茶馆", script=world.STORY, acting_user=carol)
    job, created = do_start_job(work, "render", acting_user=carol)
    assert created and task_rows_local("run_studio_job") == 1
    shared.publish()

    # The plan: import, storyboard, images, pages, voice, subtitles, video. Killed once the images are recorded.
    first = shared.worker("studio", fault="studio.step@3")
    second = shared.successor(first, "run_studio_job", "studio")
    shared.kill_at(first, "studio.step")
    recorded = {str(kind) for (kind,) in shared.query("SELECT DISTINCT kind FROM studio_generatedasset")}
    assert recorded == {"image"}  # the images are recorded, nothing after them

    shared.wait_for(finished(shared, "run_studio_job"), second, "the render after the restart", timeout=90)
    second.stop()
    shared.pull()

    assert task_rows(shared, "run_studio_job") == [("SUCCESSFUL", 2)]
    job = StudioJob.objects.get(pk=job.pk)
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2, job.message
    assets = list(GeneratedAsset.objects.filter(work=work))
    kinds = Counter(a.kind for a in assets)
    shots = Shot.objects.filter(work=work).count()
    assert shots > 0 and kinds["image"] == shots and kinds["audio"] == shots
    assert kinds["video"] == 1 and kinds["srt"] == 1 and kinds["pdf"] == 1
    assert all(a.version == 1 for a in assets), sorted((a.slot, a.version) for a in assets)
    assert all(default_storage.exists(a.file) for a in assets)
    video = next(a for a in assets if a.kind == "video")
    assert default_storage.open(video.file).read(12)[4:8] == b"ftyp"  # an MP4
    assert audit_count(AuditEvent.STUDIO_OUTPUTS_ADDED) == 5  # images, pages, voice, subtitles, video: once each


# --- 1d. a key rotation -----------------------------------------------------------------------------------


@process
def test_key_rotation_killed_between_people_and_rerun_leaves_only_new_keys(shared: Shared, settings: Any) -> None:
    import base64
    import os

    from lingjing.core.keyfiles import master_key_id
    from lingjing.core.tests.procs import run_lingjing
    from lingjing.security import crypto
    from lingjing.security.models import DataKey, KeyRotation

    people = [world.member(f"轮换{n}") for n in range(4)]
    before = sealed_values()
    subjects = DataKey.objects.values("subject").distinct().count()
    assert subjects >= len(people) and len(before) >= 2 * len(people)
    old_id = settings.LINGJING_CURRENT_MASTER_KEY_ID
    old_key = settings.LINGJING_MASTER_KEYS[old_id]
    new_key = os.urandom(32)
    new_id = master_key_id(new_key)
    shared.publish()

    rotate = {"LINGJING_MASTER_KEY": base64.b64encode(new_key).decode()}
    first = shared.start("keys", "rotate", fault="security.keys.subject@2", **rotate)
    shared.kill_at(first, "security.keys.subject")
    assert shared.query("SELECT subjects_rotated, finished_at FROM security_keyrotation") == [(2, None)]

    rerun = run_lingjing({**shared.env, **rotate}, "keys", "rotate")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    shared.pull()

    (rotation,) = KeyRotation.objects.all()
    assert rotation.finished_at is not None and rotation.subjects_rotated == subjects
    assert set(DataKey.objects.values_list("master_key_id", flat=True)) == {new_id}
    assert not DataKey.objects.filter(created_at__lte=rotation.cutoff).exists()
    assert audit_count(AuditEvent.KEYS_ROTATED) == 1  # the killed run recorded nothing
    settings.LINGJING_MASTER_KEYS = {new_id: new_key}
    settings.LINGJING_CURRENT_MASTER_KEY_ID = new_id
    crypto.clear_key_cache()
    assert sealed_values() == before  # every sealed value opens under the new master key, unchanged
    settings.LINGJING_MASTER_KEYS = {old_id: old_key}
    settings.LINGJING_CURRENT_MASTER_KEY_ID = old_id
    crypto.clear_key_cache()
    for ref in before:
        with pytest.raises(crypto.CryptoError):
            sealed_value(ref)


def sealed_refs() -> list[tuple[Any, Any, Any]]:
    from lingjing.security import crypto

    return [
        (model, field, pk)
        for model in crypto.models_with_sealed_fields()
        for field in crypto.sealed_fields(model)
        for pk in model._base_manager.exclude(**{field.attname: None}).values_list("pk", flat=True)
    ]


def sealed_value(ref: tuple[Any, Any, Any]) -> str | None:
    from lingjing.security import crypto

    model, field, pk = ref
    envelope = model._base_manager.filter(pk=pk).values_list(field.attname, flat=True).get()
    if not envelope:
        return None
    return crypto.open_sealed(str(envelope), crypto.associated_data(model._meta.db_table, str(field.column), pk))


def sealed_values() -> dict[tuple[Any, Any, Any], str | None]:
    return {ref: sealed_value(ref) for ref in sealed_refs() if sealed_value(ref)}
