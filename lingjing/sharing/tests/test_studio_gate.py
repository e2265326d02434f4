"""Acceptance: an AI provider call goes through the gate. Without the author's consent nothing leaves the machine
(a local fake of the provider records every request); with it, the call happens and is in the sharing log."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import Client

from lingjing.sharing.models import SharingRecord
from lingjing.sharing.tests.conftest import grant

pytestmark = pytest.mark.django_db

BOARD = {
    "characters": [{"name": "林", "static_features": "短发", "dynamic_features": "雨衣"}],
    "shots": [{"description": "雨夜的街口", "shot_type": "wide", "camera_move": "static", "location": "街口",
               "characters": ["林"], "lines": [{"text": "又下雨了。", "speaker": "林"}]}],
}


class FakeLLM:
    """An OpenAI-compatible chat completions endpoint on 127.0.0.1 that records what it receives."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                fake.requests.append({"path": self.path, "body": json.loads(self.rfile.read(length) or b"{}")})
                body = json.dumps({"choices": [{"message": {"content": json.dumps(BOARD, ensure_ascii=False)}}]})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FakeLLM:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def llm(settings: Any) -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        settings.LINGJING_STUDIO_PROVIDERS = {
            "llm": {"base_url": fake.url, "api_key": "test-key", "model": "m", "retries": 0, "recipient": "deepseek"},
        }
        yield fake


def _storyboard_job(author: Any) -> Any:
    from lingjing.studio.actions import do_start_job, do_update_studio_settings
    from lingjing.studio.models import StudioJob
    from lingjing.studio.runner import execute_job
    from lingjing.works.actions import do_create_work

    work = do_create_work(author, title="雨夜", script="第一章 雨夜\n\n林站在街口。“又下雨了。”", acting_user=author)
    do_update_studio_settings(work, acting_user=author, storyboard_provider="llm")
    job, _ = do_start_job(work, "storyboard", acting_user=author)
    execute_job(job.pk)
    return StudioJob.objects.get(pk=job.pk)


def test_an_ai_call_without_consent_is_refused_and_nothing_leaves(alice: Any, llm: FakeLLM) -> None:
    job = _storyboard_job(alice)
    assert job.status == "failed"
    assert "单独同意" in job.message
    assert llm.requests == []
    assert not SharingRecord.objects.filter(person=alice).exists()


def test_with_consent_the_call_is_made_and_logged(alice: Any, llm: FakeLLM) -> None:
    grant(alice, "recipient:deepseek")
    job = _storyboard_job(alice)
    assert job.status == "succeeded", job.message
    assert len(llm.requests) == 1
    assert "林站在街口" in json.dumps(llm.requests[0]["body"], ensure_ascii=False)
    row = SharingRecord.objects.get(person=alice)
    assert (row.recipient.slug, row.flow, row.categories) == ("deepseek", "studio.storyboard", ["content.script"])
    client = Client()
    client.force_login(alice)
    assert [i["recipient"]["slug"] for i in client.get("/api/v1/sharing/records").json()["items"]] == ["deepseek"]


def test_an_unregistered_provider_receives_nothing(alice: Any, llm: FakeLLM, settings: Any) -> None:
    settings.LINGJING_STUDIO_PROVIDERS = {"llm": {"base_url": llm.url, "api_key": "k", "retries": 0}}
    grant(alice, "recipient:deepseek")
    job = _storyboard_job(alice)
    assert job.status == "failed" and "未在登记表" in job.message
    assert llm.requests == []
