"""Search backends behind one interface (``base.SearchBackend``); :func:`get_backend` picks the one in use."""

from __future__ import annotations

from functools import lru_cache
from typing import cast

from django.conf import settings
from django.db import connection
from django.utils.module_loading import import_string

from lingjing.search.backends.base import Ranked, SearchBackend

__all__ = ["Ranked", "SearchBackend", "get_backend"]


@lru_cache(maxsize=4)
def _backend(path: str, vendor: str) -> SearchBackend:
    if path:
        return cast(SearchBackend, import_string(path)())
    if vendor == "postgresql":
        from lingjing.search.backends.postgres import PostgresBackend

        return PostgresBackend()
    if vendor == "sqlite":
        from lingjing.search.backends.sqlite import SqliteFts5Backend

        return SqliteFts5Backend()
    raise RuntimeError(f"no search backend for the {vendor} database; set LINGJING_SEARCH_BACKEND")


def get_backend() -> SearchBackend:
    """``LINGJING_SEARCH_BACKEND`` when set (dotted path to a backend class), else the database's own."""
    return _backend(getattr(settings, "LINGJING_SEARCH_BACKEND", ""), connection.vendor)
