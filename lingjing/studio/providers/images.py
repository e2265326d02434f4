"""Image providers: one interface, the offline sketch renderer and three real services.

``get_image_provider(name, config)`` builds one from the deployment's settings:

========== ======================================================================================
``sketch``  offline default: the deterministic storyboard sketch (``media.sketch``), no network
``comfyui`` ComfyUI's workflow API: the workflow JSON (API format) with ``{{prompt}}``, ``{{negative}}``,
            ``{{seed}}``, ``{{width}}``, ``{{height}}`` placeholders; ``POST /prompt`` → ``prompt_id``, poll
            ``GET /history/{prompt_id}``, fetch ``GET /view?filename=&subfolder=&type=``
``openai``  OpenAI-compatible ``POST {base}/images/generations`` (``model``, ``prompt``, ``size``,
            ``response_format: b64_json``) with a Bearer key
``sdwebui`` AUTOMATIC1111 SD-WebUI ``POST /sdapi/v1/txt2img`` → ``images[0]`` (base64)
========== ======================================================================================

Every request's prompt comes from :func:`build_prompt`, the one place that turns a shot into words: the style,
the shot type, the location, the description (or the author's edited prompt) and, for every character, its
name, static features, dynamic features and seed, so a character looks the same in every shot whichever
service draws it. Whatever a service returns is decoded, fitted to the requested size and re-encoded as a
metadata-free PNG, so callers always get a valid PNG of the size they asked for.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import io
import json
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from PIL import Image, ImageOps, UnidentifiedImageError

from lingjing.studio.media.sketch import CAMERA_TERMS, SHOT_TERMS, png_bytes, render_sketch
from lingjing.studio.providers.http import (
    REDACTED,
    HttpSettings,
    ProviderClient,
    ProviderConfigError,
    ProviderError,
    ProviderUnavailable,
    require_key,
)
from lingjing.studio.spec import ImageRequest

DEFAULT_NEGATIVE = "lowres, blurry, bad anatomy, bad hands, extra fingers, deformed face, text, watermark, signature"


class ImageProvider(Protocol):
    name: str

    def generate(self, request: ImageRequest) -> bytes:
        """A PNG of ``request.width`` × ``request.height`` for ``request.shot``."""
        ...


# --- prompts ----------------------------------------------------------------------------------------------


def effective_seed(request: ImageRequest) -> int:
    """The shot's seed; when unset, the seed of its first character; else a stable hash of the description."""
    shot = request.shot
    if shot.seed:
        return shot.seed % 2**32
    for character in shot.characters:
        if character.seed:
            return character.seed % 2**32
    return int.from_bytes(hashlib.sha256(shot.description.encode()).digest()[:4], "big")


def build_prompt(request: ImageRequest) -> str:
    """The text prompt of an image request (deterministic; every character's features and seed included)."""
    shot = request.shot
    parts = [f"{request.style} style" if request.style else "", SHOT_TERMS.get(shot.shot_type, ("", shot.shot_type))[1]]
    if shot.camera_move != "static":
        parts.append(f"composition for a {CAMERA_TERMS.get(shot.camera_move, ('', shot.camera_move))[1]}")
    if shot.location:
        parts.append(f"location: {shot.location}")
    scene = (shot.prompt or shot.description).strip()
    if scene:
        parts.append(f"scene: {scene}")
    for character in shot.characters:
        traits = "; ".join(t for t in (character.static_features.strip(), character.dynamic_features.strip()) if t)
        parts.append(f"character {character.name}" + (f" ({traits})" if traits else "") + f", seed {character.seed}")
    speaker = next((ln.speaker for ln in shot.lines if ln.speaker), None)
    if speaker:
        parts.append(f"{speaker} is speaking")
    return ", ".join(p for p in parts if p)


def negative_prompt(request: ImageRequest) -> str:
    return request.negative_prompt.strip() or DEFAULT_NEGATIVE


