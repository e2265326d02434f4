"""Public pages of works: the feed (``/works/``), a work's page (``/works/<id>``) with its video, comic pages and
storyboard, the files they show, and the author's publish / unpublish buttons.

A page of cards costs a fixed number of queries (``works.feed``); a work's page too, whatever the number of its
shots, pages and comments (``test_feed_pages`` asserts both).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from lingjing.works import feed as feeds
from lingjing.works.access import access_public_asset, access_work
from lingjing.works.models import Work, WorkStatus
from lingjing.works.publishing import do_publish_work, do_unpublish_work

log = logging.getLogger("lingjing.works")


def feed_context(request: HttpRequest, name: str, page: Any = 1) -> dict[str, Any]:
    """What the feed template needs (the feed page and the home page's section)."""
    from lingjing.community.recommend import consents, prefers_personalised

    if name not in feeds.FEEDS:
        name = "latest"
    result = feeds.feed(name, request, page, viewer=request.user)
    signed_in = request.user.is_authenticated
    return {
        "result": result,
        "feed": name,
        "signed_in": signed_in,
        "may_personalise": signed_in and consents(request.user, request),
        "prefers_personalised": signed_in and prefers_personalised(request.user),
    }


def feed_page(request: HttpRequest) -> HttpResponse:
    context = feed_context(request, request.GET.get("feed", "latest"), request.GET.get("page", 1))
    return render(request, "works/feed.html", context)


# The home page's feeds as a visitor who is not signed in sees them are the same for every such visitor (the
# non-personalised recommendation, the newest works, no "liked" marks, no form): the section, rendered, is kept
# in the shared cache for HOME_CACHE_SECONDS, per language, under the public-content generation
# (core/cachecontrol.py: a publish, unpublish, takedown, edit or member change starts a new one, so such a change
# shows at once; like and comment counts are at most this stale). It holds no CSRF token and no CSP nonce (the
# page around it has them, rendered per request). Signed-in people never read from it nor write to it.
HOME_CACHE_SECONDS = 10
HOME_TEMPLATE = "works/home_feed.html"


def _home_section(request: HttpRequest) -> dict[str, Any]:
    return {
        "recommended": feed_context(request, "recommended"),
        "latest": feeds.latest(1, request.user).items[:8],
    }


def home_section(request: HttpRequest) -> dict[str, Any]:
    """The home page's feed: the recommended works (personalised only when allowed) and the newest ones; for a
    visitor who is not signed in, ``{"html": …}``, the section as every such visitor sees it."""
    from django.conf import settings
    from django.core.cache import cache
    from django.template.loader import render_to_string
    from django.utils import translation
    from django.utils.safestring import mark_safe

    from lingjing.core.cachecontrol import public_generation

    seconds = min(HOME_CACHE_SECONDS, settings.LINGJING_PUBLIC_CACHE_SECONDS)
    if request.user.is_authenticated or seconds <= 0:
        return _home_section(request)
    try:
        key = f"works:home:anonymous:{public_generation()}:{translation.get_language()}"
        html = cache.get(key)
    except Exception:  # the cache being down must not take the home page with it
        log.warning("home feed cache unavailable; building the feeds", exc_info=True)
        return _home_section(request)
    if html is None:
        data = _home_section(request)
        if data["recommended"]["signed_in"] or data["recommended"]["result"].personalised:  # never shared
            return data
        html = render_to_string(HOME_TEMPLATE, {"data": data})  # no request: nothing of the visitor in it
        try:
            cache.set(key, html, seconds)
        except Exception:
            log.warning("home feed cache: could not store the section", exc_info=True)
    return {"html": mark_safe(html)}  # noqa: S308 - our own template's output


def _storyboard(work: Work, chosen: dict[str, Any]) -> list[dict[str, Any]]:
    from lingjing.studio.models import Shot

    shots = Shot.objects.filter(work=work).only("id", "position", "lines_json", "description", "author_id",
                                                 "work_id", "duration").order_by("position")
    return [{"n": s.position + 1, "lines": s.lines, "image": chosen.get(f"shot:{s.pk}:image"),
             "duration": s.duration} for s in shots]


def detail(request: HttpRequest, work_id: uuid.UUID) -> HttpResponse:
    from lingjing.community.access import visible_comments
    from lingjing.community.models import Follow, ReportReason
    from lingjing.studio.actions import chosen_outputs
    from lingjing.studio.models import AssetKind

    work = access_work(request.user, work_id)
    listed = feeds.cards_for_ids([work.pk], request.user)
    card = listed[0] if listed else None
    chosen = chosen_outputs(work)
    pages = sorted((a for a in chosen.values() if a.kind == AssetKind.PAGE), key=lambda a: a.meta.get("page", 0))
    is_author = request.user.is_authenticated and work.author_id == request.user.pk
    following = (request.user.is_authenticated and not is_author and work.author_id is not None
                 and Follow.objects.filter(follower_id=request.user.pk, followee_id=work.author_id).exists())
    # The card's row has the author already (no query for their account); a draft has no card (its author sees it).
    author = card["author"] if card is not None else feeds.author_dict(work.author) if work.author else None
    context = {
        "work": work,
        "card": card,
        "author": author,
        "is_author": is_author,
        "following": following,
        "video": chosen.get("video"),
        "srt": chosen.get("srt"),
        "pdf": chosen.get("pdf"),
        "pages": pages,
        "storyboard": _storyboard(work, chosen),
        "comments": list(visible_comments(work, request.user)[:200]),
        "reasons": ReportReason.choices,
    }
    return render(request, "works/detail.html", context)


def file(request: HttpRequest, work_id: uuid.UUID, asset_id: uuid.UUID) -> HttpResponseBase:
    """A chosen output of a work its visitor may see (never a bare storage URL)."""
    from lingjing.studio.views import asset_response

    asset = access_public_asset(request.user, work_id, asset_id)
    response = asset_response(asset, download=request.GET.get("download") == "1")
    response["Cache-Control"] = "public, max-age=300" if asset.work.status == WorkStatus.PUBLISHED else "private"
    return response


def _errors(request: HttpRequest, exc: ValidationError | PermissionDenied) -> None:
    for message in (exc.messages if isinstance(exc, ValidationError) else [str(exc)]):
        messages.error(request, message)


@login_required
@require_POST
def publish(request: HttpRequest, work_id: uuid.UUID) -> HttpResponse:
    work = access_work(request.user, work_id, write=True)
    try:
        result = do_publish_work(work, acting_user=request.user)
    except (PermissionDenied, ValidationError) as exc:
        _errors(request, exc)
        return redirect("works:detail", work.pk)
    if result.published:
        messages.success(request, _("作品已发布，所有人都可以看到"))
    else:
        messages.error(request, _("作品标题或标签未通过自动审核，暂未公开。您可以查看说明并申请人工复核。"))
        return redirect(reverse("decisions:detail", args=[result.decision.pk]))
    return redirect("works:detail", work.pk)


@login_required
@require_POST
def unpublish(request: HttpRequest, work_id: uuid.UUID) -> HttpResponse:
    work = access_work(request.user, work_id, write=True)
    do_unpublish_work(work, acting_user=request.user)
    messages.success(request, _("作品已下架，只有您自己可以看到"))
    return redirect("works:detail", work.pk)
