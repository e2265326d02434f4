"""The one HTTP client every studio provider uses: timeouts, retries with exponential backoff, bilingual errors,
and secrets kept out of every message, log line and repr.

Why one client: each adapter (ComfyUI, OpenAI-compatible images and speech, SD-WebUI, LLMs) would otherwise grow
its own retry loop and its own way of leaking an API key into a traceback. Here:

1. A request is retried on connection errors, timeouts, 5xx and 429 (``Retry-After`` honoured, capped), with
   ``backoff * 2**attempt`` plus a little jitter between tries; any other 4xx fails at once.
2. Every failure is a :class:`ProviderError` carrying a Chinese and an English message (``str()`` shows both), a
   machine ``code`` and the HTTP status, so the studio can show it to the author and decide about retrying the job.
3. Secrets (the API key, basic-auth passwords, user-info in the base URL) are registered with the client and
   replaced by ``***`` in any text that leaves it: error messages, response snippets, log lines and ``repr``.
   Log lines name the method, the path and the status only — never headers or bodies.
"""

from __future__ import annotations

import base64
import logging
import random
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

logger = logging.getLogger("lingjing.studio.providers")

REDACTED = "***"


class ProviderError(Exception):
    """A provider call failed. ``str(exc)`` is ``"<provider>：<中文>（<English>）"``; no secret is ever inside."""

    def __init__(
        self,
        provider: str,
        message_zh: str,
        message_en: str,
        *,
        code: str = "provider_error",
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        self.provider = provider
        self.message_zh = message_zh
        self.message_en = message_en
        self.code = code
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after  # seconds the service asked us to wait (HTTP Retry-After)
        super().__init__(f"{provider}：{message_zh}（{message_en}）")

    def to_dict(self) -> dict[str, Any]:
        return {"provider": self.provider, "code": self.code, "message": str(self), "status": self.status}


class ProviderConfigError(ProviderError):
    """The deployment's provider settings are missing or invalid (nothing was sent)."""

    def __init__(self, provider: str, message_zh: str, message_en: str) -> None:
        super().__init__(provider, message_zh, message_en, code="provider_misconfigured")


class ProviderUnavailable(ProviderError):
    """The provider could not be reached or kept failing after all retries."""


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret (and its URL-quoted form) in ``text`` with ``***``."""
    from urllib.parse import quote

    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
        quoted = quote(secret, safe="")
        if quoted != secret:
            text = text.replace(quoted, REDACTED)
    return text


def split_base_url(provider: str, base_url: str | None) -> tuple[str, list[str]]:
    """Validate a provider base URL; return it without user-info plus the secrets found in it.

    ``https://user:pass@host/v1`` becomes ``https://host/v1``; ``user:pass`` is returned as a secret so the
    caller can send it as basic auth and redact it.
    """
    if not base_url or not str(base_url).strip():
        raise ProviderConfigError(
            provider,
            "未配置服务地址（base_url），请在部署配置中填写",
            "no base URL configured; set base_url in the deployment's provider settings",
        )
    parts = urlsplit(str(base_url).strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProviderConfigError(
            provider,
            "服务地址无效，应以 http:// 或 https:// 开头",
            "invalid base URL; it must start with http:// or https://",
        )
    secrets: list[str] = []
    netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    if parts.port:
        netloc += f":{parts.port}"
    if parts.username or parts.password:
        secrets = [s for s in (parts.password, f"{parts.username}:{parts.password}") if s]
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", "")), secrets


def require_key(provider: str, api_key: str | None) -> str:
    if not api_key or not str(api_key).strip():
        raise ProviderConfigError(
            provider,
            "未配置 API 密钥（api_key），请在部署配置中填写",
            "no API key configured; set api_key in the deployment's provider settings",
        )
    return str(api_key).strip()


@dataclass(frozen=True)
class HttpSettings:
    """Timeouts in seconds; ``retries`` extra attempts after the first; backoff base and cap in seconds."""

    timeout: float = 60.0
    connect_timeout: float = 5.0
    retries: int = 3
    backoff: float = 0.5
    backoff_max: float = 8.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> HttpSettings:
        """Read ``timeout``, ``connect_timeout``, ``retries``, ``backoff``, ``backoff_max`` from a provider config."""
        defaults = cls()
        try:
            values = {
                "timeout": float(config.get("timeout", defaults.timeout)),
                "connect_timeout": float(config.get("connect_timeout", defaults.connect_timeout)),
                "retries": int(config.get("retries", defaults.retries)),
                "backoff": float(config.get("backoff", defaults.backoff)),
                "backoff_max": float(config.get("backoff_max", defaults.backoff_max)),
            }
        except (TypeError, ValueError) as exc:
            raise ProviderConfigError(
                str(config.get("name", "provider")),
                "超时或重试设置不是数字",
                "timeout/retry settings must be numbers",
            ) from exc
        if values["timeout"] <= 0 or values["connect_timeout"] <= 0 or values["retries"] < 0:
            raise ProviderConfigError(
                str(config.get("name", "provider")),
                "超时必须大于 0，重试次数不能为负",
                "timeouts must be positive and retries not negative",
            )
        return cls(**values)  # type: ignore[arg-type]


_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@cache
def _tls_context() -> ssl.SSLContext:
    """One verified TLS context for every client (building one costs ~0.1 s; each job makes a few clients)."""
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


class ProviderClient:
    """A small wrapper over :class:`httpx.Client` bound to one provider's base URL and credentials."""

    def __init__(
        self,
        provider: str,
        base_url: str,
        *,
        api_key: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        settings: HttpSettings | None = None,
        extra_secrets: Iterable[str] = (),
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.provider = provider
        self.base_url, url_secrets = split_base_url(provider, base_url)
        self.settings = settings or HttpSettings()
        self._secrets = [s for s in (api_key, *(basic_auth or ()), *url_secrets, *extra_secrets) if s]
        if basic_auth is None and url_secrets:
            parts = urlsplit(base_url.strip())
            basic_auth = (parts.username or "", parts.password or "")
        if basic_auth:  # a service echoing the Authorization header must not leak it either
            self._secrets.append(base64.b64encode(f"{basic_auth[0]}:{basic_auth[1]}".encode()).decode())
        headers = {"User-Agent": "lingjing-studio/1"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._sleep = sleep
        self._client = httpx.Client(
            headers=headers,
            auth=httpx.BasicAuth(*basic_auth) if basic_auth else None,
            timeout=httpx.Timeout(self.settings.timeout, connect=self.settings.connect_timeout),
            transport=transport,
            verify=_tls_context(),
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"ProviderClient(provider={self.provider!r}, base_url={self.base_url!r}, secrets={REDACTED!r})"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ProviderClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def url(self, path: str) -> str:
        return self.base_url + "/" + path.lstrip("/")

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        retry: bool = True,
    ) -> httpx.Response:
        """Send one request with retries; return the 2xx response or raise :class:`ProviderError`."""
        attempts = 1 + (self.settings.retries if retry else 0)
        last: ProviderError | None = None
        for attempt in range(attempts):
            if attempt:
                delay = self._delay(attempt, last)
                logger.warning(
                    "%s %s %s: retry %d/%d in %.2fs (%s)",
                    self.provider,
                    method,
                    path,
                    attempt,
                    attempts - 1,
                    delay,
                    last.code if last else "",
                )
                self._sleep(delay)
            try:
                response = self._client.request(method, self.url(path), json=json, params=params)
            except httpx.TimeoutException:
                last = ProviderUnavailable(
                    self.provider,
                    f"请求超时（{method} {path}），服务可能过载",
                    f"request timed out ({method} {path}); the service may be overloaded",
                    code="provider_timeout",
                    retryable=True,
                )
                continue
            except httpx.TransportError as exc:
                last = ProviderUnavailable(
                    self.provider,
                    f"无法连接到服务 {self.base_url}，请确认服务已启动且地址正确",
                    f"cannot connect to {self.base_url}; check that the service is running and the address is right"
                    f" ({type(exc).__name__})",
                    code="provider_unreachable",
                    retryable=True,
                )
                continue
            if response.is_success:
                return response
            last = self._status_error(method, path, response)
            if not last.retryable:
                raise last
        assert last is not None
        raise last

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError as exc:
            raise ProviderError(
                self.provider,
                f"服务返回的内容不是 JSON（{method} {path}）",
                f"the service answered with something other than JSON ({method} {path})",
                code="provider_bad_response",
                status=response.status_code,
            ) from exc

    def _delay(self, attempt: int, last: ProviderError | None) -> float:
        s = self.settings
        delay: float = min(s.backoff_max, s.backoff * 2.0 ** (attempt - 1))
        if last is not None and last.retry_after is not None:
            delay = min(s.backoff_max, max(delay, last.retry_after))
        return delay + random.uniform(0, s.backoff / 4)  # noqa: S311 — jitter, not security

    def _status_error(self, method: str, path: str, response: httpx.Response) -> ProviderError:
        status = response.status_code
        snippet = self.redact(" ".join(response.text[:300].split()))
        where = f"{method} {path} → HTTP {status}"
        error: ProviderError
        if status in (401, 403):
            error = ProviderError(
                self.provider,
                f"认证失败，请检查 API 密钥是否正确、是否有权限（{where}）",
                f"authentication failed; check the API key and its permissions ({where}): {snippet}",
                code="provider_auth",
                status=status,
            )
        elif status in _RETRY_STATUSES:
            header = response.headers.get("Retry-After", "")
            error = ProviderUnavailable(
                self.provider,
                f"服务暂时不可用（{where}）",
                f"the service is temporarily unavailable ({where}): {snippet}",
                code="provider_unavailable",
                status=status,
                retryable=True,
                retry_after=float(header) if header.replace(".", "", 1).isdigit() else None,
            )
        else:
            error = ProviderError(
                self.provider,
                f"服务拒绝了请求（{where}）",
                f"the service rejected the request ({where}): {snippet}",
                code="provider_rejected",
                status=status,
            )
        logger.info("%s %s %s: HTTP %d", self.provider, method, path, status)
        return error
