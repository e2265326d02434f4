"""The public feed and the work cards every list shows (feed, search, home).

Query budget: a page of cards costs a fixed number of queries whatever its length — the works with their authors
and counts (one query, counts as subqueries), their covers (one), and for a signed-in viewer the works they liked
(one). Lists never touch a work's related rows one by one.

Feeds:

* ``latest`` — published works, newest first (index ``works_status_published``);
* ``recommended`` — recent works ranked by likes and comments against age (the "hot" score below), the same for
  everyone; for a person who allows it (``community.recommend``) re-ranked by their interest tags;
* ``following`` — works of the authors the viewer follows, newest first.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from lingjing.works.models import Work, WorkStatus

PAGE_SIZE = 20
MAX_PAGE = 500
POOL_SIZE = 500  # candidates of the recommended feed
POOL_RECENT = 5000  # newest works the recommended pool is drawn from
POOL_CACHE_KEY = "works:recommend:pool:v1"
POOL_SECONDS = 300
INTEREST_BOOST = 2.0
FEEDS = ("latest", "recommended", "following")


def _count(model_path: str, **filters: Any) -> Coalesce:
    from django.apps import apps

    model = apps.get_model(model_path)
    sub = (model.objects.filter(work=OuterRef("pk"), **filters).order_by().values("work")
           .annotate(n=Count("pk")).values("n"))
    return Coalesce(Subquery(sub, output_field=IntegerField()), Value(0))


def _with_cards(rows: QuerySet[Work]) -> QuerySet[Work]:
    return (rows.select_related("author")
            .only("id", "title", "status", "tags", "published_at", "author__id", "author__nickname",
                  "author__avatar_thumb")
            .annotate(like_count=_count("community.Like"), comment_count=_count("community.Comment",
                                                                                 status="visible")))


def public_works() -> QuerySet[Work]:
    """Published works with their author and counts, ready for cards."""
    return _with_cards(Work.objects.filter(status=WorkStatus.PUBLISHED, author__isnull=False))


def author_dict(user: Any) -> dict[str, Any]:
    return {"id": str(user.pk), "nickname": user.nickname or str(user), "avatar_url": user.avatar_url}


def work_dict(work: Work) -> dict[str, Any]:
    """The contract's work shape (API-CONTRACT.md): id, title, status, published_at, author{nickname, avatar_url}."""
    return {
        "id": str(work.pk),
        "title": work.title,
        "status": work.status,
        "published_at": work.published_at.isoformat() if work.published_at else None,
        "author": author_dict(work.author) if work.author is not None else None,
    }


