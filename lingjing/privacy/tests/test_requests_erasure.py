"""Account cancellation (policy 五(五); PIPL art. 47): the undo window, then the erasure saga — nothing readable
left in the database, the media store or the search index; a backup copy no longer decrypts; recipients told;
killed at any step and rerun, the same end."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone

from lingjing.accounts.models import User, UserStatus
from lingjing.privacy.actions import Requester, do_withdraw_request, submit_request
from lingjing.privacy.registry import RowErase, declarations
from lingjing.privacy.requests import saga
from lingjing.privacy.requests.due import run_due
from lingjing.privacy.requests.models import ErasureSaga, Propagation, RequestStatus, RightsRequest, SagaStatus
from lingjing.privacy.tests.conftest import dump_database_text
from lingjing.privacy.tests.rights import make_user, populate_everything
from lingjing.security.crypto import SealedField, associated_data, open_sealed, sealed_fields

pytestmark = pytest.mark.django_db


def _cancel(user: User, works: str = "anonymise") -> RightsRequest:
    req = submit_request(user, "cancel_account", requester=Requester(verification="step_up", acting_user=user),
                         params={"works": works})
    return RightsRequest.objects.get(pk=req.pk)


def _person(tag: str, phone: str) -> dict[str, Any]:
    """A person with a published work (cover and index entry), an avatar, a token, search history, a diary with
    a file, and data sent to a recipient that has an e-mail address."""
    from lingjing.accounts.actions import do_create_api_token, do_set_avatar
    from lingjing.consent.actions import do_set_consent
    from lingjing.privacy.tests.testapp.models import Diary
    from lingjing.search.actions import do_record_search_history
    from lingjing.sharing.gate import disclose
    from lingjing.works.actions import do_create_work, do_update_work
    from lingjing.works.files import work_media_prefix
    from lingjing.works.publishing import do_publish_work

    user = make_user(phone, f"{tag}昵称")
    image = default_storage.save(f"avatars/{tag}.png", ContentFile(f"{tag}-avatar".encode()))
    thumb = default_storage.save(f"avatars/{tag}_256.png", ContentFile(f"{tag}-thumb".encode()))
    do_set_avatar(user, image_name=image, thumb_name=thumb, acting_user=user)
    work = do_create_work(user, title=f"{tag}的作品", script=f"{tag}-剧本正文", acting_user=user)
    cover = default_storage.save(f"{work_media_prefix(work.pk)}/cover.png", ContentFile(f"{tag}-cover".encode()))
    extra = default_storage.save(f"{work_media_prefix(work.pk)}/render/clip.txt", ContentFile(f"{tag}-clip".encode()))
    do_update_work(work, cover_path=cover, acting_user=user)
    assert do_publish_work(work, acting_user=user).published
    do_create_api_token(user, method="password")
    do_set_consent(user, "search_history", True, method="settings", acting_user=user)
    do_record_search_history(user, f"{tag}搜索词", results=1, acting_user=user)
    do_set_consent(user, "recipient:deepseek", True, method="settings", acting_user=user)
    disclose(user, "deepseek", ["content.script"], "content", payload={"content.script": "x"}, acting_user=user,
             flow="studio.llm")
    diary = Diary(owner=user, title=f"{tag}-日记", body=f"{tag}-日记正文")
    diary.attachment.save(f"{tag}.txt", ContentFile(f"{tag}-附件".encode()), save=False)
    diary.save()
    return {"user": User.objects.get(pk=user.pk), "work": work, "files": [image, thumb, cover, extra,
                                                                           diary.attachment.name],
            "markers": [f"{tag}昵称", phone, f"{tag}的作品", f"{tag}-剧本正文", f"{tag}搜索词", f"{tag}-日记"]}


def end_state(person: dict[str, Any]) -> dict[str, Any]:
    """What is left of a person, in terms that do not depend on random ids."""
    from lingjing.search.models import SearchDocument, SearchHistory
    from lingjing.security.models import DataKey, ShreddedSubject
    from lingjing.works.models import Work

    user = User.objects.get(pk=person["user"].pk)
    req = RightsRequest.objects.get(user=user, type="cancel_account")
    work = Work.objects.filter(pk=person["work"].pk).first()
    return {
        "status": user.status, "phone": user.phone, "nickname": user.nickname, "avatar": user.avatar,
        "work": None if work is None else (work.author_id, work.status, work.title, work.script, work.cover_path),
        "index": SearchDocument.objects.filter(work_id=person["work"].pk).count(),
        "history": SearchHistory.objects.filter(user=user).count(),
        "files": [default_storage.exists(n) for n in person["files"]],
        "keys": DataKey.objects.filter(subject=user.subject).count(),
        "shredded": ShreddedSubject.objects.filter(subject=user.subject).exists(),
        "request": req.status, "saga": ErasureSaga.objects.get(request_id=req.pk).status,
        "notices": sorted(Propagation.objects.filter(request_id=req.pk).values_list("recipient_slug", "status")),
        "tokens": user.api_tokens.filter(revoked_at__isnull=True).count(),
    }


def test_cancellation_locks_and_hides_the_account_until_undone(django_capture_on_commit_callbacks: Any) -> None:
    from lingjing.works.models import WorkStatus

    person = _person("甲", "+8613900000001")
    user = person["user"]
    client = Client()
    client.force_login(user)
    req = _cancel(user)
    user.refresh_from_db()
    assert user.status == UserStatus.CLOSING and req.status == RequestStatus.IN_PROGRESS
    assert req.grace_until is not None
    assert abs(req.grace_until - req.received_at - dt.timedelta(days=15)) < dt.timedelta(seconds=5)
    person["work"].refresh_from_db()
    assert person["work"].status == WorkStatus.UNPUBLISHED  # hidden for the window, out of the index
    assert client.get("/studio/").status_code == 302 and client.get("/studio/")["Location"].endswith("/closing")
    assert client.get(f"/privacy/requests/{req.pk}").status_code == 200
    assert user.api_tokens.filter(revoked_at__isnull=True).count() == 0  # signed out everywhere else
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/privacy/requests/{req.pk}", {"action": "withdraw"})
    assert response.status_code == 302
    user.refresh_from_db()
    req.refresh_from_db()
    person["work"].refresh_from_db()
    assert user.status == UserStatus.ACTIVE and req.status == RequestStatus.WITHDRAWN
    assert person["work"].status == WorkStatus.PUBLISHED
    with time_machine.travel(timezone.now() + dt.timedelta(days=16), tick=False):
        assert run_due()["cancellations_finished"] == 0
    user.refresh_from_db()
    assert user.status == UserStatus.ACTIVE


def test_the_api_is_locked_during_the_window_except_to_undo() -> None:
    from lingjing.accounts.actions import do_create_api_token

    user = make_user("+8613900000001", "alice")
    token = do_create_api_token(user, method="password")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    req = submit_request(user, "cancel_account", requester=Requester(verification="step_up", acting_user=user,
                                                                     keep_token_id=user.api_tokens.get().pk))
    me = api.get("/api/v1/me")
    assert me.status_code == 403 and me.json()["error"]["code"] == "account_closing"
    undo = api.post(f"/api/v1/privacy/requests/{req.pk}/cancel", content_type="application/json")
    assert undo.status_code == 200 and undo.json()["status"] == "withdrawn"
    assert api.get("/api/v1/me").status_code == 200


def test_after_the_grace_period_nothing_readable_remains_and_a_backup_no_longer_decrypts(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.LINGJING_AUDIT_CHECKPOINT_EVERY = 10**9
    carol = make_user("+8613900000003", "carol")
    person = _person("甲", "+8613900000001")
    bob = _person("乙", "+8613900000002")
    user = person["user"]
    everything = populate_everything(user, "ALICEX", other=carol)
    assert not everything.failures, everything.failures
    backup = [
        (model, f, pk, envelope)
        for model in {d.model for d in declarations()}
        for f in sealed_fields(model)
        for pk, envelope in model._base_manager.filter(**f.owner_filter(user.subject)).exclude(
            **{f.attname: None}).values_list("pk", f.attname)
    ]
    assert len(backup) > 20 and all(open_sealed(e, associated_data(m._meta.db_table, str(f.column), pk)) is not None
                                    for m, f, pk, e in backup)
    req = _cancel(user)
    with time_machine.travel(timezone.now() + dt.timedelta(days=14), tick=False):
        assert run_due()["cancellations_finished"] == 0  # still inside the window
    with time_machine.travel(timezone.now() + dt.timedelta(days=15, minutes=1), tick=False), \
            django_capture_on_commit_callbacks(execute=True):
        assert run_due()["cancellations_finished"] == 1
    req.refresh_from_db()
    assert req.status == RequestStatus.COMPLETED

    text = dump_database_text()
    keep = {f"{d.label}.{name}" for d in declarations() if d.on_erase == RowErase.KEEP
            for name, pd in d.fields.items()
            if not isinstance(d.model._meta.get_field(name), SealedField)}
    readable = [m for m in everything.markers + person["markers"]
                if m and m in text and everything.marker_fields.get(m) not in keep]
    assert not readable, readable[:10]
    assert all(m in text for m in bob["markers"][2:3])  # the bystander's public work is untouched
    for model, f, pk, envelope in backup:  # a copy of the rows taken before the erasure
        assert open_sealed(envelope, associated_data(model._meta.db_table, str(f.column), pk)) is None
    for name in person["files"] + everything.files:
        assert not default_storage.exists(name), name
    media = Path(settings.MEDIA_ROOT)
    leftovers = [p for p in media.rglob("*") if p.is_file() and any(
        m.encode() in p.read_bytes() for m in ["甲", "ALICEX"])]
    assert not leftovers, leftovers
    from lingjing.search.models import SearchDocument

    assert not SearchDocument.objects.filter(work_id=person["work"].pk).exists()
    assert SearchDocument.objects.filter(work_id=bob["work"].pk).exists()
    notices = dict(Propagation.objects.filter(request_id=req.pk).values_list("recipient_slug", "status"))
    assert notices["deepseek"] == "sent"  # by e-mail, to the address in the registry
    from django.core import mail

    sent = [m for m in mail.outbox if "privacy@deepseek.com" in m.to]
    assert sent and "删除" in sent[-1].subject and "甲" not in sent[-1].body and req.user_id is not None
    assert str(req.user_id) not in sent[-1].body  # the recipient gets its own pseudonym, not our id
    assert (Path(settings.DATA_DIR) / "deletion-list.txt").read_text().splitlines().count(user.subject) == 1


def test_the_saga_killed_at_every_step_and_rerun_ends_as_an_uninterrupted_one(
    monkeypatch: Any, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.LINGJING_DELETION_GRACE_DAYS = 0
    reference = _person("甲", "+8613900000001")
    with django_capture_on_commit_callbacks(execute=True):
        _cancel(reference["user"])
    expected = end_state(reference)
    assert expected["status"] == UserStatus.ERASED and expected["saga"] == SagaStatus.FINISHED

    killed = _person("乙", "+8613900000002")
    real = dict(saga.STEPS)
    kills: list[str] = []

    def killer(name: str) -> Any:
        def step(run: Any) -> Any:
            result = real[name](run)  # the step's work is done, then the worker dies before recording it
            if name not in kills:
                kills.append(name)
                raise KeyboardInterrupt(name)
            return result
        return step

    monkeypatch.setattr(saga, "STEPS", tuple((name, killer(name)) for name, _ in saga.STEPS))
    with pytest.raises(KeyboardInterrupt), django_capture_on_commit_callbacks(execute=True):
        _cancel(killed["user"])
    req = RightsRequest.objects.get(user=killed["user"], type="cancel_account")
    for _attempt in saga.STEP_NAMES[1:]:
        ErasureSaga.objects.filter(request_id=req.pk).update(claimed_until=None)  # the lease of the dead worker
        with pytest.raises(KeyboardInterrupt), django_capture_on_commit_callbacks(execute=True):
            saga.run_saga(req.pk)
    assert kills == list(saga.STEP_NAMES)
    ErasureSaga.objects.filter(request_id=req.pk).update(claimed_until=None)
    with django_capture_on_commit_callbacks(execute=True):
        assert saga.run_saga(req.pk) == SagaStatus.FINISHED
    assert end_state(killed) == expected
    assert saga.run_saga(req.pk) == SagaStatus.FINISHED  # and a further run changes nothing
    assert end_state(killed) == expected


def test_published_works_are_removed_when_the_person_chose_so(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from lingjing.works.models import Work

    settings.LINGJING_DELETION_GRACE_DAYS = 0
    person = _person("甲", "+8613900000001")
    with django_capture_on_commit_callbacks(execute=True):
        _cancel(person["user"], works="remove")
    assert not Work.objects.filter(pk=person["work"].pk).exists()
    anonymous = _person("乙", "+8613900000002")
    with django_capture_on_commit_callbacks(execute=True):
        _cancel(anonymous["user"], works="anonymise")
    work = Work.objects.get(pk=anonymous["work"].pk)
    assert work.author_id is None and work.status == "removed" and work.script is None


def test_notices_to_recipients_are_retried_with_back_off_then_handed_to_staff(settings: Any) -> None:
    from lingjing.privacy.requests import propagation
    from lingjing.privacy.tests.rights import make_officer

    officer = make_officer()
    person = _person("甲", "+8613900000001")
    req = _cancel(person["user"])
    assert propagation.plan(person["user"].pk, req.pk) == 1
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.dummy.EmailBackend"}}

    def fail(prop: Any) -> str:
        raise ConnectionError("down")

    original = propagation._send
    propagation._send = fail
    try:
        at = timezone.now()
        outcomes = []
        for _ in range(propagation.MAX_ATTEMPTS):
            outcomes.append(propagation.deliver_due(now=at))
            prop = Propagation.objects.get(request_id=req.pk)
            at = prop.next_attempt_at
        assert propagation.deliver_due(now=at + dt.timedelta(days=2)) == {}
    finally:
        propagation._send = original
    assert outcomes[0] == {"retry": 1} and outcomes[-1] == {"failed": 1}
    prop = Propagation.objects.get(request_id=req.pk)
    assert prop.status == "failed" and prop.attempts == propagation.MAX_ATTEMPTS
    assert prop.last_error == "ConnectionError"
    assert officer.notifications.filter(template="privacy.staff_attention").exists()
    propagation.do_mark_propagation_done(prop, acting_user=officer)
    assert Propagation.objects.get(pk=prop.pk).status == "sent"


def test_withdrawing_after_the_saga_started_is_refused() -> None:
    from lingjing.privacy.actions import InvalidTransition

    user = make_user("+8613900000001", "alice")
    req = _cancel(user)
    saga.open_saga(req)
    with pytest.raises(InvalidTransition):
        do_withdraw_request(req, acting_user=user)


def test_a_saga_does_not_start_inside_the_undo_window() -> None:
    user = make_user("+8613900000001", "alice")
    req = _cancel(user)
    assert saga.run_saga(req.pk) == "not_due"
    assert not ErasureSaga.objects.filter(request_id=req.pk).exists()
    user.refresh_from_db()
    assert user.status == UserStatus.CLOSING
