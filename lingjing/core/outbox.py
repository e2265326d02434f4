"""Console delivery for development and tests: one JSON object per line under ``LINGJING_DATA_DIR/outbox``."""

from __future__ import annotations

import fcntl
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage
from django.utils import timezone


def append_jsonl(name: str, record: dict[str, Any]) -> None:
    """Append one record; a file lock keeps lines whole when the web server and worker write at once."""
    directory: Path = settings.OUTBOX_DIR
    directory.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"at": timezone.now().isoformat(), **record}, ensure_ascii=False) + "\n"
    with (directory / name).open("a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(line)
        fcntl.flock(handle, fcntl.LOCK_UN)


def read_jsonl(name: str) -> list[dict[str, Any]]:
    path: Path = settings.OUTBOX_DIR / name
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class ConsoleEmailBackend(BaseEmailBackend):
    """Writes each message to ``outbox/email.jsonl`` with ``to``, ``subject``, ``text`` (and headers)."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        for message in email_messages:
            html = ""
            for content, mimetype in getattr(message, "alternatives", []) or []:
                if mimetype == "text/html":
                    html = str(content)
            for recipient in message.recipients():
                append_jsonl(
                    "email.jsonl",
                    {
                        "to": recipient,
                        "subject": str(message.subject),
                        "text": str(message.body),
                        "html": html,
                        "headers": {k: str(v) for k, v in (message.extra_headers or {}).items()},
                    },
                )
        return len(email_messages)
