"""The real provider adapters against local servers that speak each service's documented API."""

from __future__ import annotations

import io
import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from lingjing.studio.media.wav import wav_duration
from lingjing.studio.providers.http import (
    HttpSettings,
    ProviderClient,
    ProviderConfigError,
    ProviderError,
    ProviderUnavailable,
    redact,
)
from lingjing.studio.providers.images import (
    ComfyUIProvider,
    SketchProvider,
    build_prompt,
    effective_seed,
    fill_workflow,
    get_image_provider,
)
from lingjing.studio.providers.speech import get_speech_provider
from lingjing.studio.spec import CharacterSpec, ImageRequest, LineSpec, ShotSpec
from lingjing.studio.tests.fakes.servers import FakeComfyUI, FakeOpenAI, FakeSDWebUI, make_png

KEY = "sk-live-Zq8w3NvT4kQ9sP2xLmA7"
FAST = {"retries": 2, "backoff": 0.01, "backoff_max": 0.05, "timeout": 5}

HERO = CharacterSpec("林小雨", "黑色长发，蓝色眼睛", "白色校服", seed=1234, voice="cmn+f3")
RIVAL = CharacterSpec("陈默", "银色短发，高大", "黑色风衣", seed=98765)
SHOT = ShotSpec(
    3,
    "两人在天台上对峙",
    shot_type="medium",
    camera_move="push_in",
    location="学校天台",
    characters=(HERO, RIVAL),
    lines=(LineSpec("你终于来了。", "林小雨"),),
    seed=42,
)
REQUEST = ImageRequest(SHOT, 320, 568)


@pytest.fixture(autouse=True)
def _all_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)  # httpx/httpcore too: a key must not appear at any level
    yield
    assert KEY not in caplog.text
    assert "dXNlcjpzM2NyZXQtcGFzcw" not in caplog.text  # base64 of the SD-WebUI basic-auth pair


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(data)) as im:
        return im.size


def _closed_port() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now: connection refused
    return f"http://127.0.0.1:{port}"


def _leak_free(exc: ProviderError, provider: object) -> None:
    for text in (str(exc), repr(exc), json.dumps(exc.to_dict(), ensure_ascii=False), repr(provider)):
        assert KEY not in text
        assert KEY[:12] not in text


# --- the prompt -------------------------------------------------------------------------------------------


def test_prompt_carries_every_characters_static_and_dynamic_features_and_seed() -> None:
    prompt = build_prompt(REQUEST)
    for character in (HERO, RIVAL):
        assert character.name in prompt
        assert character.static_features in prompt
        assert character.dynamic_features in prompt
        assert f"seed {character.seed}" in prompt
    assert "medium shot" in prompt and "学校天台" in prompt and "两人在天台上对峙" in prompt
    assert build_prompt(REQUEST) == prompt


def test_edited_prompt_replaces_the_description_and_seed_falls_back_to_characters() -> None:
    shot = ShotSpec(1, "原始描述", prompt="作者改写的提示词", characters=(RIVAL,))
    request = ImageRequest(shot, 256, 256)
    assert "作者改写的提示词" in build_prompt(request) and "原始描述" not in build_prompt(request)
    assert effective_seed(request) == RIVAL.seed
    assert effective_seed(ImageRequest(ShotSpec(1, "无人"), 64, 64)) == effective_seed(
        ImageRequest(ShotSpec(2, "无人"), 64, 64)
    )


def test_fill_workflow_keeps_types_and_refuses_unknown_placeholders() -> None:
    filled = fill_workflow({"a": "{{seed}}", "b": ["x {{prompt}} y", 3], "c": "{{ width }}"},
                           {"seed": 7, "prompt": "p", "width": 64})  # fmt: skip
    assert filled == {"a": 7, "b": ["x p y", 3], "c": 64}
    with pytest.raises(KeyError):
        fill_workflow({"a": "{{sede}}"}, {"seed": 1})


# --- ComfyUI ----------------------------------------------------------------------------------------------


def test_comfyui_queues_the_filled_workflow_polls_history_and_fetches_the_image() -> None:
    with FakeComfyUI(pending_polls=2) as server:
        provider = get_image_provider("comfyui", {"base_url": server.url, "poll_interval": 0.01, **FAST})
        png = provider.generate(REQUEST)
    assert _png_size(png) == (320, 568)
    (workflow,) = server.prompts.values()
    texts = {n["inputs"]["text"] for n in workflow.values() if n["class_type"] == "CLIPTextEncode"}
    assert build_prompt(REQUEST) in texts
    sampler = next(n for n in workflow.values() if n["class_type"] == "KSampler")
    assert sampler["inputs"]["seed"] == 42
    latent = next(n for n in workflow.values() if n["class_type"] == "EmptyLatentImage")
    assert (latent["inputs"]["width"], latent["inputs"]["height"]) == (320, 568)
    assert len(server.seen("/history/")) == 3
    (view,) = server.seen("/view")
    assert view.query["subfolder"] == "lingjing" and view.query["type"] == "output"
    # the image is the one the service made for this seed, fitted to the request
    expected = Image.open(io.BytesIO(make_png(320, 568, "seed:42"))).getpixel((5, 5))
    assert Image.open(io.BytesIO(png)).getpixel((5, 5)) == expected


