"""Search pages: ``/search?q=`` (results, no account needed) and ``/search/history`` (the person's own history,
kept only with their consent, deletable entry by entry or all at once)."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from lingjing.search import service
from lingjing.search.actions import do_delete_search_history
from lingjing.search.text import QUERY_MAX_CHARS


def search_page(request: HttpRequest) -> HttpResponse:
    raw = request.GET.get("q", "")[:QUERY_MAX_CHARS]
    result = service.search(raw, page=request.GET.get("page", 1), viewer=request.user)
    if result.query and result.page == 1:
        service.log_search(request, raw, results=result.total, channel="web")
    context = {
        "q": raw,
        "result": result,
        "keeps_history": service.keeps_history(request.user, request),
        "recent": service.history(request.user, limit=8) if not raw and service.keeps_history(
            request.user, request) else [],
    }
    return render(request, "search/results.html", context)


def suggest(request: HttpRequest) -> HttpResponse:
    """htmx partial under the search box."""
    items = service.suggestions(request.GET.get("q", "")[:QUERY_MAX_CHARS], user=request.user, request=request)
    return render(request, "search/_suggestions.html", {"items": items})


@login_required
def history_page(request: HttpRequest) -> HttpResponse:
    return render(request, "search/history.html", {
        "entries": service.history(request.user, limit=200),
        "keeps_history": service.keeps_history(request.user, request),
    })


@login_required
@require_POST
def delete_history(request: HttpRequest) -> HttpResponse:
    raw = request.POST.get("entry", "")
    try:
        entry = uuid.UUID(raw) if raw else None
    except ValueError:
        entry = None
        raw = "invalid"
    if raw and entry is None:
        messages.error(request, _("记录不存在"))
        return redirect("search:history")
    count = do_delete_search_history(request.user, entry_id=entry, acting_user=request.user)
    messages.success(request, _("已删除 %(n)s 条搜索记录") % {"n": count})
    return redirect("search:history")
