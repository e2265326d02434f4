"""The LLM storyboard adapter against a local server speaking the OpenAI chat completions API."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from lingjing.studio.providers.http import ProviderConfigError, ProviderError
from lingjing.studio.providers.llm import LLMStoryboarder

KEY = "sk-test-secret-1234567890"

ANSWER = {
    "characters": [{"name": "李明", "static_features": "短发", "dynamic_features": "长衫"}],
    "shots": [
        {"description": "茶馆外景", "shot_type": "establishing", "camera_move": "pull_out", "location": "茶馆",
         "characters": [], "lines": [{"text": "雨夜的茶馆。", "speaker": None}]},
        {"description": "王芳抬头", "shot_type": "close", "camera_move": "zoom_wildly", "location": "茶馆",
         "characters": ["王芳"], "lines": [{"text": "你终于来了。", "speaker": "王芳"}]},
    ],
}


class ChatServer:
    """``POST /v1/chat/completions`` with Bearer auth; ``fail`` answers 503 first, ``delay`` sleeps."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail = 0
        self.delay = 0.0
        self.content: Any = json.dumps(ANSWER, ensure_ascii=False)

    def handle(self, handler: BaseHTTPRequestHandler) -> tuple[int, bytes]:
        body = json.loads(handler.rfile.read(int(handler.headers["Content-Length"])))
        self.requests.append(body)
        if self.delay:
            time.sleep(self.delay)
        if handler.path != "/v1/chat/completions":
            return 404, b'{"error": {"message": "not found"}}'
        if handler.headers.get("Authorization") != f"Bearer {KEY}":
            given = handler.headers.get("Authorization", "")
            return 401, json.dumps({"error": {"message": f"Incorrect API key provided: {given}"}}).encode()
        if self.fail:
            self.fail -= 1
            return 503, b'{"error": {"message": "overloaded"}}'
        fmt = body.get("response_format", {})
        if fmt.get("type") != "json_schema" or "shots" not in fmt["json_schema"]["schema"]["properties"]:
            return 400, b'{"error": {"message": "response_format json_schema required"}}'
        answer = {"id": "c1", "object": "chat.completion", "model": body["model"],
                  "choices": [{"index": 0, "finish_reason": "stop",
                               "message": {"role": "assistant", "content": self.content}}]}
        return 200, json.dumps(answer, ensure_ascii=False).encode()


@pytest.fixture
def chat() -> Iterator[tuple[ChatServer, str]]:
    state = ChatServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            status, payload = state.handle(self)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def _llm(base: str, **extra: Any) -> LLMStoryboarder:
    return LLMStoryboarder({"base_url": base, "api_key": KEY, "model": "test-model", "backoff": 0.01, **extra})


def test_storyboard_from_json_schema_answer(chat: tuple[ChatServer, str]) -> None:
    server, base = chat
    board = _llm(base).storyboard("雨夜，李明走进茶馆……", title="夜雨", start_index=5)
    request = server.requests[0]
    assert request["model"] == "test-model"
    assert request["response_format"]["json_schema"]["strict"] is True
    assert "李明走进茶馆" in request["messages"][1]["content"]
    assert [s.index for s in board.shots] == [5, 6]
    assert board.shots[0].shot_type == "establishing" and board.shots[0].lines[0].speaker is None
    assert board.shots[1].camera_move == "static"  # unknown enum value falls back
    assert board.shots[1].lines[0].speaker == "王芳"
    assert [c.name for c in board.characters] == ["李明", "王芳"]
    assert board.characters[0].static_features == "短发"
    assert board.shots[1].duration == round(5 / 4.5 + 2, 2)
    assert "地点：茶馆" in board.shots[0].prompt


def test_retries_when_the_service_is_overloaded(chat: tuple[ChatServer, str]) -> None:
    server, base = chat
    server.fail = 2
    board = _llm(base, retries=3).storyboard("text")
    assert len(board.shots) == 2 and len(server.requests) == 3


def test_gives_up_after_retries_with_a_clear_error(chat: tuple[ChatServer, str]) -> None:
    server, base = chat
    server.fail = 10
    with pytest.raises(ProviderError) as info:
        _llm(base, retries=1).storyboard("text")
    assert info.value.code == "provider_unavailable" and len(server.requests) == 2


def test_timeout(chat: tuple[ChatServer, str]) -> None:
    server, base = chat
    server.delay = 0.5
    with pytest.raises(ProviderError) as info:
        _llm(base, timeout=0.1, retries=0).storyboard("text")
    assert info.value.code == "provider_timeout"


def test_wrong_key_error_never_shows_the_key(chat: tuple[ChatServer, str]) -> None:
    _, base = chat
    llm = LLMStoryboarder({"base_url": base, "api_key": "sk-wrong-key-abcdef", "retries": 0})
    with pytest.raises(ProviderError) as info:
        llm.storyboard("text")
    assert info.value.code == "provider_auth"
    assert "sk-wrong-key-abcdef" not in str(info.value) and "sk-wrong-key-abcdef" not in repr(llm.client)


def test_answer_without_shots_is_rejected(chat: tuple[ChatServer, str]) -> None:
    server, base = chat
    server.content = '{"characters": [], "shots": []}'
    with pytest.raises(ProviderError) as info:
        _llm(base).storyboard("text")
    assert info.value.code == "provider_bad_response"
    server.content = "not json at all"
    with pytest.raises(ProviderError):
        _llm(base).storyboard("text")


def test_misconfiguration_is_reported_before_sending() -> None:
    with pytest.raises(ProviderConfigError):
        LLMStoryboarder({"base_url": "", "api_key": KEY})
    with pytest.raises(ProviderConfigError):
        LLMStoryboarder({"base_url": "http://127.0.0.1:9/v1", "api_key": ""})