def test_results_are_re_encoded_without_the_services_metadata() -> None:
    with FakeComfyUI(pending_polls=0) as server:
        provider = get_image_provider("comfyui", {"base_url": server.url, "poll_interval": 0.01, **FAST})
        png = provider.generate(REQUEST)
        (view,) = server.seen("/view")
    served = make_png(8, 8, "x", text={"prompt": "secret workflow"})
    assert "prompt" in Image.open(io.BytesIO(served)).info  # the fake does embed it, like ComfyUI
    with Image.open(io.BytesIO(png)) as result:
        assert not {"prompt", "workflow", "parameters", "exif"} & set(result.info)
    assert build_prompt(REQUEST).encode() not in png


def test_comfyui_custom_workflow_from_json_text() -> None:
    workflow = {
        "1": {"class_type": "KSampler", "inputs": {"seed": "{{seed}}", "positive": "{{prompt}}, masterpiece"}},
        "2": {"class_type": "EmptyLatentImage", "inputs": {"width": "{{width}}", "height": "{{height}}"}},
        "3": {"class_type": "SaveImage", "inputs": {"filename_prefix": "lj"}},
    }
    with FakeComfyUI(pending_polls=0) as server:
        config = {"base_url": server.url, "workflow": json.dumps(workflow), "poll_interval": 0.01, **FAST}
        _png_size(get_image_provider("comfyui", config).generate(REQUEST))
    (sent,) = server.prompts.values()
    assert sent["1"]["inputs"]["positive"] == build_prompt(REQUEST) + ", masterpiece"


def test_comfyui_retries_a_500_then_succeeds() -> None:
    with FakeComfyUI(pending_polls=0) as server:
        server.fail_times = 2
        provider = get_image_provider("comfyui", {"base_url": server.url, "poll_interval": 0.01, **FAST})
        _png_size(provider.generate(REQUEST))
    assert len(server.seen("/prompt")) == 3 and len(server.prompts) == 1


def test_comfyui_execution_error_and_unknown_placeholder_are_clear() -> None:
    with FakeComfyUI(pending_polls=0, fail_run=True) as server:
        provider = get_image_provider("comfyui", {"base_url": server.url, "poll_interval": 0.01, **FAST})
        with pytest.raises(ProviderError, match="执行工作流时出错") as failed:
            provider.generate(REQUEST)
        assert failed.value.code == "provider_failed"
        bad = {"1": {"class_type": "SaveImage", "inputs": {"x": "{{colour}}"}}}
        broken = get_image_provider("comfyui", {"base_url": server.url, "workflow": bad})
        with pytest.raises(ProviderConfigError, match="colour"):
            broken.generate(REQUEST)
    assert len(server.seen("/prompt")) == 1  # the broken workflow never reached the service


def test_comfyui_gives_up_waiting_after_max_wait() -> None:
    with FakeComfyUI(pending_polls=10_000) as server:
        waits: list[float] = []
        provider = ComfyUIProvider(base_url=server.url, poll_interval=0.5, max_wait=2, sleep=waits.append)
        with pytest.raises(ProviderUnavailable, match="等待 ComfyUI 出图超过 2 秒"):
            provider.generate(REQUEST)
    assert waits == [0.5, 0.5, 0.5, 0.5]


# --- OpenAI-compatible images and speech ------------------------------------------------------------------


def test_openai_images_posts_generation_with_bearer_key_and_fits_the_result() -> None:
    with FakeOpenAI(KEY) as server:
        provider = get_image_provider(
            "openai", {"base_url": server.base, "api_key": KEY, "model": "gpt-image-1", **FAST}
        )
        png = provider.generate(REQUEST)
    assert _png_size(png) == (320, 568)
    (call,) = server.seen("/v1/images/generations")
    assert call.headers["authorization"] == f"Bearer {KEY}"
    assert call.body == {"model": "gpt-image-1", "prompt": build_prompt(REQUEST), "n": 1, "size": "1024x1536",
                         "response_format": "b64_json"}  # fmt: skip
    assert KEY not in repr(provider)


def test_openai_images_retries_500_and_503_then_succeeds() -> None:
    with FakeOpenAI(KEY) as server:
        server.fail_times = 2
        provider = get_image_provider("openai", {"base_url": server.base, "api_key": KEY, **FAST})
        _png_size(provider.generate(ImageRequest(SHOT, 300, 300)))
    calls = server.seen("/v1/images/generations")
    assert len(calls) == 3 and calls[-1].body["size"] == "1024x1024"


