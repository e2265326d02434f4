"""Only the author sees a work's studio: bob (signed in) gets 404 everywhere, a visitor is sent to sign in."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from lingjing.accounts.models import ApiToken, User, hash_token
from lingjing.studio.actions import do_start_job
from lingjing.studio.models import GeneratedAsset, Shot, StudioJob
from lingjing.studio.runner import execute_job
from lingjing.studio.tests.conftest import SHORT_STORY
from lingjing.works.actions import do_create_work
from lingjing.works.models import Work, WorkStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def storyboarded(alice: User) -> tuple[Work, StudioJob]:
    work = do_create_work(alice, title="夜雨", script=SHORT_STORY, acting_user=alice)
    job, _ = do_start_job(work, "storyboard", acting_user=alice)
    execute_job(job.pk)
    return work, job


def _pages(work: Work, job: StudioJob) -> list[tuple[str, str]]:
    shot = Shot.objects.filter(work=work).first()
    assert shot is not None
    w, s, j = work.pk, shot.pk, job.pk
    return [
        ("get", reverse("studio:work", args=[w])),
        ("get", reverse("studio:storyboard", args=[w])),
        ("get", reverse("studio:characters", args=[w])),
        ("get", reverse("studio:results", args=[w])),
        ("get", reverse("studio:job", args=[w, j])),
        ("get", reverse("studio:job_progress", args=[w, j])),
        ("post", reverse("studio:edit_shot", args=[w, s])),
        ("post", reverse("studio:split_shot", args=[w, s])),
        ("post", reverse("studio:delete_shot", args=[w, s])),
        ("post", reverse("studio:start_job", args=[w])),
        ("post", reverse("studio:cancel_job", args=[w, j])),
        ("post", reverse("studio:delete", args=[w])),
    ]


def test_author_sees_every_page(alice: User, storyboarded: tuple[Work, StudioJob]) -> None:
    client = Client()
    client.force_login(alice)
    for method, url in _pages(*storyboarded):
        if method == "get":
            assert client.get(url).status_code == 200, url


def test_another_user_gets_404_everywhere(bob: User, storyboarded: tuple[Work, StudioJob]) -> None:
    work, job = storyboarded
    client = Client()
    client.force_login(bob)
    for method, url in _pages(work, job):
        assert getattr(client, method)(url).status_code == 404, url
    assert Shot.objects.filter(work=work).count() == 3  # nothing changed
    assert StudioJob.objects.filter(work=work).count() == 1
    Work.objects.filter(pk=work.pk).update(status=WorkStatus.PUBLISHED)  # published: still not their studio
    assert client.get(reverse("studio:storyboard", args=[work.pk])).status_code == 404
    assert client.get(reverse("studio:home")).status_code == 200
    assert "夜雨" not in client.get(reverse("studio:home")).content.decode()


def test_visitors_are_sent_to_sign_in(storyboarded: tuple[Work, StudioJob]) -> None:
    for method, url in _pages(*storyboarded):
        response = getattr(Client(), method)(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


def _bearer(user: User, raw: str) -> dict[str, str]:
    token = ApiToken(user=user, token_hash=hash_token(raw), label="test")
    token.save()
    return {"Authorization": f"Bearer {raw}"}


def test_api_render_status_outputs_for_the_author(
    alice: User, storyboarded: tuple[Work, StudioJob], django_capture_on_commit_callbacks: Any
) -> None:
    work, _ = storyboarded
    auth = _bearer(alice, "alice-token-123")
    client = Client()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/v1/studio/works/{work.pk}/render?kind=images", headers=auth)
    assert response.status_code == 202, response.content
    job = response.json()["job"]
    assert job["kind"] == "images" and job["status"] == "queued"
    status = client.get(f"/api/v1/studio/jobs/{job['id']}", headers=auth).json()
    assert status["status"] == "succeeded" and status["progress"] == 100
    outputs = client.get(f"/api/v1/studio/works/{work.pk}/outputs", headers=auth).json()["items"]
    assert len(outputs) == 3 and {o["kind"] for o in outputs} == {"image"} and all(o["chosen"] for o in outputs)
    download = client.get(outputs[0]["url"].replace("http://testserver", ""), headers=auth)
    assert download.status_code == 200 and download["Content-Type"] == "image/png"
    assert download.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"


def test_api_is_404_for_others_and_401_for_visitors(
    alice: User, bob: User, storyboarded: tuple[Work, StudioJob]
) -> None:
    work, job = storyboarded
    asset_id = "00000000-0000-0000-0000-000000000000"
    auth = _bearer(bob, "bob-token-456")
    client = Client()
    urls = [("post", f"/api/v1/studio/works/{work.pk}/render"), ("get", f"/api/v1/studio/jobs/{job.pk}"),
            ("get", f"/api/v1/studio/works/{work.pk}/outputs"), ("post", f"/api/v1/studio/jobs/{job.pk}/cancel"),
            ("get", f"/api/v1/studio/outputs/{asset_id}/file")]
    for method, url in urls:
        response = getattr(client, method)(url, headers=auth)
        assert response.status_code == 404, url
        assert response.json()["error"]["code"] == "not_found"
        assert getattr(Client(), method)(url).status_code == 401, url
    assert StudioJob.objects.filter(work=work).count() == 1
    assert not GeneratedAsset.objects.exists()
