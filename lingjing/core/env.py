"""Reading the environment strictly: a bad value stops start-up with a one-line explanation."""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def envstr(name: str, default: str) -> str:
    return os.environ.get(name, default).strip()


def envbool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false, yes/no, on/off), not {raw!r}")


def envint(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, not {value}")
    return value


def envlist(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [part.strip() for part in raw.split(",") if part.strip()]


def redact_url(url: str) -> str:
    """The URL with any password replaced, fit for an error message or a log line."""
    return re.sub(r"^([a-z][a-z0-9+.-]*://[^:/@]*):[^@]*@", r"\1:***@", url, flags=re.IGNORECASE)


def parse_database_url(url: str) -> dict[str, Any]:
    """PostgreSQL or SQLite from a URL; anything else or a malformed URL is a configuration error."""
    import dj_database_url

    shown = redact_url(url)
    parsed = urlparse(url)
    if parsed.scheme not in ("postgres", "postgresql", "pgsql", "sqlite"):
        raise ImproperlyConfigured(
            f"DATABASE_URL must be postgres://user@host:port/name or sqlite:///path, not {shown!r}"
        )
    if parsed.scheme != "sqlite" and not parsed.path.strip("/"):
        raise ImproperlyConfigured(f"DATABASE_URL names no database: {shown!r}")
    try:
        if parsed.port is not None and not 0 < parsed.port < 65536:
            raise ValueError
    except ValueError:
        raise ImproperlyConfigured(f"DATABASE_URL has a bad port: {shown!r}") from None
    try:
        config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=0))
    except Exception:  # dj_database_url raises several kinds on malformed input; their text may hold the URL
        raise ImproperlyConfigured(f"DATABASE_URL is malformed: {shown!r}") from None
    if config["ENGINE"] == "django.db.backends.postgresql":
        # psycopg's own pool: few connections per process, shared by threads.
        config.setdefault("OPTIONS", {})["pool"] = {"min_size": 1, "max_size": 8, "timeout": 10}
    return config
