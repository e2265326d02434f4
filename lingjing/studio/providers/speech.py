"""Speech providers: text in, a WAV file and its real duration out.

* ``espeak`` (default, offline): the Debian ``espeak-ng`` binary with the Mandarin ``cmn`` voice. A character's
  voice setting (``CharacterSpec.voice``) reads ``"cmn"``, ``"cmn+f3"`` (a variant) and optionally
  ``rate=<wpm>`` / ``pitch=<0-99>``: ``"cmn+f3 rate=160 pitch=70"``.
* ``openai``: an OpenAI-compatible ``POST {base}/audio/speech`` with ``{model, voice, input,
  response_format: "wav"}`` and a Bearer key. espeak-style voice settings are mapped through the config's
  ``voices`` table (or fall back to its ``voice``), so one character bible works with either provider.

The duration returned is read back from the written file, never estimated.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from lingjing.studio.media.wav import AudioError, wav_duration
from lingjing.studio.providers.http import (
    REDACTED,
    HttpSettings,
    ProviderClient,
    ProviderConfigError,
    ProviderError,
    require_key,
)


class SpeechProvider(Protocol):
    name: str

    def synthesize(self, text: str, voice: str, out_path: Path) -> float:
        """Speak ``text`` with ``voice`` into the WAV file ``out_path``; return its duration in seconds."""
        ...


# --- espeak-ng --------------------------------------------------------------------------------------------

_VOICE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*(\+[A-Za-z0-9_-]+)?$")


@dataclass(frozen=True)
class EspeakVoice:
    voice: str = "cmn"  # language voice, optionally "+variant"
    rate: int = 250  # espeak -s; for cmn, 250 ≈ 4 characters a second with pauses, the storyboard's pacing
    pitch: int = 50  # 0..99 (espeak -p)

    def __str__(self) -> str:
        return f"{self.voice} rate={self.rate} pitch={self.pitch}"


def parse_espeak_voice(spec: str, *, default_rate: int = 250) -> EspeakVoice:
    """``"cmn+f3 rate=160 pitch=70"`` → ``EspeakVoice("cmn+f3", 160, 70)``. Unknown words are refused."""
    words = (spec or "cmn").split()
    voice = words[0]
    if not _VOICE_RE.match(voice):
        raise ValueError(f"invalid espeak-ng voice: {voice!r}")
    rate, pitch = default_rate, 50
    for word in words[1:]:
        key, _, value = word.partition("=")
        if key not in ("rate", "pitch") or not value.isdigit():
            raise ValueError(f"invalid voice option {word!r}: use rate=<80-450> or pitch=<0-99>")
        if key == "rate":
            rate = min(450, max(80, int(value)))
        else:
            pitch = min(99, int(value))
    return EspeakVoice(voice, rate, pitch)


# Distinct voices handed out to characters in order (narration keeps plain "cmn").
VOICE_PALETTE = (
    "cmn+f3 pitch=62",
    "cmn+m3 pitch=42",
    "cmn+f4 rate=240 pitch=70",
    "cmn+m7 rate=235 pitch=35",
    "cmn+f2 rate=265 pitch=56",
    "cmn+m2 rate=245 pitch=48",
    "cmn+f5 rate=240 pitch=66",
    "cmn+m5 rate=260 pitch=40",
)


def suggest_voice(index: int) -> str:
    """A distinct espeak-ng voice setting for the ``index``-th character of a project."""
    return VOICE_PALETTE[index % len(VOICE_PALETTE)]


class EspeakProvider:
    name = "espeak"

    def __init__(self, *, executable: str | None = None, rate: int = 250, timeout: float = 120.0) -> None:
        self.executable = executable or shutil.which("espeak-ng") or ""
        self.rate = rate
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"EspeakProvider(executable={self.executable!r}, rate={self.rate})"

    def _require(self) -> str:
        if not self.executable or not Path(self.executable).exists():
            raise ProviderConfigError(
                self.name,
                "未找到 espeak-ng：请安装 Debian 软件包 espeak-ng（apt-get install espeak-ng）",
                "espeak-ng not found: install the Debian package espeak-ng",
            )
        return self.executable

    def synthesize(self, text: str, voice: str, out_path: Path) -> float:
        try:
            spec = parse_espeak_voice(voice, default_rate=self.rate)
        except ValueError as exc:
            raise ProviderConfigError(self.name, f"语音设置无效：{voice}", str(exc)) from exc
        out_path.parent.mkdir(parents=True, exist_ok=True)
        cmd = [self._require(), "-v", spec.voice, "-s", str(spec.rate), "-p", str(spec.pitch), "-w", str(out_path),
               "--stdin"]  # fmt: skip
        try:
            result = subprocess.run(  # noqa: S603 — argv list, text on stdin
                cmd, input=text.encode(), capture_output=True, timeout=self.timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise ProviderError(
                self.name, "语音合成超时", "speech synthesis timed out", code="provider_timeout"
            ) from exc
        if result.returncode != 0 or not out_path.exists():
            detail = result.stderr.decode(errors="replace").strip()[-200:]
            raise ProviderError(
                self.name,
                f"语音合成失败（声音 {spec.voice}）",
                f"espeak-ng failed for voice {spec.voice}: {detail}",
                code="provider_failed",
            )
        return wav_duration(out_path)


# --- OpenAI-compatible ------------------------------------------------------------------------------------


class OpenAISpeechProvider:
    name = "openai-speech"

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        model: str = "tts-1",
        voice: str = "alloy",
        voices: Mapping[str, str] | None = None,
        http: HttpSettings | None = None,
        client: ProviderClient | None = None,
    ) -> None:
        self.model = model
        self.default_voice = voice
        self.voices = dict(voices or {})
        self._client = client or ProviderClient(self.name, base_url, api_key=require_key(self.name, api_key),
                                                settings=http)  # fmt: skip

    def __repr__(self) -> str:
        return f"OpenAISpeechProvider(base_url={self._client.base_url!r}, model={self.model!r}, api_key={REDACTED!r})"

    def provider_voice(self, voice: str) -> str:
        """Map a character's voice setting to a voice name of the service."""
        if voice in self.voices:
            return self.voices[voice]
        if not voice or voice.split()[0].split("+")[0] == "cmn" or " " in voice:
            return self.default_voice  # an espeak-style setting: the service has its own voices
        return voice

    def synthesize(self, text: str, voice: str, out_path: Path) -> float:
        response = self._client.request(
            "POST",
            "/audio/speech",
            json={"model": self.model, "voice": self.provider_voice(voice), "input": text, "response_format": "wav"},
        )
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_bytes(response.content)
        try:
            return wav_duration(out_path)
        except AudioError as exc:
            out_path.unlink(missing_ok=True)
            raise ProviderError(
                self.name,
                "服务返回的音频不是 WAV 格式",
                f"the service did not return WAV audio ({response.headers.get('content-type', '?')})",
                code="provider_bad_response",
            ) from exc


def get_speech_provider(name: str, config: Mapping[str, Any] | None = None) -> SpeechProvider:
    """``"espeak"`` (offline default) or ``"openai"``; ``config`` is the deployment's settings for it."""
    config = dict(config or {})
    if name in ("espeak", "espeak-ng", "", "offline"):
        return EspeakProvider(executable=config.get("executable"), rate=int(config.get("rate", 250)))
    if name in ("openai", "openai-speech"):
        return OpenAISpeechProvider(
            base_url=config.get("base_url", ""),
            api_key=config.get("api_key", ""),
            model=str(config.get("model", "tts-1")),
            voice=str(config.get("voice", "alloy")),
            voices=config.get("voices"),
            http=HttpSettings.from_config({"name": "openai-speech", **config}),
        )
    raise ProviderConfigError(name or "speech", f"未知的语音服务：{name}", f"unknown speech provider: {name!r}")