def test_openai_wrong_key_is_an_auth_error_that_does_not_repeat_the_key() -> None:
    with FakeOpenAI("sk-the-right-one-0000") as server:
        provider = get_image_provider("openai", {"base_url": server.base, "api_key": KEY, **FAST})
        with pytest.raises(ProviderError) as failed:
            provider.generate(REQUEST)
    assert failed.value.code == "provider_auth" and failed.value.status == 401
    assert "认证失败" in str(failed.value) and "authentication failed" in str(failed.value)
    assert "***" in str(failed.value)  # the service quoted the key; we show it redacted
    assert len(server.requests) == 1  # a 401 is not retried
    _leak_free(failed.value, provider)


def test_openai_speech_writes_wav_and_returns_its_real_duration(tmp_path: Path) -> None:
    with FakeOpenAI(KEY, streamed_wav=True) as server:
        config = {"base_url": server.base, "api_key": KEY, "model": "tts-1", "voice": "nova",
                  "voices": {"cmn+m3": "onyx"}, **FAST}  # fmt: skip
        speech = get_speech_provider("openai", config)
        duration = speech.synthesize("你好，灵境。", "cmn+f3", tmp_path / "a.wav")
        speech.synthesize("再见", "cmn+m3", tmp_path / "b.wav")
    assert duration == pytest.approx(0.05 * 6, abs=1e-3)
    assert wav_duration(tmp_path / "a.wav") == pytest.approx(duration)
    first, second = server.seen("/v1/audio/speech")
    assert first.body == {"model": "tts-1", "voice": "nova", "input": "你好，灵境。", "response_format": "wav"}
    assert second.body["voice"] == "onyx"
    assert first.headers["authorization"] == f"Bearer {KEY}"


def test_openai_speech_retries_then_reports_an_outage(tmp_path: Path) -> None:
    with FakeOpenAI(KEY) as server:
        server.fail_times = 99
        speech = get_speech_provider("openai", {"base_url": server.base, "api_key": KEY, **FAST})
        with pytest.raises(ProviderUnavailable, match="服务暂时不可用") as failed:
            speech.synthesize("你好", "alloy", tmp_path / "a.wav")
    assert len(server.requests) == 3 and failed.value.status == 500 and failed.value.retryable
    _leak_free(failed.value, speech)


# --- SD-WebUI ---------------------------------------------------------------------------------------------


def test_sdwebui_txt2img_sends_prompt_negative_seed_and_size() -> None:
    with FakeSDWebUI() as server:
        provider = get_image_provider("sdwebui", {"base_url": server.url, "steps": 12, **FAST})
        png = provider.generate(ImageRequest(SHOT, 322, 570, negative_prompt="模糊"))
    assert _png_size(png) == (322, 570)
    (call,) = server.seen("/sdapi/v1/txt2img")
    assert call.body["prompt"] == build_prompt(REQUEST)
    assert call.body["negative_prompt"] == "模糊"
    assert (call.body["seed"], call.body["width"], call.body["height"], call.body["steps"]) == (42, 320, 568, 12)


def test_sdwebui_retries_and_uses_basic_auth_without_leaking_it() -> None:
    with FakeSDWebUI(auth="user:s3cret-pass") as server:
        server.fail_times = 1
        provider = get_image_provider("sdwebui", {"base_url": server.url, "auth": "user:s3cret-pass", **FAST})
        _png_size(provider.generate(REQUEST))
        assert len(server.requests) == 2
        wrong = get_image_provider("sdwebui", {"base_url": server.url, "auth": "user:wrong-pass", **FAST})
        with pytest.raises(ProviderError) as failed:
            wrong.generate(REQUEST)
    assert failed.value.code == "provider_auth"
    assert "wrong-pass" not in str(failed.value) and "dXNlcjp3cm9uZy1wYXNz" not in str(failed.value)
    assert "s3cret" not in repr(provider)


# --- down, slow, misconfigured ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "extra"),
    [("comfyui", {}), ("openai", {"api_key": KEY}), ("sdwebui", {})],
)
def test_a_provider_that_is_down_fails_after_retries_with_a_clear_message(name: str, extra: dict[str, str]) -> None:
    url = _closed_port()
    provider = get_image_provider(name, {"base_url": url, **extra, **FAST})
    with pytest.raises(ProviderUnavailable) as failed:
        provider.generate(REQUEST)
    error = failed.value
    assert error.code == "provider_unreachable" and error.retryable
    assert "无法连接到服务" in str(error) and "cannot connect" in str(error) and url in str(error)
    _leak_free(error, provider)


