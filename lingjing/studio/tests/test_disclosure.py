"""A provider call that leaves the machine is a disclosure: it goes through ``studio.disclosure`` (the sharing
gate decides and logs; its own tests cover consent). Here: the studio asks the gate before anything is sent."""

from __future__ import annotations

from typing import Any

import pytest

from lingjing.accounts.models import User
from lingjing.security.audit_models import AuditEntry
from lingjing.studio import actions
from lingjing.studio.disclosure import DisclosureRefused, check_and_log_disclosure
from lingjing.studio.models import JobStatus, Shot, StudioJob
from lingjing.studio.runner import execute_job
from lingjing.studio.tests.conftest import SHORT_STORY
from lingjing.studio.tests.test_llm import KEY, ChatServer, chat  # noqa: F401 — the fake service fixture
from lingjing.works.actions import do_create_work

pytestmark = pytest.mark.django_db


def test_offline_needs_nothing_and_logs_nothing(alice: User) -> None:
    check_and_log_disclosure(alice, "offline", ["content.script"], "storyboard")
    assert not AuditEntry.objects.filter(event="studio.provider_disclosure").exists()


def test_an_outside_provider_without_consent_is_refused(alice: User) -> None:
    with pytest.raises(DisclosureRefused) as info:
        check_and_log_disclosure(alice, "llm", ["content.script"], "storyboard")
    assert "离线" in info.value.message
    assert not AuditEntry.objects.filter(event="studio.provider_disclosure").exists()


def _llm_job(user: User) -> StudioJob:
    work = do_create_work(user, title="夜雨", script=SHORT_STORY, acting_user=user)
    actions.do_update_studio_settings(work, storyboard_provider="llm", acting_user=user)
    job, _ = actions.do_start_job(work, "storyboard", acting_user=user)
    execute_job(job.pk)
    return StudioJob.objects.get(pk=job.pk)


def test_llm_storyboard_job_sends_nothing_without_consent(
    alice: User, chat: tuple[ChatServer, str], settings: Any  # noqa: F811
) -> None:
    server, base = chat
    settings.LINGJING_STUDIO_PROVIDERS = {"llm": {"base_url": base, "api_key": KEY, "backoff": 0.01}}
    job = _llm_job(alice)
    assert job.status == JobStatus.FAILED and "离线" in job.message
    assert server.requests == []  # nothing left the machine
    assert not Shot.objects.filter(work=job.work).exists()


def test_llm_storyboard_job_with_a_self_hosted_model(
    alice: User, chat: tuple[ChatServer, str], settings: Any  # noqa: F811
) -> None:
    server, base = chat
    settings.LINGJING_STUDIO_PROVIDERS = {
        "llm": {"base_url": base, "api_key": KEY, "backoff": 0.01, "recipient": "self-hosted"},
    }
    job = _llm_job(alice)
    assert job.status == JobStatus.SUCCEEDED, job.message
    assert len(server.requests) == 1 and "李明走进了杭州" in server.requests[0]["messages"][1]["content"]
    shots = list(Shot.objects.filter(work=job.work).order_by("position"))
    assert [s.shot_type for s in shots] == ["establishing", "close"]
    assert shots[1].lines == [{"text": "你终于来了。", "speaker": "王芳"}]
    assert AuditEntry.objects.filter(event="studio.storyboard_saved").get().details["provider"] == "llm"