def covers(work_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """work id → the asset shown on its card: the first comic page, else the first shot's image (one query)."""
    from lingjing.studio.models import AssetKind, GeneratedAsset

    rows = (GeneratedAsset.objects.filter(work_id__in=list(work_ids), chosen_at__isnull=False)
            .filter(Q(slot="page:1") | Q(kind=AssetKind.IMAGE, shot__position=0))
            .order_by("chosen_at").only("id", "work_id", "slot", "kind"))
    found: dict[uuid.UUID, Any] = {}
    for asset in rows:
        current = found.get(asset.work_id)
        if current is None or current.slot != "page:1" or asset.slot == "page:1":
            found[asset.work_id] = asset
    return found


def cards(works: Sequence[Work], viewer: Any = None) -> list[dict[str, Any]]:
    """Card dicts for works from :func:`public_works` (two more queries at most, whatever their number)."""
    from lingjing.community.models import Like

    ids = [w.pk for w in works]
    cover = covers(ids) if ids else {}
    liked: set[uuid.UUID] = set()
    if ids and getattr(viewer, "is_authenticated", False):
        liked = set(Like.objects.filter(user_id=viewer.pk, work_id__in=ids).values_list("work_id", flat=True))
    out = []
    for work in works:
        data = work_dict(work)
        asset = cover.get(work.pk)
        data.update({
            "tags": list(work.tags or []),
            "likes": getattr(work, "like_count", 0),
            "comments": getattr(work, "comment_count", 0),
            "liked": work.pk in liked if getattr(viewer, "is_authenticated", False) else None,
            "url": reverse("works:detail", args=[work.pk]),
            "cover_url": reverse("works:file", args=[work.pk, asset.pk]) if asset is not None else None,
        })
        out.append(data)
    return out


def cards_for_ids(work_ids: Sequence[uuid.UUID], viewer: Any = None) -> list[dict[str, Any]]:
    """Cards in the order of ``work_ids``; ids that are not (any more) public are left out.

    The rows are fetched by primary key alone and the status checked here: with the status in the WHERE clause
    SQLite's planner would walk the status index (every published work) instead of the 20 keys."""
    rows = _with_cards(Work.objects.filter(pk__in=list(work_ids))).order_by()
    by_id = {w.pk: w for w in rows if w.status == WorkStatus.PUBLISHED and w.author_id is not None}
    return cards([by_id[i] for i in work_ids if i in by_id], viewer)


@dataclass
class FeedPage:
    feed: str
    page: int
    items: list[dict[str, Any]]
    next_page: int | None
    personalised: bool = False
    profile: list[tuple[str, float]] = field(default_factory=list)


def _page_number(page: Any) -> int:
    try:
        value = int(page)
    except (TypeError, ValueError):
        return 1
    return min(max(value, 1), MAX_PAGE)


def _slice(qs: QuerySet[Work], page: int) -> tuple[list[Work], int | None]:
    start = (page - 1) * PAGE_SIZE
    rows = list(qs[start:start + PAGE_SIZE + 1])
    more = len(rows) > PAGE_SIZE and page < MAX_PAGE
    return rows[:PAGE_SIZE], (page + 1 if more else None)


def latest(page: Any = 1, viewer: Any = None) -> FeedPage:
    n = _page_number(page)
    works, next_page = _slice(public_works().order_by("-published_at", "-pk"), n)
    return FeedPage("latest", n, cards(works, viewer), next_page)


def following(viewer: Any, page: Any = 1) -> FeedPage:
    from lingjing.community.models import Follow

    n = _page_number(page)
    if not getattr(viewer, "is_authenticated", False):
        return FeedPage("following", n, [], None)
    followed = Follow.objects.filter(follower_id=viewer.pk).values("followee_id")
    works, next_page = _slice(public_works().filter(author_id__in=Subquery(followed))
                              .order_by("-published_at", "-pk"), n)
    return FeedPage("following", n, cards(works, viewer), next_page)


def hot_score(likes: int, comments: int, age_hours: float) -> float:
    """Interactions against age (the "gravity" ranking of news sites): a new work with a few likes beats an old
    one with many, and everything fades within days."""
    return float((1.0 + likes + 2.0 * comments) / (age_hours + 2.0) ** 1.5)


def recommendation_pool() -> list[tuple[uuid.UUID, tuple[str, ...], float]]:
    """The non-personalised ranking: (work id, tags, hot score) of the best ``POOL_SIZE`` recent works, cached
    for ``POOL_SECONDS`` (it is the same for everyone). A work that left the public meanwhile is dropped when the
    page's cards are built (:func:`cards_for_ids`), so the cache never shows it."""
    pool = cache.get(POOL_CACHE_KEY)
    if pool is not None:
        return [(uuid.UUID(i), tuple(t), s) for i, t, s in pool]
    now = timezone.now()
    scored = []
    for work in public_works().order_by("-published_at", "-pk")[:POOL_RECENT]:
        published_at = work.published_at
        age = max((now - published_at).total_seconds(), 0.0) / 3600 if published_at else 1e6
        score = hot_score(getattr(work, "like_count", 0), getattr(work, "comment_count", 0), age)
        scored.append((work.pk, tuple(str(t) for t in work.tags or ()), score))
    scored.sort(key=lambda r: -r[2])
    pool_rows = scored[:POOL_SIZE]
    cache.set(POOL_CACHE_KEY, [(str(i), list(t), s) for i, t, s in pool_rows], POOL_SECONDS)
    return pool_rows


def personal_order(pool: list[tuple[uuid.UUID, tuple[str, ...], float]],
                   profile: list[tuple[str, float]]) -> list[uuid.UUID]:
    """Re-rank the pool by interest: score × (1 + boost × matched interest / strongest interest)."""
    weights = dict(profile)
    top = max(weights.values(), default=0.0) or 1.0
    best = max((s for _, _, s in pool), default=0.0) or 1.0

    def score(row: tuple[uuid.UUID, tuple[str, ...], float]) -> float:
        interest = sum(weights.get(t, 0.0) for t in row[1]) / top
        return (row[2] / best) * (1.0 + INTEREST_BOOST * min(interest, 2.0))

    return [row[0] for row in sorted(pool, key=lambda r: -score(r))]


def recommended(request: HttpRequest | None, page: Any = 1, *, viewer: Any = None) -> FeedPage:
    """The recommended feed: personalised only when ``community.recommend.personalisation_allowed``."""
    from lingjing.community.recommend import interest_profile, note_recommendation, personalisation_allowed

    n = _page_number(page)
    pool = recommendation_pool()
    profile: list[tuple[str, float]] = []
    if viewer is not None and personalisation_allowed(viewer, request):
        profile = interest_profile(viewer)
    if profile:
        order = personal_order(pool, profile)
        note_recommendation(viewer, profile)
    else:
        order = [row[0] for row in pool]
    start = (n - 1) * PAGE_SIZE
    ids = order[start:start + PAGE_SIZE]
    next_page = n + 1 if len(order) > start + PAGE_SIZE else None
    return FeedPage("recommended", n, cards_for_ids(ids, viewer), next_page, personalised=bool(profile),
                    profile=profile)


def feed(name: str, request: HttpRequest | None, page: Any = 1, *, viewer: Any = None) -> FeedPage:
    if name == "recommended":
        return recommended(request, page, viewer=viewer)
    if name == "following":
        return following(viewer, page)
    return latest(page, viewer)
