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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.test import Client

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

SHORT_STORY = "第一章 夜雨\n\n李明走进了杭州的一家茶馆。\n「你终于来了。」王芳说。\n"  # two shots: a fast render


@process
def test_worker_killed_during_a_render_makes_each_output_once_after_restart(shared: Shared) -> None:
    from django.core.files.storage import default_storage

    from lingjing.studio.actions import do_start_job
    from lingjing.studio.models import GeneratedAsset, JobStatus, Shot, StudioJob
    from lingjing.works.actions import do_create_work

    carol = world.member("渲染卡罗尔")
    work = do_create_work(carol, title="茶馆", script=SHORT_STORY, acting_user=carol)
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


# --- 2. the database unavailable --------------------------------------------------------------------------


def failing(match: Callable[[str], bool]) -> Callable[..., Any]:
    """A connection wrapper that fails the statements ``match`` picks as a lost database would."""

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        if match(sql):
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    return wrapper


def audit_insert(sql: str) -> bool:
    from lingjing.security.audit_models import AuditEntry

    return sql.lstrip().upper().startswith("INSERT") and AuditEntry._meta.db_table in sql


def assert_503_page(response: Any) -> None:
    assert response.status_code == 503 and response["Retry-After"] == "30"
    html = response.content.decode()
    assert "服务暂时不可用" in html and "没有保存" in html and "Traceback" not in html


def assert_503_json(response: Any) -> None:
    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert response.json() == {"error": {"code": "unavailable", "message": "服务暂不可用，请稍后再试"}}


@pytest.mark.django_db
def test_database_lost_in_the_middle_of_a_page_action_answers_503_and_writes_nothing() -> None:
    from lingjing.security.audit_models import AuditEntry
    from lingjing.works.models import Work

    dora = world.member("断库多拉")
    client = world.browser(dora)
    client.raise_request_exception = False
    audits = AuditEntry.objects.count()
    # The work row is inserted, then the database goes away at the audit row of the same action.
    with connection.execute_wrapper(failing(audit_insert)):
        response = client.post("/studio/", {"title": "半截作品", "text": world.STORY})
    assert_503_page(response)
    assert not Work.objects.filter(author=dora).exists()
    assert AuditEntry.objects.count() == audits
    ok = client.post("/studio/", {"title": "完整作品", "text": world.STORY})  # back again: the same form works
    assert ok.status_code == 302 and Work.objects.filter(author=dora, title="完整作品").exists()


@pytest.mark.django_db
def test_database_lost_in_the_middle_of_an_api_action_answers_503_json_and_writes_nothing() -> None:
    from lingjing.security.audit_models import AuditEntry
    from lingjing.works.models import Work

    erin = world.member("断库艾琳")
    auth = {"Authorization": f"Bearer {world.token_for(erin)}"}
    client = Client(raise_request_exception=False)
    audits = AuditEntry.objects.count()
    with connection.execute_wrapper(failing(audit_insert)):
        response = client.post("/api/v1/works", {"title": "半截作品", "script": world.STORY},
                               content_type="application/json", headers=auth)
    assert_503_json(response)
    assert not Work.objects.filter(author=erin).exists() and AuditEntry.objects.count() == audits
    ok = client.post("/api/v1/works", {"title": "完整作品", "script": world.STORY}, content_type="application/json",
                     headers=auth)
    assert ok.status_code == 201, ok.content


@pytest.mark.django_db
def test_database_down_for_every_statement_answers_503_to_pages_and_api() -> None:
    fay = world.member("断库菲")
    client = world.browser(fay)
    client.raise_request_exception = False
    with connection.execute_wrapper(failing(lambda sql: True)):
        page = client.get("/studio/")
        api = client.get("/api/v1/works", HTTP_ACCEPT_LANGUAGE="zh-hans")
        anonymous = Client(raise_request_exception=False).get("/")
    assert_503_page(page)
    assert_503_page(anonymous)
    assert_503_json(api)
    english = Client(raise_request_exception=False)
    english.cookies["lj_lang"] = "en"
    with connection.execute_wrapper(failing(lambda sql: True)):
        page = english.get("/")
    assert page.status_code == 503 and "what you just did was not saved" in page.content.decode()


@pytest.mark.django_db(transaction=True)
def test_database_unreachable_answers_503_to_pages_and_api(tmp_path: Path) -> None:
    """A real refused connection: SQLite at a path that cannot be opened, PostgreSQL at a port nobody listens on
    (in a thread of its own, whose connection is the only one pointed there)."""
    import threading

    from django.db import connections

    from lingjing.core.tests.procs import free_port

    answers: dict[str, Any] = {}

    def unreachable() -> None:
        conn = connections["default"]
        broken = dict(conn.settings_dict)
        if conn.vendor == "sqlite":
            broken["NAME"] = str(tmp_path / "missing" / "lingjing.sqlite3")
        else:
            broken["PORT"] = str(free_port())
            broken["OPTIONS"] = {k: v for k, v in broken.get("OPTIONS", {}).items() if k != "pool"}
        conn.settings_dict = broken
        client = Client(raise_request_exception=False)
        try:
            answers["page"] = client.get("/")
            answers["api"] = client.get("/api/v1/works")
        finally:
            conn.close()

    thread = threading.Thread(target=unreachable)
    thread.start()
    thread.join(timeout=60)
    assert_503_page(answers["page"])
    assert_503_json(answers["api"])


