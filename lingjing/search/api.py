"""Search API (API-CONTRACT.md: ``GET /search?q=`` → ``{"items": [work…]}``, no login needed), suggestions, and
the caller's own search history (kept only with the ``search_history`` consent)."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.responses import Status

from lingjing.api import AUTH, ApiError
from lingjing.search import service
from lingjing.search.actions import do_delete_search_history
from lingjing.search.text import QUERY_MAX_CHARS
from lingjing.works.api import OPTIONAL_AUTH, WorkCardOut

PREFIX = "/"
router = Router(tags=["search"])


class SearchHitOut(WorkCardOut):
    highlight: str


class SearchResultsOut(Schema):
    items: list[SearchHitOut]
    next: int | None
    query: str


class SearchSuggestionOut(Schema):
    text: str
    kind: str


class SearchSuggestionsOut(Schema):
    items: list[SearchSuggestionOut]


class SearchHistoryEntryOut(Schema):
    id: str
    query: str
    results: int
    created_at: str


class SearchHistoryOut(Schema):
    items: list[SearchHistoryEntryOut]
    kept: bool


class SearchHistoryDeletedOut(Schema):
    deleted: int


@router.get("/search", response=SearchResultsOut, auth=OPTIONAL_AUTH, summary="搜索作品（无需登录）")
def search(request: HttpRequest, q: str = "", page: int = 1) -> dict[str, Any]:
    """Published works whose title or tags contain ``q`` (Chinese: any substring, one character or more),
    ranked by relevance and freshness; ``highlight`` is the escaped title with ``<mark>`` around the matches.

    The query is kept in the caller's search history only with their ``search_history`` consent; otherwise only
    a pseudonymous count without the query text goes to the security log."""
    if len(q) > QUERY_MAX_CHARS * 2:
        raise ApiError(422, "query_too_long", f"搜索词最多 {QUERY_MAX_CHARS} 个字")
    result = service.search(q, page=page, viewer=request.user)
    if result.query and result.page == 1:
        service.log_search(request, q, results=result.total, channel="api")
    return {"items": result.items, "next": result.next_page, "query": result.query.raw}


@router.get("/search/suggest", response=SearchSuggestionsOut, auth=OPTIONAL_AUTH, summary="搜索建议")
def suggest(request: HttpRequest, q: str = "") -> dict[str, Any]:
    return {"items": service.suggestions(q[:QUERY_MAX_CHARS], user=request.user, request=request)}


@router.get("/search/history", response=SearchHistoryOut, auth=AUTH, summary="我的搜索历史")
def history(request: HttpRequest) -> dict[str, Any]:
    """The caller's saved queries, newest first; ``kept`` says whether new searches are being kept now."""
    items = [{"id": str(e.pk), "query": e.query or "", "results": e.results, "created_at": e.created_at.isoformat()}
             for e in service.history(request.user, limit=200)]
    return {"items": items, "kept": service.keeps_history(request.user, request)}


@router.delete("/search/history", response=SearchHistoryDeletedOut, auth=AUTH, summary="清空搜索历史")
def clear_history(request: HttpRequest) -> dict[str, int]:
    return {"deleted": do_delete_search_history(request.user, acting_user=request.user)}


@router.delete("/search/history/{entry_id}", response={204: None}, auth=AUTH, summary="删除一条搜索历史")
def delete_entry(request: HttpRequest, entry_id: uuid.UUID) -> Status[None]:
    if not do_delete_search_history(request.user, entry_id=entry_id, acting_user=request.user):
        raise ApiError(404, "not_found", "记录不存在")
    return Status(204, None)
