"""Local stand-ins for the image and speech services, speaking their documented HTTP APIs on 127.0.0.1.

Each fake checks the requests the way the real service would (auth, required fields, value types), records
them for assertions, and can be told to fail: ``fail_times`` answers the next N requests with HTTP 500,
``delay`` holds every answer back. They run in a thread for the length of a ``with`` block.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import struct
import threading
import time
import uuid
import wave
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from PIL import Image
from PIL.PngImagePlugin import PngInfo


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class Answer:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, value: Any, **headers: str) -> Answer:
        return cls(status, json.dumps(value).encode(), headers=dict(headers))


def make_png(width: int, height: int, key: str, *, text: dict[str, str] | None = None) -> bytes:
    """A small real PNG whose colour depends on ``key`` (so tests can tell images apart), with optional text
    chunks (ComfyUI writes the prompt and workflow into its PNGs, SD-WebUI its generation parameters)."""
    digest = hashlib.sha256(key.encode()).digest()
    image = Image.new("RGB", (width, height), (digest[0], digest[1], digest[2]))
    info = PngInfo()
    for name, value in (text or {}).items():
        info.add_text(name, value)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def make_wav(seconds: float, *, rate: int = 24000, streamed_header: bool = False) -> bytes:
    """A mono 16-bit sine tone; ``streamed_header`` writes 0xFFFFFFFF sizes as streaming TTS services do."""
    frames = int(seconds * rate)
    pcm = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate))) for i in range(frames))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    data = bytearray(buffer.getvalue())
    if streamed_header:
        data[4:8] = b"\xff\xff\xff\xff"
        data[40:44] = b"\xff\xff\xff\xff"
    return bytes(data)


class FakeService:
    """Base: a threaded HTTP server calling :meth:`answer` for every request."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self.fail_times = 0
        self.delay = 0.0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def seen(self, path_prefix: str = "") -> list[Seen]:
        return [r for r in self.requests if r.path.startswith(path_prefix)]

    def answer(self, request: Seen) -> Answer:  # pragma: no cover - overridden
        raise NotImplementedError

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        request = Seen(
            handler.command,
            parts.path,
            {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
            {k.lower(): v for k, v in handler.headers.items()},
            body,
        )
        with self._lock:
            self.requests.append(request)
            failing = self.fail_times > 0
            if failing:
                self.fail_times -= 1
        if self.delay:
            time.sleep(self.delay)
        if failing:
            answer = Answer(500, b"Internal Server Error", "text/plain")
        else:
            try:
                answer = self.answer(request)
            except Exception as exc:  # a bug in the fake shows up as a 500 with its reason
                answer = Answer(500, f"fake failed: {exc!r}".encode(), "text/plain")
        try:
            handler.send_response(answer.status)
            handler.send_header("Content-Type", answer.content_type)
            handler.send_header("Content-Length", str(len(answer.body)))
            for name, value in answer.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(answer.body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            pass

    def __enter__(self) -> Self:
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                service._handle(self)

            def do_POST(self) -> None:
                service._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()


def _error(status: int, message: str, code: str = "invalid_request_error") -> Answer:
    return Answer.json(status, {"error": {"message": message, "type": code, "code": code}})


class FakeOpenAI(FakeService):
    """``/v1/images/generations`` and ``/v1/audio/speech`` of the OpenAI API (Bearer auth)."""

    SIZES = {"1024x1024", "1024x1536", "1536x1024", "256x256", "512x512", "1792x1024", "1024x1792"}
    VOICES = {"alloy", "ash", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer"}

    def __init__(self, api_key: str, *, streamed_wav: bool = False) -> None:
        super().__init__()
        self.api_key = api_key
        self.streamed_wav = streamed_wav

    @property
    def base(self) -> str:
        return self.url + "/v1"

    def answer(self, request: Seen) -> Answer:
        given = request.headers.get("authorization", "")
        if given != f"Bearer {self.api_key}":
            # like the real service, the message quotes the key it was given
            return _error(401, f"Incorrect API key provided: {given.removeprefix('Bearer ')}", "invalid_api_key")
        body = request.body if isinstance(request.body, dict) else {}
        if request.method == "POST" and request.path == "/v1/images/generations":
            if not isinstance(body.get("prompt"), str) or not body["prompt"]:
                return _error(400, "'prompt' is required")
            if not isinstance(body.get("model"), str):
                return _error(400, "'model' is required")
            if body.get("size") not in self.SIZES:
                return _error(400, f"Invalid size {body.get('size')!r}")
            if body.get("response_format", "url") != "b64_json":
                return _error(400, "this fake only serves b64_json")
            w, h = (int(v) for v in body["size"].split("x"))
            png = make_png(w // 8, h // 8, body["prompt"])  # smaller than asked: the adapter must fit it
            return Answer.json(200, {"created": 1, "data": [{"b64_json": base64.b64encode(png).decode()}]})
        if request.method == "POST" and request.path == "/v1/audio/speech":
            if not body.get("input") or not isinstance(body.get("model"), str):
                return _error(400, "'input' and 'model' are required")
            if body.get("voice") not in self.VOICES:
                return _error(400, f"Invalid voice {body.get('voice')!r}")
            if body.get("response_format") != "wav":
                return _error(400, "this fake only serves wav")
            seconds = 0.05 * len(body["input"])
            return Answer(200, make_wav(seconds, streamed_header=self.streamed_wav), "audio/wav")
        return _error(404, f"Invalid URL ({request.method} {request.path})")


class FakeComfyUI(FakeService):
    """``POST /prompt``, ``GET /history/{id}``, ``GET /view`` of ComfyUI's server."""

    def __init__(self, *, pending_polls: int = 1, fail_run: bool = False) -> None:
        super().__init__()
        self.pending_polls = pending_polls
        self.fail_run = fail_run
        self.prompts: dict[str, dict[str, Any]] = {}
        self._polls: dict[str, int] = {}

    @staticmethod
    def _problems(workflow: Any) -> list[str]:
        if not isinstance(workflow, dict) or not workflow:
            return ["prompt must be a non-empty object of nodes"]
        problems = []
        if "{{" in json.dumps(workflow):
            problems.append("unfilled placeholder")
        for node_id, node in workflow.items():
            if not isinstance(node, dict) or "class_type" not in node or not isinstance(node.get("inputs"), dict):
                problems.append(f"node {node_id} lacks class_type/inputs")
                continue
            inputs = node["inputs"]
            if node["class_type"] == "KSampler" and not isinstance(inputs.get("seed"), int):
                problems.append("KSampler.seed must be an integer")
            if node["class_type"] == "EmptyLatentImage":
                problems.extend(
                    f"EmptyLatentImage.{key} must be an integer multiple of 8"
                    for key in ("width", "height")
                    if not isinstance(inputs.get(key), int) or inputs[key] % 8
                )
        if not any(isinstance(n, dict) and n.get("class_type") == "SaveImage" for n in workflow.values()):
            problems.append("no output node (SaveImage)")
        return problems

    def answer(self, request: Seen) -> Answer:
        if request.method == "POST" and request.path == "/prompt":
            workflow = request.body.get("prompt") if isinstance(request.body, dict) else None
            problems = self._problems(workflow)
            if problems:
                return Answer.json(
                    400,
                    {"error": {"type": "prompt_outputs_failed_validation", "message": "; ".join(problems)},
                     "node_errors": {}},
                )  # fmt: skip
            prompt_id = str(uuid.uuid4())
            assert isinstance(workflow, dict)
            self.prompts[prompt_id] = workflow
            self._polls[prompt_id] = 0
            return Answer.json(200, {"prompt_id": prompt_id, "number": len(self.prompts), "node_errors": {}})
        if request.method == "GET" and request.path.startswith("/history/"):
            prompt_id = request.path.removeprefix("/history/")
            if prompt_id not in self.prompts:
                return Answer.json(200, {})
            self._polls[prompt_id] += 1
            if self._polls[prompt_id] <= self.pending_polls:
                return Answer.json(200, {})  # still queued: ComfyUI answers an empty object
            if self.fail_run:
                status = {"status_str": "error", "completed": False, "messages": [["execution_error", {}]]}
                return Answer.json(200, {prompt_id: {"prompt": [], "outputs": {}, "status": status}})
            save = next(k for k, n in self.prompts[prompt_id].items() if n["class_type"] == "SaveImage")
            image = {"filename": f"{prompt_id}_00001_.png", "subfolder": "lingjing", "type": "output"}
            status = {"status_str": "success", "completed": True, "messages": []}
            return Answer.json(
                200, {prompt_id: {"prompt": [], "outputs": {save: {"images": [image]}}, "status": status}}
            )
        if request.method == "GET" and request.path == "/view":
            prompt_id = request.query.get("filename", "").removesuffix("_00001_.png")
            if prompt_id not in self.prompts or request.query.get("type") != "output":
                return Answer(404, b"404: Not Found", "text/plain")
            latent = next(n for n in self.prompts[prompt_id].values() if n["class_type"] == "EmptyLatentImage")
            seed = next(n for n in self.prompts[prompt_id].values() if n["class_type"] == "KSampler")["inputs"]["seed"]
            workflow = json.dumps(self.prompts[prompt_id], ensure_ascii=False)
            png = make_png(latent["inputs"]["width"], latent["inputs"]["height"], f"seed:{seed}",
                           text={"prompt": workflow, "workflow": workflow})  # fmt: skip
            return Answer(200, png, "image/png")
        return Answer(404, b"404: Not Found", "text/plain")


class FakeSDWebUI(FakeService):
    """``POST /sdapi/v1/txt2img`` of AUTOMATIC1111's SD-WebUI (optionally behind ``--api-auth``)."""

    def __init__(self, *, auth: str | None = None) -> None:
        super().__init__()
        self.auth = auth

    def answer(self, request: Seen) -> Answer:
        if self.auth is not None:
            expected = "Basic " + base64.b64encode(self.auth.encode()).decode()
            if request.headers.get("authorization") != expected:
                return Answer.json(401, {"detail": f"Incorrect credentials: {request.headers.get('authorization')}"})
        if request.method != "POST" or request.path != "/sdapi/v1/txt2img":
            return Answer.json(404, {"detail": "Not Found"})
        body = request.body if isinstance(request.body, dict) else {}
        errors = []
        for key, kind in (("prompt", str), ("negative_prompt", str), ("seed", int), ("width", int), ("height", int),
                          ("steps", int)):  # fmt: skip
            if not isinstance(body.get(key), kind):
                errors.append({"loc": ["body", key], "msg": f"{key} must be {kind.__name__}", "type": "type_error"})
        if errors:
            return Answer.json(422, {"detail": errors})
        png = make_png(body["width"], body["height"], f"seed:{body['seed']}")
        return Answer.json(
            200,
            {
                "images": [base64.b64encode(png).decode()],
                "parameters": body,
                "info": json.dumps({"seed": body["seed"]}),
            },
        )