def normalise_png(provider: str, data: bytes, width: int, height: int) -> bytes:
    """Decode what a service returned, fit it to ``width`` × ``height`` (cover, centred) and re-encode as PNG."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            image = im.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ProviderError(
            provider, "服务返回的内容不是图片", "the service returned something that is not an image",
            code="provider_bad_response",
        ) from exc  # fmt: skip
    if image.size != (width, height):
        image = ImageOps.fit(image, (width, height), Image.Resampling.LANCZOS)
    return png_bytes(image)


def _b64_image(provider: str, value: Any) -> bytes:
    if not isinstance(value, str) or not value:
        raise ProviderError(provider, "服务没有返回图片", "the service returned no image", code="provider_bad_response")
    if value.startswith("data:"):
        value = value.split(",", 1)[-1]
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProviderError(
            provider, "服务返回的图片编码无效", "the service returned invalid base64 image data",
            code="provider_bad_response",
        ) from exc  # fmt: skip


# --- offline ----------------------------------------------------------------------------------------------


class SketchProvider:
    name = "sketch"

    def __repr__(self) -> str:
        return "SketchProvider()"

    def generate(self, request: ImageRequest) -> bytes:
        return png_bytes(render_sketch(request))


# --- ComfyUI ----------------------------------------------------------------------------------------------

# ComfyUI's stock text-to-image graph in API format; a deployment normally supplies its own ``workflow``.
DEFAULT_COMFYUI_WORKFLOW: dict[str, Any] = {
    "3": {"class_type": "KSampler", "inputs": {
        "seed": "{{seed}}", "steps": 20, "cfg": 7, "sampler_name": "euler", "scheduler": "normal", "denoise": 1,
        "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0]}},
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "{{checkpoint}}"}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": "{{width}}", "height": "{{height}}", "batch_size": 1}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "{{prompt}}", "clip": ["4", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "{{negative}}", "clip": ["4", 1]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "lingjing", "images": ["8", 0]}},
}  # fmt: skip


def fill_workflow(workflow: Any, values: Mapping[str, Any]) -> Any:
    """Replace ``{{name}}`` placeholders in a workflow: a string that is exactly one placeholder takes the value
    with its type (so ``"{{seed}}"`` becomes a number); placeholders inside longer strings are substituted as text.
    Unknown placeholders are refused, so a typo in a workflow is caught before the service sees it.
    """
    if isinstance(workflow, dict):
        return {k: fill_workflow(v, values) for k, v in workflow.items()}
    if isinstance(workflow, list):
        return [fill_workflow(v, values) for v in workflow]
    if not isinstance(workflow, str) or "{{" not in workflow:
        return workflow
    stripped = workflow.strip()
    if stripped.startswith("{{") and stripped.endswith("}}") and stripped.count("{{") == 1:
        key = stripped[2:-2].strip()
        if key not in values:
            raise KeyError(key)
        return values[key]
    text = workflow
    while "{{" in text:
        start = text.index("{{")
        end = text.find("}}", start)
        if end < 0:
            break
        key = text[start + 2 : end].strip()
        if key not in values:
            raise KeyError(key)
        text = text[:start] + str(values[key]) + text[end + 2 :]
    return text


class ComfyUIProvider:
    name = "comfyui"

    def __init__(
        self,
        *,
        base_url: str,
        workflow: Mapping[str, Any] | None = None,
        checkpoint: str = "v1-5-pruned-emaonly.safetensors",
        api_key: str | None = None,
        poll_interval: float = 1.0,
        max_wait: float = 600.0,
        http: HttpSettings | None = None,
        client: ProviderClient | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.workflow = dict(workflow or DEFAULT_COMFYUI_WORKFLOW)
        self.checkpoint = checkpoint
        self.poll_interval = poll_interval
        self.max_wait = max_wait
        self._sleep = sleep
        self._client = client or ProviderClient(self.name, base_url, api_key=api_key, settings=http, sleep=sleep)
        self.client_id = str(uuid.uuid4())

    def __repr__(self) -> str:
        return f"ComfyUIProvider(base_url={self._client.base_url!r}, checkpoint={self.checkpoint!r})"

    def prepared_workflow(self, request: ImageRequest) -> Any:
        values = {
            "prompt": build_prompt(request),
            "negative": negative_prompt(request),
            "seed": effective_seed(request),
            "width": request.width // 8 * 8,
            "height": request.height // 8 * 8,
            "checkpoint": self.checkpoint,
        }
        try:
            return fill_workflow(copy.deepcopy(self.workflow), values)
        except KeyError as exc:
            raise ProviderConfigError(
                self.name,
                f"工作流中有未知的占位符 {{{{{exc.args[0]}}}}}",
                f"the workflow has an unknown placeholder {{{{{exc.args[0]}}}}}; known: {', '.join(values)}",
            ) from exc

    def generate(self, request: ImageRequest) -> bytes:
        queued = self._client.json(
            "POST", "/prompt", json={"prompt": self.prepared_workflow(request), "client_id": self.client_id}
        )
        prompt_id = queued.get("prompt_id") if isinstance(queued, dict) else None
        if not prompt_id or (isinstance(queued, dict) and queued.get("node_errors")):
            raise ProviderError(
                self.name,
                "ComfyUI 拒绝了工作流，请检查工作流与模型名称",
                f"ComfyUI rejected the workflow: {json.dumps(queued, ensure_ascii=False)[:300]}",
                code="provider_rejected",
            )
        image = self._wait_for_image(str(prompt_id))
        data = self._client.request(
            "GET",
            "/view",
            params={"filename": image["filename"], "subfolder": image.get("subfolder", ""),
                    "type": image.get("type", "output")},
        ).content  # fmt: skip
        return normalise_png(self.name, data, request.width, request.height)

    def _wait_for_image(self, prompt_id: str) -> dict[str, str]:
        waited = 0.0
        while True:
            history = self._client.json("GET", f"/history/{prompt_id}")
            entry = history.get(prompt_id) if isinstance(history, dict) else None
            if entry:
                status = entry.get("status") or {}
                if status.get("status_str") == "error":
                    raise ProviderError(
                        self.name,
                        "ComfyUI 执行工作流时出错",
                        f"ComfyUI failed while running the workflow: {json.dumps(status.get('messages', []))[:300]}",
                        code="provider_failed",
                    )
                for output in (entry.get("outputs") or {}).values():
                    for image in output.get("images") or []:
                        if image.get("filename") and image.get("type", "output") != "temp":
                            return dict(image)
                if status.get("completed"):
                    raise ProviderError(
                        self.name,
                        "ComfyUI 工作流没有输出图片（需要 SaveImage 节点）",
                        "the ComfyUI workflow produced no saved image (it needs a SaveImage node)",
                        code="provider_bad_response",
                    )
            if waited >= self.max_wait:
                raise ProviderUnavailable(
                    self.name,
                    f"等待 ComfyUI 出图超过 {self.max_wait:.0f} 秒",
                    f"gave up waiting for ComfyUI after {self.max_wait:.0f}s",
                    code="provider_timeout",
                )
            self._sleep(self.poll_interval)
            waited += self.poll_interval


# --- OpenAI-compatible ------------------------------------------------------------------------------------


class OpenAIImagesProvider:
    name = "openai-images"

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        model: str = "gpt-image-1",
        size: str | None = None,
        response_format: str | None = "b64_json",
        http: HttpSettings | None = None,
        client: ProviderClient | None = None,
    ) -> None:
        self.model = model
        self.size = size
        self.response_format = response_format
        self._client = client or ProviderClient(self.name, base_url, api_key=require_key(self.name, api_key),
                                                settings=http)  # fmt: skip

    def __repr__(self) -> str:
        return f"OpenAIImagesProvider(base_url={self._client.base_url!r}, model={self.model!r}, api_key={REDACTED!r})"

    def size_for(self, request: ImageRequest) -> str:
        """The service's sizes are fixed: the configured one, else the one with the nearest aspect ratio."""
        if self.size:
            return self.size
        ratio = request.width / request.height
        if ratio < 0.83:
            return "1024x1536"
        if ratio > 1.2:
            return "1536x1024"
        return "1024x1024"

    def generate(self, request: ImageRequest) -> bytes:
        body: dict[str, Any] = {"model": self.model, "prompt": build_prompt(request), "n": 1,
                                "size": self.size_for(request)}  # fmt: skip
        if self.response_format:
            body["response_format"] = self.response_format
        answer = self._client.json("POST", "/images/generations", json=body)
        data = answer.get("data") if isinstance(answer, dict) else None
        first = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
        raw = _b64_image(self.name, first.get("b64_json"))
        return normalise_png(self.name, raw, request.width, request.height)


