"""Fault points: where the fault-injection tests stop a process so they can kill it at a known moment.

``checkpoint(name)`` does nothing unless ``settings.LINGJING_FAULT_POINT`` names it: ``"<name>"`` (the first time
the point is reached in this process) or ``"<name>@<n>"`` (the n-th time). Then the process writes its pid to
``DATA_DIR/fault-<name>.reached`` and waits until it is killed (``core/tests/hardening/test_faults.py`` sends
SIGKILL, restarts the worker or reruns the command, and checks that the work finishes exactly once).

Inert in production: ``settings.py`` refuses ``LINGJING_FAULT_POINT`` when ``LINGJING_ENV=production``, and an
empty value (the default) makes every checkpoint return at once.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter

from django.conf import settings

_hits: Counter[str] = Counter()
_lock = threading.Lock()


def checkpoint(name: str) -> None:
    wanted: str = getattr(settings, "LINGJING_FAULT_POINT", "")
    if not wanted or wanted.partition("@")[0] != name:
        return
    _, _, nth = wanted.partition("@")
    with _lock:
        _hits[name] += 1
        hit = _hits[name]
    if hit != int(nth or 1):
        return

    marker = settings.DATA_DIR / f"fault-{name}.reached"
    marker.write_text(str(os.getpid()), encoding="utf-8")
    while True:  # until SIGKILL
        time.sleep(60)
