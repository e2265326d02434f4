"""Job lifecycle: dedupe, claim, heartbeat and progress, cancel, retry, stale reclaim, failures."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from lingjing.accounts.models import User
from lingjing.security.audit_models import AuditEntry
from lingjing.studio.actions import do_cancel_job, do_retry_job, do_start_job
from lingjing.studio.jobs import JobCancelled, JobLost, claim, reclaim_stale
from lingjing.studio.models import Episode, JobStatus, StudioJob
from lingjing.studio.runner import execute_job
from lingjing.studio.tests.conftest import SHORT_STORY
from lingjing.works.actions import do_create_work, do_update_work
from lingjing.works.models import Work

pytestmark = pytest.mark.django_db


@pytest.fixture
def work(alice: User) -> Work:
    return do_create_work(alice, title="夜雨", script=SHORT_STORY, acting_user=alice)


def test_one_active_job_per_work(work: Work, alice: User) -> None:
    job, created = do_start_job(work, "render", acting_user=alice)
    again, created_again = do_start_job(work, "images", acting_user=alice)
    assert created and not created_again and again.pk == job.pk
    assert StudioJob.objects.count() == 1
    assert AuditEntry.objects.filter(event="studio.job_started").count() == 1
    do_cancel_job(job, acting_user=alice)
    _, created = do_start_job(work, "render", acting_user=alice)  # the key is free once the job ended
    assert created


def test_claim_heartbeat_progress_and_finish(work: Work, alice: User) -> None:
    job, _ = do_start_job(work, "import", acting_user=alice)
    run = claim(job.pk, worker="w1")
    assert run is not None
    assert claim(job.pk, worker="w2") is None  # a live worker owns it
    run.progress(42.7, step="images")
    job.refresh_from_db()
    assert (job.status, job.progress, job.step, job.attempts, job.worker) == ("running", 42, "images", 1, "w1")
    assert job.heartbeat_at is not None and job.started_at is not None
    assert run.finish(JobStatus.SUCCEEDED)
    job.refresh_from_db()
    assert job.progress == 100 and job.claim_token is None and job.finished_at is not None
    assert claim(job.pk) is None  # finished jobs are never claimed again


def test_cancel_stops_the_worker_at_its_next_heartbeat(work: Work, alice: User) -> None:
    job, _ = do_start_job(work, "import", acting_user=alice)
    run = claim(job.pk)
    assert run is not None
    assert do_cancel_job(job, acting_user=alice)
    with pytest.raises(JobCancelled):
        run.progress(50, force=True)
    assert not run.finish(JobStatus.SUCCEEDED)  # the worker cannot overwrite the cancellation
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and job.message == "已取消"
    assert not do_cancel_job(job, acting_user=alice)  # nothing left to cancel


def test_stale_heartbeat_is_reclaimed_and_the_old_worker_loses(work: Work, alice: User, settings: Any) -> None:
    job, _ = do_start_job(work, "import", acting_user=alice)
    crashed = claim(job.pk, worker="crashed")
    assert crashed is not None
    StudioJob.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.LINGJING_STUDIO_STALE_SECONDS + 1))
    assert reclaim_stale(enqueue=False) == [job.pk]
    assert reclaim_stale(enqueue=False) == []  # requeued once, not twice
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert execute_job(job.pk) == JobStatus.SUCCEEDED  # the next worker finishes it
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2
    assert Episode.objects.filter(work=work).count() == 1
    with pytest.raises(JobLost):
        crashed.progress(10, force=True)


def test_a_stale_job_can_also_be_claimed_directly(work: Work, alice: User, settings: Any) -> None:
    job, _ = do_start_job(work, "import", acting_user=alice)
    assert claim(job.pk, worker="a") is not None
    StudioJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    taken = claim(job.pk, worker="b")
    assert taken is not None
    assert StudioJob.objects.get(pk=job.pk).worker == "b"


def test_reclaim_enqueues_and_runs_the_job(work: Work, alice: User) -> None:
    job, _ = do_start_job(work, "import", acting_user=alice)
    assert claim(job.pk) is not None
    StudioJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    reclaim_stale()  # test settings run tasks immediately
    assert StudioJob.objects.get(pk=job.pk).status == JobStatus.SUCCEEDED


def test_stale_job_out_of_attempts_fails(work: Work, alice: User) -> None:
    job, _ = do_start_job(work, "import", acting_user=alice)
    StudioJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, attempts=3,
                                               heartbeat_at=timezone.now() - timedelta(hours=1))
    assert reclaim_stale(enqueue=False) == []
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "重试" in job.message


def test_running_twice_is_safe(work: Work, alice: User) -> None:
    job, _ = do_start_job(work, "import", acting_user=alice)
    assert execute_job(job.pk) == JobStatus.SUCCEEDED
    assert execute_job(job.pk) == "skipped"
    assert AuditEntry.objects.filter(event="studio.story_imported").count() == 1


def test_failure_message_then_retry(alice: User, django_capture_on_commit_callbacks: Any) -> None:
    work = do_create_work(alice, title="空", script="   ", acting_user=alice)
    job, _ = do_start_job(work, "import", acting_user=alice)
    assert execute_job(job.pk) == JobStatus.FAILED
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.message == "没有读到任何文字"
    do_update_work(work, script=SHORT_STORY, acting_user=alice)
    with django_capture_on_commit_callbacks(execute=True):
        do_retry_job(job, acting_user=alice)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 1 and job.message == ""
    assert AuditEntry.objects.filter(event="studio.job_retried").count() == 1


def test_steps_need_their_inputs(work: Work, alice: User) -> None:
    job, _ = do_start_job(work, "video", acting_user=alice)
    execute_job(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.message == "还没有分镜：请先生成分镜"