# --- 3. the SMS provider down -----------------------------------------------------------------------------
# Already covered elsewhere: an e-mail retried with back-off until it goes (notify/tests/test_notify.py), an e-mail
# failing for good after the last attempt, a provider refusal reported without console output (accounts tests).


INCIDENT = {"what": "日志服务器被未经授权访问。", "impact": "昵称可能被获取。", "measures": "已更换密钥。",
            "advice": "不要透露验证码。", "remedies": "可通过客服申请协助。"}


@pytest.fixture
def sms_provider(settings: Any) -> Iterator[dict[str, str]]:
    """An Aliyun-compatible SMS endpoint on 127.0.0.1 (``up``) and a port where nothing listens (``down``)."""
    import threading
    from http.server import ThreadingHTTPServer

    from lingjing.accounts.tests.test_sms_backends import FakeProvider
    from lingjing.core.tests.procs import free_port

    FakeProvider.requests = []
    FakeProvider.reply = {"Code": "OK", "Message": "OK", "BizId": "1", "RequestId": "r"}
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeProvider)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.LINGJING_SMS_BACKEND = "aliyun"
    settings.LINGJING_SMS_ACCESS_KEY_ID = "LTAI-test-id"
    settings.LINGJING_SMS_ACCESS_KEY_SECRET = "test-secret"  # noqa: S105
    settings.LINGJING_SMS_TEMPLATE = "SMS_CODE_1"
    settings.LINGJING_SMS_NOTICE_TEMPLATE = "SMS_NOTICE_9"
    settings.LINGJING_SMS_ENDPOINT = f"http://127.0.0.1:{free_port()}"  # down until the test says otherwise
    try:
        yield {"up": f"http://127.0.0.1:{server.server_address[1]}", "down": settings.LINGJING_SMS_ENDPOINT}
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.django_db
def test_sms_provider_down_for_the_whole_retry_budget_fails_visibly_and_later_messages_go_out(
    settings: Any, sms_provider: dict[str, str], django_capture_on_commit_callbacks: Any
) -> None:
    import datetime as dt

    import time_machine
    from django.utils import timezone

    from lingjing.accounts.tests.test_sms_backends import FakeProvider
    from lingjing.notify.delivery import backoff, retry_due
    from lingjing.notify.models import Delivery, DeliveryStatus
    from lingjing.notify.service import notify

    settings.LINGJING_NOTIFY_MAX_ATTEMPTS = 3
    gus = world.member("短信古斯")
    start = timezone.now()
    with time_machine.travel(start, tick=False), django_capture_on_commit_callbacks(execute=True):
        notify(gus, "security", "security.incident", INCIDENT, channels=["sms"])
    row = Delivery.objects.get(subject_ref=f"u:{gus.pk}", channel="sms")
    assert row.status == DeliveryStatus.RETRYING and row.attempts == 1 and row.last_error
    assert row.next_retry_at == start + backoff(1)
    waited = backoff(1)
    with time_machine.travel(start + waited - dt.timedelta(seconds=1), tick=False):
        assert retry_due() == {}  # not before its time
    with time_machine.travel(start + waited + dt.timedelta(seconds=1), tick=False):
        assert retry_due() == {"retrying": 1}
    row.refresh_from_db()
    assert row.attempts == 2 and row.next_retry_at is not None
    assert row.next_retry_at - (start + waited) > backoff(2) - dt.timedelta(seconds=5)  # four times longer
    with time_machine.travel(row.next_retry_at + dt.timedelta(seconds=1), tick=False):
        assert retry_due() == {"failed": 1}
    row.refresh_from_db()
    assert row.status == DeliveryStatus.FAILED and row.attempts == 3 and row.next_retry_at is None
    assert FakeProvider.requests == []
    assert audit_count(AuditEvent.NOTIFY_DELIVERY_FAILED) == 1
    assert audit_count(AuditEvent.NOTIFY_RETRY_SCHEDULED) == 2

    # Staff see it among the failed deliveries in the console.
    officer = world.browser(world.staff("短信安全官", "security_officer"))
    listing = officer.get("/console/notify/delivery/", {"status__exact": "failed"})
    assert listing.status_code == 200
    assert f"/console/notify/delivery/{row.pk}/change/" in listing.content.decode()

    # The provider is back: the next message goes out at once; the failed one is not sent behind anyone's back.
    settings.LINGJING_SMS_ENDPOINT = sms_provider["up"]
    with django_capture_on_commit_callbacks(execute=True):
        notify(gus, "security", "security.incident", INCIDENT, channels=["sms"])
    later = Delivery.objects.filter(subject_ref=f"u:{gus.pk}", channel="sms").exclude(pk=row.pk).get()
    assert later.status == DeliveryStatus.SENT and later.attempts == 1 and len(FakeProvider.requests) == 1
    assert retry_due() == {}
    row.refresh_from_db()
    assert row.status == DeliveryStatus.FAILED


