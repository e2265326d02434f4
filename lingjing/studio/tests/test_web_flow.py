from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from lingjing.accounts.models import User
from lingjing.studio.models import GeneratedAsset, JobStatus, Shot, StudioJob
from lingjing.studio.tests.conftest import SHORT_STORY
from lingjing.works.models import Work

pytestmark = pytest.mark.django_db


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_create_then_render_through_the_pages(alice: User, django_capture_on_commit_callbacks: Any) -> None:
    client = _client(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("studio:home"), {"title": "夜雨", "text": SHORT_STORY})
    work = Work.objects.get(author=alice)
    assert response.status_code == 302 and response["Location"] == reverse("studio:work", args=[work.pk])
    job = StudioJob.objects.get(work=work)
    assert job.kind == "storyboard" and job.status == JobStatus.SUCCEEDED, job.message
    assert Shot.objects.filter(work=work).count() == 3
    page = client.get(reverse("studio:storyboard", args=[work.pk]))
    assert page.status_code == 200 and "你终于来了" in page.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("studio:start_job", args=[work.pk]), {"kind": "render"})
    render = StudioJob.objects.filter(work=work, kind="render").get()
    assert render.status == JobStatus.SUCCEEDED, render.message
    assert render.progress == 100
    kinds = sorted(set(GeneratedAsset.objects.filter(work=work).values_list("kind", flat=True)))
    assert kinds == ["audio", "image", "page", "pdf", "srt", "video"]
    results = client.get(reverse("studio:results", args=[work.pk]))
    assert results.status_code == 200 and "<video" in results.content.decode()
