"""django.tasks entry points of the studio. Tasks take ids and are safe to run twice (``studio.jobs.claim``)."""

from __future__ import annotations

import uuid

from django.tasks import task


@task(queue_name="studio")
def run_studio_job(job_id: str) -> str:
    """Run one studio job. Each pass first gives stale jobs (crashed workers) back to the queue."""
    from lingjing.studio.jobs import reclaim_stale
    from lingjing.studio.runner import execute_job

    reclaim_stale()
    return execute_job(job_id)


def enqueue_job(job_id: uuid.UUID | str) -> None:
    run_studio_job.enqueue(str(job_id))