@pytest.mark.django_db
def test_a_code_the_provider_could_not_send_is_reported_in_chinese_and_spends_no_cooldown(
    settings: Any, sms_provider: dict[str, str]
) -> None:
    from lingjing.accounts.tests.test_sms_backends import FakeProvider

    phone = world.phone()
    api = Client()
    body = {"phone": phone, "purpose": "register"}
    down = api.post("/api/v1/auth/sms-code", body, content_type="application/json")
    assert down.status_code == 503 and down["Retry-After"]
    assert down.json() == {"error": {"code": "sms_unavailable", "message": "短信服务暂时不可用，请稍后再试"}}

    page = Client()
    sent = page.post("/accounts/login/", {"tab": "code", "action": "send_code", "phone": phone}, follow=True)
    assert "短信服务暂时不可用，请稍后再试" in sent.content.decode()
    assert FakeProvider.requests == []

    settings.LINGJING_SMS_ENDPOINT = sms_provider["up"]
    again = api.post("/api/v1/auth/sms-code", body, content_type="application/json")
    assert again.status_code == 202, again.content  # at once: the failed sends started no 60-second wait
    assert len(FakeProvider.requests) == 1
    third = api.post("/api/v1/auth/sms-code", body, content_type="application/json")
    assert third.status_code == 429  # the code that did go out starts the wait as usual


# --- the reaper, in process -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_reaper_gives_back_only_dead_workers_tasks_and_fails_one_that_keeps_killing_them(settings: Any) -> None:
    import datetime as dt

    from django.tasks import TaskResultStatus
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from lingjing.core.leases import MAX_ATTEMPTS, beat, reclaim_dead_tasks
    from lingjing.core.tasks import ping

    settings.TASKS = {"default": {**settings.TASKS["default"], "BACKEND": DATABASE_BACKEND}}
    lease = dt.timedelta(seconds=60)
    now = timezone.now()
    long_ago = now - dt.timedelta(minutes=5)
    beat("alive", now=now - dt.timedelta(seconds=10))
    beat("dead", now=now - dt.timedelta(minutes=3))
    cases = {
        "alive": (["alive"], long_ago),  # its worker beats: left alone however long it runs
        "dead": (["dead"], long_ago),  # its worker stopped beating: given back
        "unknown": (["gone"], long_ago),  # a worker without a heartbeat row, started a lease ago: given back
        "fresh": (["gone"], now - dt.timedelta(seconds=5)),  # started within the lease: not yet
        "cursed": (["dead"] * MAX_ATTEMPTS, long_ago),  # killed its worker every time: failed, not retried
    }
    ids = {}
    for name, (workers, started) in cases.items():
        ids[name] = str(ping.enqueue(name).id)
        DBTaskResult.objects.filter(pk=ids[name]).update(status=TaskResultStatus.RUNNING, worker_ids=workers,
                                                          started_at=started)
    given_back = reclaim_dead_tasks(lease, now=now)
    assert sorted(given_back) == sorted([ids["dead"], ids["unknown"]])
    status = {str(pk): value for pk, value in DBTaskResult.objects.values_list("pk", "status")}
    assert {name: status[ids[name]] for name in cases} == {
        "alive": "RUNNING", "dead": "READY", "unknown": "READY", "fresh": "RUNNING", "cursed": "FAILED"}
    assert DBTaskResult.objects.get(pk=ids["cursed"]).exception_class_path == "lingjing.core.leases.WorkerLost"
    assert reclaim_dead_tasks(lease, now=now) == []  # a second reaper (another worker) finds nothing more


@pytest.mark.django_db
def test_a_claim_is_taken_over_only_by_a_rerun_of_the_same_task() -> None:
    from lingjing.core import leases

    key = "rights:example:packing"
    token = leases._current.set(("task-1",))
    try:
        leases.note_claim(key)
        assert leases.holds_claim(key)
    finally:
        leases._current.reset(token)
    assert not leases.holds_claim(key)  # outside any task
    token = leases._current.set(("task-2",))
    try:
        assert not leases.holds_claim(key)  # another task: waits for the claim to go stale
    finally:
        leases._current.reset(token)


@pytest.mark.django_db(transaction=True)
def test_a_failing_database_cache_inside_a_write_does_not_silently_undo_it(settings: Any) -> None:
    """The public API cache retires its answers from inside a work's write. With the database cache, a cache query
    that fails there (its table gone) must not take the write down with it: on PostgreSQL the aborted transaction
    would commit as a silent rollback (the deletion reported done, the work still there)."""
    from lingjing.works.actions import do_create_work, do_delete_work
    from lingjing.works.models import Work

    hana = world.member("缓存哈娜")
    work = do_create_work(hana, title="要删除的作品", script=world.STORY, acting_user=hana)
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache",
                                   "LOCATION": "lingjing_cache_that_is_not_there"}}
    do_delete_work(work, acting_user=hana)
    assert not Work.objects.filter(pk=work.pk).exists()
    assert audit_count(AuditEvent.WORK_DELETED) == 1
