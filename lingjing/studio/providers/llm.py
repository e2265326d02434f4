"""Storyboards from an OpenAI-compatible chat completions API (``POST {base_url}/chat/completions``).

The request asks for ``response_format: {"type": "json_schema", ...}`` with :data:`SHOT_SCHEMA`, so a
conforming service answers with exactly the shots we need; the answer is still validated here, because
"compatible" services differ. Timeouts, retries and redaction of the API key come from
:class:`~lingjing.studio.providers.http.ProviderClient`. Calling this sends the author's text off the machine:
callers must pass :func:`lingjing.studio.disclosure.check_and_log_disclosure` first.

Config (``settings.LINGJING_STUDIO_PROVIDERS["llm"]``): ``base_url``, ``api_key``, ``model``, and optionally
``timeout``, ``retries``, ``temperature``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, cast, get_args

import httpx

from lingjing.studio.providers.http import HttpSettings, ProviderClient, ProviderError, require_key
from lingjing.studio.spec import CameraMove, CharacterSpec, LineSpec, ShotSpec, ShotType, Storyboard
from lingjing.studio.storyboard import build_prompt, estimate_duration, stable_seed

PROVIDER = "llm"
SHOT_TYPES = list(get_args(ShotType))
CAMERA_MOVES = list(get_args(CameraMove))

SHOT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["characters", "shots"],
    "properties": {
        "characters": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "static_features", "dynamic_features"],
                "properties": {
                    "name": {"type": "string"},
                    "static_features": {"type": "string", "description": "相貌、体型、发型等固定特征"},
                    "dynamic_features": {"type": "string", "description": "服装等本集特征"},
                },
            },
        },
        "shots": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["description", "shot_type", "camera_move", "location", "characters", "lines"],
                "properties": {
                    "description": {"type": "string", "description": "画面内容"},
                    "shot_type": {"type": "string", "enum": SHOT_TYPES},
                    "camera_move": {"type": "string", "enum": CAMERA_MOVES},
                    "location": {"type": "string"},
                    "characters": {"type": "array", "items": {"type": "string"}},
                    "lines": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["text", "speaker"],
                            "properties": {
                                "text": {"type": "string"},
                                "speaker": {"type": ["string", "null"], "description": "旁白为 null"},
                            },
                        },
                    },
                },
            },
        },
    },
}

SYSTEM_PROMPT = (
    "你是动漫分镜师。把用户给出的小说章节拆成按顺序排列的镜头。每个镜头给出画面内容、景别（shot_type）、"
    "运镜（camera_move）、地点、出场角色，以及该镜头的台词或旁白（lines；旁白的 speaker 为 null）。"
    "新地点的第一个镜头用 establishing；对白和情绪用 close；紧张处用 push_in。不要遗漏原文的对白。"
    "同时列出出场角色的固定外貌特征和服装。只输出符合 JSON Schema 的 JSON。"
)


class LLMStoryboarder:
    """``storyboard(text)`` → :class:`~lingjing.studio.spec.Storyboard` via one chat completion."""

    def __init__(self, config: Mapping[str, Any], *, transport: httpx.BaseTransport | None = None) -> None:
        self.model = str(config.get("model") or "gpt-4o-mini")
        self.temperature = float(config.get("temperature", 0.2))
        self.client = ProviderClient(
            PROVIDER,
            str(config.get("base_url") or ""),
            api_key=require_key(PROVIDER, config.get("api_key")),
            settings=HttpSettings.from_config({"name": PROVIDER, **config}),
            transport=transport,
        )

    def close(self) -> None:
        self.client.close()

    def request_body(self, text: str, *, title: str = "") -> dict[str, Any]:
        user = f"标题：{title}\n\n{text}" if title else text
        return {
            "model": self.model,
            "temperature": self.temperature,
            "messages": [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "storyboard", "strict": True, "schema": SHOT_SCHEMA},
            },
        }

    def storyboard(
        self,
        text: str,
        *,
        title: str = "",
        characters: tuple[CharacterSpec, ...] = (),
        style: str = "anime",
        start_index: int = 0,
    ) -> Storyboard:
        answer = self.client.json("POST", "/chat/completions", json=self.request_body(text, title=title))
        try:
            content = answer["choices"][0]["message"]["content"]
            data = json.loads(content) if isinstance(content, str) else content
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise _bad("回答中没有可解析的分镜 JSON", "the answer holds no storyboard JSON") from exc
        return parse_storyboard(data, title=title, known=characters, style=style, start_index=start_index)


def _bad(zh: str, en: str) -> ProviderError:
    return ProviderError(PROVIDER, zh, en, code="provider_bad_response")


def cast_shot_type(value: Any) -> ShotType:
    return cast(ShotType, value) if value in SHOT_TYPES else "medium"


def cast_camera_move(value: Any) -> CameraMove:
    return cast(CameraMove, value) if value in CAMERA_MOVES else "static"


def parse_storyboard(
    data: Any,
    *,
    title: str = "",
    known: tuple[CharacterSpec, ...] = (),
    style: str = "anime",
    start_index: int = 0,
) -> Storyboard:
    """Validate the model's JSON and build shots; unknown enum values fall back to safe defaults."""
    if not isinstance(data, dict) or not isinstance(data.get("shots"), list) or not data["shots"]:
        raise _bad("分镜 JSON 缺少 shots", "the storyboard JSON has no shots")
    people: dict[str, CharacterSpec] = {c.name: c for c in known}
    for raw in data.get("characters") or []:
        if isinstance(raw, dict) and str(raw.get("name", "")).strip():
            name = str(raw["name"]).strip()[:40]
            if name not in people:
                people[name] = CharacterSpec(
                    name=name,
                    static_features=str(raw.get("static_features") or "")[:500],
                    dynamic_features=str(raw.get("dynamic_features") or "")[:500],
                    seed=stable_seed("character", name),
                )
    shots: list[ShotSpec] = []
    for raw in data["shots"]:
        if not isinstance(raw, dict):
            raise _bad("分镜 JSON 中的镜头格式不对", "a shot in the storyboard JSON is not an object")
        lines = tuple(
            LineSpec(str(line["text"]).strip(), (str(line.get("speaker") or "").strip() or None))
            for line in raw.get("lines") or []
            if isinstance(line, dict) and str(line.get("text") or "").strip()
        )
        names = [str(n).strip()[:40] for n in raw.get("characters") or [] if str(n).strip()]
        names += [line.speaker for line in lines if line.speaker and line.speaker not in names]
        for name in names:
            people.setdefault(name, CharacterSpec(name=name, seed=stable_seed("character", name)))
        shot_type = cast_shot_type(raw.get("shot_type"))
        camera_move = cast_camera_move(raw.get("camera_move"))
        description = str(raw.get("description") or "").strip() or "".join(line.text for line in lines)
        index = start_index + len(shots)
        shot = ShotSpec(
            index=index,
            description=description[:2000],
            shot_type=shot_type,
            camera_move=camera_move,
            location=str(raw.get("location") or "").strip()[:40],
            characters=tuple(people[n] for n in dict.fromkeys(names)),
            lines=lines,
            duration=estimate_duration("".join(line.text for line in lines) or description),
            seed=stable_seed(title, str(index), description),
        )
        shots.append(replace(shot, prompt=build_prompt(shot, style=style)))
    locations = list(dict.fromkeys(s.location for s in shots if s.location))
    return Storyboard(title=title, shots=shots, characters=list(people.values()), locations=locations)