# --- SD-WebUI ---------------------------------------------------------------------------------------------


class SDWebUIProvider:
    name = "sdwebui"

    def __init__(
        self,
        *,
        base_url: str,
        steps: int = 20,
        cfg_scale: float = 7.0,
        sampler_name: str | None = None,
        auth: str | None = None,  # "user:password" of --api-auth
        http: HttpSettings | None = None,
        client: ProviderClient | None = None,
    ) -> None:
        self.steps = steps
        self.cfg_scale = cfg_scale
        self.sampler_name = sampler_name
        basic = None
        if auth:
            user, sep, password = auth.partition(":")
            if not sep:
                raise ProviderConfigError(self.name, "auth 应为 用户名:密码", "auth must be user:password")
            basic = (user, password)
        self._client = client or ProviderClient(self.name, base_url, basic_auth=basic, settings=http,
                                                extra_secrets=[auth] if auth else [])  # fmt: skip

    def __repr__(self) -> str:
        return f"SDWebUIProvider(base_url={self._client.base_url!r}, steps={self.steps})"

    def generate(self, request: ImageRequest) -> bytes:
        body: dict[str, Any] = {
            "prompt": build_prompt(request),
            "negative_prompt": negative_prompt(request),
            "seed": effective_seed(request),
            "width": request.width // 8 * 8,
            "height": request.height // 8 * 8,
            "steps": self.steps,
            "cfg_scale": self.cfg_scale,
            "batch_size": 1,
            "n_iter": 1,
        }
        if self.sampler_name:
            body["sampler_name"] = self.sampler_name
        answer = self._client.json("POST", "/sdapi/v1/txt2img", json=body)
        images = answer.get("images") if isinstance(answer, dict) else None
        raw = _b64_image(self.name, images[0] if isinstance(images, list) and images else None)
        return normalise_png(self.name, raw, request.width, request.height)


