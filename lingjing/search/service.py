"""Search as the pages and the API use it: query → ranked, highlighted work cards; the history and the log.

Ranking (:func:`search`)
------------------------
1. The backend returns the newest :data:`CANDIDATES` works that hold the query as a substring, each with its text
   relevance (FTS5 ``bm25`` / PostgreSQL ``ts_rank``). Taking the newest matches first bounds the cost of very
   common queries (a single frequent character matches a large share of all works) while every rarer query is
   ranked over all of its matches.
2. Each candidate is scored ``0.6 × relevance (scaled to the best candidate) × (1 + 0.5 × share of the query's
   jieba words that are whole words of the work) + 0.4 × freshness``, freshness halving every
   :data:`FRESH_HALF_LIFE_DAYS` days since publishing.
3. When fewer than a page of works hold the substring, works holding all of the query's jieba words in any order
   are appended (ranked the same way, after the substring matches).
4. The page's works are loaded as cards in one query (``works.feed.cards_for_ids``) and their titles highlighted
   (escaped first, then ``<mark>``).

Results go at most :data:`CANDIDATES` deep (``MAX_PAGES`` pages): a query that matches more is best refined.

Logging (:func:`log_search`): with ``search_history`` consent a signed-in person's query is kept in their history;
in every case one pseudonymous count goes to the security log, never the query text.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from lingjing.search.backends import Candidate, get_backend
from lingjing.search.text import Query, highlight, needles, parse_query, word_overlap

PAGE_SIZE = 20
CANDIDATES = 300
MAX_PAGES = CANDIDATES // PAGE_SIZE
FRESH_HALF_LIFE_DAYS = 30.0
RELEVANCE_SHARE = 0.6
WORD_BONUS = 0.5
HISTORY_PURPOSE = "search_history"


@dataclass
class Hit:
    work_id: uuid.UUID | str
    score: float
    exact: bool  # the work holds the query as a substring (else: its words, in another order)


@dataclass
class SearchPage:
    query: Query
    page: int
    items: list[dict[str, Any]]
    next_page: int | None
    total: int  # ranked results available (at most CANDIDATES)


def rank(query: Query, candidates: list[Candidate], *, now: dt.datetime | None = None) -> list[Hit]:
    now = now or timezone.now()
    best = max((c.relevance for c in candidates), default=1.0) or 1.0
    hits = []
    for c in candidates:
        relevance = (c.relevance / best) * (1.0 + WORD_BONUS * word_overlap(query, c.words))
        age_days = max((now - c.published_at).total_seconds(), 0.0) / 86400
        fresh = math.pow(0.5, age_days / FRESH_HALF_LIFE_DAYS)
        hits.append(Hit(c.work_id, RELEVANCE_SHARE * relevance + (1 - RELEVANCE_SHARE) * fresh, True))
    hits.sort(key=lambda h: -h.score)
    return hits


def ranked_hits(query: Query) -> list[Hit]:
    """Every result of a query in order (at most CANDIDATES): substring matches, then widened ones."""
    backend = get_backend()
    hits = rank(query, backend.candidates(query, CANDIDATES))
    if len(hits) < PAGE_SIZE:
        seen = {h.work_id for h in hits}
        extra = [c for c in backend.candidates(query, CANDIDATES, widen=True) if c.work_id not in seen]
        for hit in rank(query, extra):
            hit.exact = False
            hits.append(hit)
    return hits[:CANDIDATES]


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
    hits = ranked_hits(query)
    start = (n - 1) * PAGE_SIZE
    chunk = hits[start:start + PAGE_SIZE]
    items = cards_for_ids([_uuid(h.work_id) for h in chunk], viewer)
    marks = needles(query)
    for item in items:
        item["highlight"] = str(highlight(item["title"], marks))
    next_page = n + 1 if len(hits) > start + PAGE_SIZE and n < MAX_PAGES else None
    return SearchPage(query, n, items, next_page, len(hits))


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