def test_speech_provider_down(tmp_path: Path) -> None:
    speech = get_speech_provider("openai", {"base_url": _closed_port(), "api_key": KEY, **FAST})
    with pytest.raises(ProviderUnavailable, match="无法连接到服务") as failed:
        speech.synthesize("你好", "alloy", tmp_path / "x.wav")
    _leak_free(failed.value, speech)
    assert not (tmp_path / "x.wav").exists()


def test_timeouts_are_reported_as_such() -> None:
    with FakeOpenAI(KEY) as server:
        server.delay = 1.0
        provider = get_image_provider("openai", {"base_url": server.base, "api_key": KEY, "timeout": 0.2, "retries": 0})
        with pytest.raises(ProviderUnavailable, match="请求超时") as failed:
            provider.generate(REQUEST)
    assert failed.value.code == "provider_timeout"


def test_retries_back_off_exponentially_and_honour_retry_after() -> None:
    from lingjing.studio.tests.fakes.servers import Answer, FakeService

    class Busy(FakeService):
        def answer(self, request: object) -> Answer:
            return Answer.json(429, {"error": "busy"}, **{"Retry-After": "3"})

    slept: list[float] = []
    with Busy() as server:
        client = ProviderClient("busy", server.url, settings=HttpSettings(retries=3, backoff=0.5, backoff_max=2.5),
                                sleep=slept.append)  # fmt: skip
        with pytest.raises(ProviderUnavailable):
            client.request("GET", "/x")
    assert len(slept) == 3 and all(2.5 <= s <= 2.5 + 0.125 for s in slept)  # Retry-After 3 s, capped at 2.5 s
    slept.clear()
    with FakeOpenAI(KEY) as openai:
        openai.fail_times = 3
        client = ProviderClient("x", openai.base, api_key=KEY, settings=HttpSettings(retries=3, backoff=0.1),
                                sleep=slept.append)  # fmt: skip
        client.request("POST", "/images/generations", json={"model": "m", "prompt": "p", "size": "256x256",
                                                             "response_format": "b64_json"})  # fmt: skip
    assert len(slept) == 3  # 0.1, 0.2, 0.4 s plus at most a quarter of the base as jitter
    assert all(base <= s <= base + 0.025 for s, base in zip(slept, (0.1, 0.2, 0.4), strict=True))


@pytest.mark.parametrize(
    ("name", "config", "needle"),
    [
        ("openai", {"api_key": KEY}, "base_url"),
        ("openai", {"base_url": "http://127.0.0.1:9/v1"}, "api_key"),
        ("openai", {"base_url": "ftp://example.invalid", "api_key": KEY}, "http://"),
        ("comfyui", {}, "base_url"),
        ("sdwebui", {"base_url": "not a url"}, "http://"),
        ("sdwebui", {"base_url": "http://127.0.0.1:9", "auth": "no-colon"}, "user:password"),
        ("comfyui", {"base_url": "http://127.0.0.1:9", "workflow": "/nonexistent/workflow.json"}, "workflow"),
        ("midjourney", {}, "unknown image provider"),
    ],
)
def test_misconfiguration_is_refused_before_any_request(name: str, config: dict[str, str], needle: str) -> None:
    with pytest.raises(ProviderConfigError) as failed:
        get_image_provider(name, {**config, **FAST})
    assert needle in str(failed.value)
    assert failed.value.code == "provider_misconfigured"
    assert any("\u4e00" <= ch <= "\u9fff" for ch in failed.value.message_zh)
    _leak_free(failed.value, None)


def test_speech_misconfiguration() -> None:
    with pytest.raises(ProviderConfigError, match="api_key"):
        get_speech_provider("openai", {"base_url": "http://127.0.0.1:9/v1"})
    with pytest.raises(ProviderConfigError, match="unknown speech provider"):
        get_speech_provider("azure")
    missing = get_speech_provider("espeak", {"executable": "/nonexistent/espeak-ng"})
    with pytest.raises(ProviderConfigError, match="espeak-ng"):
        missing.synthesize("你好", "cmn", Path("/tmp/never.wav"))


def test_credentials_in_the_base_url_become_basic_auth_and_are_redacted() -> None:
    with FakeSDWebUI(auth="user:s3cret-pass") as server:
        url = server.url.replace("http://", "http://user:s3cret-pass@")
        provider = get_image_provider("sdwebui", {"base_url": url, **FAST})
        _png_size(provider.generate(REQUEST))
        assert "s3cret" not in repr(provider)
    assert redact("key=abcd1234 and abcd1234", ["abcd1234"]) == "key=*** and ***"


def test_sketch_provider_is_the_offline_default() -> None:
    provider = get_image_provider("sketch", {})
    assert isinstance(provider, SketchProvider)
    png = provider.generate(REQUEST)
    assert _png_size(png) == (320, 568) and png == provider.generate(REQUEST)
