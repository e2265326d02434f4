"""Small, rarely changing tables read on every request, kept in the process for a few seconds.

Some rows are asked for on every page although they change a few times a year: the privacy policy versions (the
acceptance gate, the banner's notice of an upcoming change), the announcements running now (the banner). A
:class:`ProcessMemo` keeps what its loader answers for ``seconds`` in this process (per process, not in the shared
cache: on the embedded stack the shared cache is itself a database table).

Rules that keep it correct:

1. **Load only what is the same for everyone.** Nothing personal ever goes into a memo.
2. **Keep the rows, decide at the request's own time.** Loaders answer every row that can matter (future ones
   too); callers filter by ``now``, so the passing of a start or effective time is exact, never late.
3. **A change shows at once in this process, within ``seconds`` in the others.** The models' ``post_save`` and
   ``post_delete`` drop the memo (:meth:`ProcessMemo.connect`), and again when the writing transaction commits
   (another request may have loaded the old rows in between).
4. **Inside a transaction the database is read directly.** The transaction may have written the rows itself
   (and may still roll back); such a read neither uses nor fills the memo. Tests run inside one, so they read the
   database as before; a flush (transactional tests) drops every memo via ``post_migrate``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction

_ALL: list[ProcessMemo[Any]] = []
_lock = threading.Lock()


class ProcessMemo[T]:
    def __init__(self, name: str, loader: Callable[[], T], seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.loader = loader
        self.seconds = seconds
        self.clock = clock
        self._value: tuple[float, T] | None = None
        with _lock:
            _ALL.append(self)

    def get(self) -> T:
        if connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return self.loader()
        held = self._value
        now = self.clock()
        if held is not None and held[0] > now:
            return held[1]
        value = self.loader()
        self._value = (now + self.seconds, value)
        return value

    def clear(self, **kwargs: Any) -> None:
        """Drop the memo now and when the current transaction commits (usable as a signal receiver)."""
        self._value = None
        if connections[DEFAULT_DB_ALIAS].in_atomic_block:
            transaction.on_commit(self._drop)

    def _drop(self) -> None:
        self._value = None

    def connect(self, *models: Any) -> None:
        """Drop the memo whenever a row of ``models`` is saved or deleted."""
        from django.db.models.signals import post_delete, post_save

        for model in models:
            uid = f"lingjing.core.memo.{self.name}.{model._meta.label_lower}"
            post_save.connect(self.clear, sender=model, dispatch_uid=f"{uid}.save", weak=False)
            post_delete.connect(self.clear, sender=model, dispatch_uid=f"{uid}.delete", weak=False)


def clear_all(**kwargs: Any) -> None:
    """Drop every memo (a ``post_migrate`` receiver: flushing the database ends with it)."""
    with _lock:
        memos = list(_ALL)
    for memo in memos:
        memo._drop()
