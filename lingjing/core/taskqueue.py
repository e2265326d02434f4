"""The task queue on Redis: django-tasks-rq's backend, speaking Django's own ``django.tasks`` types.

django-tasks-rq is written against the ``django_tasks`` backport. Its backend would make ``@task`` build the
backport's ``Task`` class; this subclass keeps Django's (``django.tasks.Task``), so code and tests see the same
task objects whichever backend is configured. Enqueueing, results and the worker's job class
(``django_tasks_rq.Job``, which accepts both task classes) are the package's.

Claiming: RQ workers pop a job id from the queue's Redis list atomically, so each job goes to
exactly one worker; tasks stay safe to run twice (a worker killed mid-job may leave a job to be re-queued by
hand from the failed registry, ``rq requeue``).
"""

from __future__ import annotations

from django.tasks import Task
from django_tasks_rq.backend import RQBackend as _PackageRQBackend


class RQBackend(_PackageRQBackend):
    task_class = Task  # type: ignore[assignment]  # Django's Task, not the backport's


JOB_CLASS = "django_tasks_rq.Job"
