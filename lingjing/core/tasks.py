"""Core background tasks."""

from __future__ import annotations

from django.conf import settings
from django.tasks import task
from django.utils import timezone


@task(queue_name="default")
def ping(token: str) -> str:
    """Prove a worker is alive and reads the same database: append ``token`` to ``DATA_DIR/worker-ping.log``.

    Safe to run twice (a second line is harmless). ``lingjing worker --ping`` and the serve test use it.
    """
    path = settings.DATA_DIR / "worker-ping.log"
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"{timezone.now().isoformat()} {token}\n")
    return token
