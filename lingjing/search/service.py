"""Search as the pages and the API use it: query → ranked, highlighted work cards; the history and the log.

Ranking (:func:`search`)
------------------------
1. The backend takes the newest :data:`CANDIDATES` works that hold the query as a substring, each with its text
   relevance (FTS5 ``bm25`` / PostgreSQL ``ts_rank``). Taking the newest matches first bounds the cost of very
   common queries (a single frequent character matches a large share of all works) while every rarer query is
   ranked over all of its matches.
2. It scores them in the same SQL statement (``backends.base``): relevance scaled to the best candidate, raised by
   the share of the query's jieba words that are whole words of the work, plus freshness (halving after
   ``FRESH_DAYS`` days), and returns the page's slice — no candidate crosses into Python.
3. When fewer than a page of works hold the substring, works holding all of the query's jieba words in any order
   are appended (ranked the same way, after the substring matches).
4. The page's works are loaded as cards in one query (``works.feed.cards_for_ids``) and their titles highlighted
   (escaped first, then ``<mark>``).

Results go at most :data:`CANDIDATES` deep (``MAX_PAGES`` pages): a query that matches more is best refined.

Logging (:func:`log_search`): with ``search_history`` consent a signed-in person's query is kept in their history;
in every case one pseudonymous count goes to the security log, never the query text.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from lingjing.search.backends import get_backend
from lingjing.search.text import Query, highlight, needles, parse_query

PAGE_SIZE = 20
CANDIDATES = 300
MAX_PAGES = CANDIDATES // PAGE_SIZE
HISTORY_PURPOSE = "search_history"


@dataclass
class SearchPage:
    query: Query
    page: int
    items: list[dict[str, Any]]
    next_page: int | None
    total: int  # ranked results available (at most CANDIDATES, plus widened ones)


def ranked_ids(query: Query, *, offset: int, limit: int) -> tuple[list[uuid.UUID | str], int]:
    """A slice of a query's results and their number: substring matches, then (when there are fewer than a page)
    the works holding all of the query's words."""
    backend = get_backend()
    exact = backend.ranked(query, offset=offset, limit=limit, candidates=CANDIDATES)
    if exact.total >= PAGE_SIZE:
        return exact.work_ids, exact.total
    first = exact if offset == 0 else backend.ranked(query, offset=0, limit=PAGE_SIZE, candidates=CANDIDATES)
    seen = set(first.work_ids)
    wider = backend.ranked(query, offset=0, limit=CANDIDATES, candidates=CANDIDATES, widen=True)
    combined = [*first.work_ids, *(w for w in wider.work_ids if w not in seen)][:CANDIDATES]
    return combined[offset:offset + limit], len(combined)


def _uuid(value: uuid.UUID | str) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)


def _page_number(page: Any) -> int:
    try:
        return min(max(int(page), 1), MAX_PAGES)
    except (TypeError, ValueError):
        return 1


def search(raw: str, *, page: Any = 1, viewer: Any = None) -> SearchPage:
    from lingjing.works.feed import cards_for_ids

    query = parse_query(raw)
    n = _page_number(page)
    if not query:
        return SearchPage(query, n, [], None, 0)
    start = (n - 1) * PAGE_SIZE
    ids, total = ranked_ids(query, offset=start, limit=PAGE_SIZE)
    items = cards_for_ids([_uuid(i) for i in ids], viewer)
    marks = needles(query)
    for item in items:
        item["highlight"] = str(highlight(item["title"], marks))
    next_page = n + 1 if total > start + PAGE_SIZE and n < MAX_PAGES else None
    return SearchPage(query, n, items, next_page, total)


def match_work_ids(raw: str) -> list[uuid.UUID]:
    """Every published work holding the query as a substring (no ranking, no limit)."""
    query = parse_query(raw)
    return get_backend().match_work_ids(query) if query else []


# --- history and log --------------------------------------------------------------------------------------


def keeps_history(user: Any, request: HttpRequest | None) -> bool:
    from lingjing.consent.service import has_consent

    return bool(getattr(user, "is_authenticated", False)) and has_consent(user, HISTORY_PURPOSE, request)


def _pseudonym(kind: str, value: str) -> str:
    """The security log's keyed hash (blind-index key, purpose ``security-log``), as in the rest of the log."""
    from lingjing.security.crypto import blind_index

    return blind_index(f"{kind}:{value}", purpose="security-log")[:32] if value else ""


def log_search(request: HttpRequest, raw: str, *, results: int, channel: str) -> None:
    """After a search (first page only): the history entry when consented, and the security log count."""
    from lingjing.core.ratelimit import client_ip, ip_network_label
    from lingjing.search.actions import do_log_search, do_record_search_history

    user = getattr(request, "user", None)
    if raw.strip() and keeps_history(user, request):
        do_record_search_history(user, raw, results=results, acting_user=user)
    actor = _pseudonym("u", str(user.pk)) if user is not None and user.is_authenticated else ""
    do_log_search(channel=channel, actor_key=actor, net_key=_pseudonym("net", ip_network_label(client_ip(request))),
                  empty=results == 0)


def history(user: Any, *, limit: int = 50) -> list[Any]:
    from lingjing.search.models import SearchHistory

    if not getattr(user, "is_authenticated", False):
        return []
    return list(SearchHistory.objects.filter(user_id=user.pk).order_by("-created_at")[:limit])


def suggestions(
    raw: str, *, user: Any = None, request: HttpRequest | None = None, limit: int = 8
) -> list[dict[str, str]]:
    """Completions for a partial query: the person's own earlier searches (only while they consent to the
    history), then titles of published works that hold it."""
    prefix = raw.strip()
    if not prefix:
        return []
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    if keeps_history(user, request):
        for entry in history(user, limit=100):
            text = entry.query or ""
            if text.startswith(prefix) and text not in seen:
                seen.add(text)
                out.append({"text": text, "kind": "history"})
            if len(out) >= limit // 2:
                break
    result = search(prefix)
    for item in result.items:
        title = item["title"]
        if title not in seen:
            seen.add(title)
            out.append({"text": title, "kind": "work"})
        if len(out) >= limit:
            break
    return out