# --- factory ----------------------------------------------------------------------------------------------


def _workflow(config: Mapping[str, Any]) -> Mapping[str, Any] | None:
    value = config.get("workflow")
    if value is None or isinstance(value, Mapping):
        return value
    try:
        text = str(value)
        if not text.lstrip().startswith("{"):
            text = Path(text).read_text(encoding="utf-8")
        parsed = json.loads(text)
    except (OSError, ValueError) as exc:
        raise ProviderConfigError(
            "comfyui", "无法读取 ComfyUI 工作流（应为 API 格式的 JSON）",
            "cannot read the ComfyUI workflow (API-format JSON or a path to it)",
        ) from exc  # fmt: skip
    if not isinstance(parsed, dict):
        raise ProviderConfigError(
            "comfyui", "ComfyUI 工作流应为 JSON 对象", "the ComfyUI workflow must be a JSON object"
        )
    return parsed


def get_image_provider(name: str, config: Mapping[str, Any] | None = None) -> ImageProvider:
    """Build the provider ``name`` (``sketch``, ``comfyui``, ``openai``, ``sdwebui``) from its settings."""
    config = dict(config or {})
    http = HttpSettings.from_config({"name": name, **config})
    if name in ("sketch", "offline", ""):
        return SketchProvider()
    if name == "comfyui":
        return ComfyUIProvider(
            base_url=config.get("base_url", ""),
            workflow=_workflow(config),
            checkpoint=str(config.get("checkpoint", "v1-5-pruned-emaonly.safetensors")),
            api_key=config.get("api_key"),
            poll_interval=float(config.get("poll_interval", 1.0)),
            max_wait=float(config.get("max_wait", 600.0)),
            http=http,
        )
    if name in ("openai", "openai-images"):
        return OpenAIImagesProvider(
            base_url=config.get("base_url", ""),
            api_key=config.get("api_key", ""),
            model=str(config.get("model", "gpt-image-1")),
            size=config.get("size"),
            response_format=config.get("response_format", "b64_json"),
            http=http,
        )
    if name in ("sdwebui", "sd-webui", "automatic1111"):
        return SDWebUIProvider(
            base_url=config.get("base_url", ""),
            steps=int(config.get("steps", 20)),
            cfg_scale=float(config.get("cfg_scale", 7.0)),
            sampler_name=config.get("sampler_name"),
            auth=config.get("auth"),
            http=http,
        )
    raise ProviderConfigError(name or "images", f"未知的图像服务：{name}", f"unknown image provider: {name!r}")
