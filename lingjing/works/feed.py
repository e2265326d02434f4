"""The public feed and the work cards every list shows (feed, search, home).

Query budget: a page of cards costs a fixed number of queries whatever its length — the page's ids (one), the
works with their authors, counts and covers (one, ``CARDS_SQL``), and for a signed-in viewer the works they liked
(one). Lists never touch a work's related rows one by one.

Feeds:

* ``latest`` — published works, newest first (index ``works_status_published``);
* ``recommended`` — recent works ranked by likes and comments against age (the "hot" score below), the same for
  everyone; for a person who allows it (``community.recommend``) re-ranked by their interest tags;
* ``following`` — works of the authors the viewer follows, newest first.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from lingjing.works.models import Work, WorkStatus

PAGE_SIZE = 20
MAX_PAGE = 500
POOL_SIZE = 500  # candidates of the recommended feed
POOL_RECENT = 5000  # newest works the recommended pool is drawn from
POOL_CACHE_KEY = "works:recommend:pool:v2"
POOL_SECONDS = 300
INTEREST_BOOST = 2.0
FEEDS = ("latest", "recommended", "following")


def _count(model_path: str, **filters: Any) -> Coalesce:
    from django.apps import apps

    model = apps.get_model(model_path)
    sub = (model.objects.filter(work=OuterRef("pk"), **filters).order_by().values("work")
           .annotate(n=Count("pk")).values("n"))
    return Coalesce(Subquery(sub, output_field=IntegerField()), Value(0))


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


# The cards' rows in one statement, written by hand: it runs for every list page and search, and compiling the
# equivalent queryset (two correlated count subqueries) cost more than running it. The status is checked in Python
# rather than in the WHERE clause: with it there SQLite's planner walks the status index (every published work)
# instead of looking up the twenty keys. Only placeholders are added to the text.
CARDS_SQL = (
    "SELECT w.id, w.title, w.status, w.tags, w.published_at, u.id, u.nickname, u.avatar_thumb, "
    "(SELECT COUNT(*) FROM community_like l WHERE l.work_id = w.id), "
    "(SELECT COUNT(*) FROM community_comment c WHERE c.work_id = w.id AND c.status = 'visible'), "
    # the cover: the first comic page, else the first shot's image (the chosen version: the latest chosen_at)
    "COALESCE((SELECT a.id FROM studio_generatedasset a WHERE a.work_id = w.id AND a.kind = 'page' "
    "          AND a.slot = 'page:1' AND a.chosen_at IS NOT NULL ORDER BY a.chosen_at DESC LIMIT 1), "
    "         (SELECT a.id FROM studio_generatedasset a JOIN studio_shot s ON s.id = a.shot_id "
    "          WHERE a.work_id = w.id AND a.kind = 'image' AND s.position = 0 AND a.chosen_at IS NOT NULL "
    "          ORDER BY a.chosen_at DESC LIMIT 1)) "
    "FROM works_work w JOIN accounts_user u ON u.id = w.author_id WHERE w.id IN ({keys})"
)


@dataclass(frozen=True)
class CardAuthor:
    """What a card shows of its author (a full ``User`` per row costs more than the rest of the card)."""

    pk: uuid.UUID
    nickname: str
    avatar_thumb: str

    @property
    def avatar_url(self) -> str | None:
        from lingjing.accounts.models import User

        return User.avatar_url.fget(self)  # type: ignore[attr-defined,no-any-return]  # the same rule as the user's

    def __str__(self) -> str:
        return self.nickname or f"用户 {str(self.pk)[:8]}"


@dataclass(frozen=True)
class CardRow:
    id: uuid.UUID
    title: str
    tags: list[str]
    published_at: Any
    author: CardAuthor
    likes: int
    comments: int
    cover_id: uuid.UUID | None


def _card_rows(work_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, CardRow]:
    """id → the row of every *published* work among ``work_ids`` (one query)."""
    import json

    from django.db import connection
    from django.utils.dateparse import parse_datetime

    if not work_ids:
        return {}
    pk = Work._meta.pk
    assert pk is not None
    keys = [pk.get_db_prep_value(i, connection) for i in work_ids]
    with connection.cursor() as cursor:
        cursor.execute(CARDS_SQL.format(keys=", ".join(["%s"] * len(keys))), keys)  # noqa: S608
        rows = cursor.fetchall()
    out: dict[uuid.UUID, CardRow] = {}
    for wid, title, status, tags, published_at, uid, nickname, thumb, likes, comments, cover in rows:
        if status != WorkStatus.PUBLISHED:
            continue
        work_id = wid if isinstance(wid, uuid.UUID) else uuid.UUID(str(wid))
        if isinstance(published_at, str):  # SQLite: Django's stored text, UTC
            parsed = parse_datetime(published_at)
            published_at = parsed.replace(tzinfo=dt.UTC) if parsed and parsed.tzinfo is None else parsed
        author = CardAuthor(uid if isinstance(uid, uuid.UUID) else uuid.UUID(str(uid)), nickname or "", thumb or "")
        tag_list = [str(t) for t in (json.loads(tags) if isinstance(tags, str) else tags) or []]
        cover_id = None if cover is None else cover if isinstance(cover, uuid.UUID) else uuid.UUID(str(cover))
        out[work_id] = CardRow(work_id, title, tag_list, published_at, author, int(likes), int(comments), cover_id)
    return out


_MARKS = (uuid.UUID(int=1), uuid.UUID(int=2))


def _url_template(name: str, arity: int) -> Any:
    """``reverse`` once with placeholder ids; the returned function fills in real ones (lists build many URLs)."""
    template = reverse(name, args=_MARKS[:arity])

    def fill(*args: uuid.UUID) -> str:
        url = template
        for mark, value in zip(_MARKS, args, strict=False):
            url = url.replace(str(mark), str(value))
        return str(url)

    return fill


def cards(rows: Sequence[CardRow], viewer: Any = None) -> list[dict[str, Any]]:
    """Card dicts (one more query for a signed-in viewer, whatever their number: the works they liked)."""
    from lingjing.community.models import Like

    ids = [r.id for r in rows]
    signed_in = bool(getattr(viewer, "is_authenticated", False))
    liked: set[uuid.UUID] = set()
    if ids and signed_in:
        liked = set(Like.objects.filter(user_id=viewer.pk, work_id__in=ids).values_list("work_id", flat=True))
    detail_url, file_url = _url_template("works:detail", 1), _url_template("works:file", 2)
    return [
        {
            "id": str(row.id),
            "title": row.title,
            "status": WorkStatus.PUBLISHED.value,
            "published_at": row.published_at.isoformat() if row.published_at else None,
            "author": author_dict(row.author),
            "tags": row.tags,
            "likes": row.likes,
            "comments": row.comments,
            "liked": row.id in liked if signed_in else None,
            "url": detail_url(row.id),
            "cover_url": file_url(row.id, row.cover_id) if row.cover_id is not None else None,
        }
        for row in rows
    ]


def cards_for_ids(work_ids: Sequence[uuid.UUID], viewer: Any = None) -> list[dict[str, Any]]:
    """Cards in the order of ``work_ids``; ids that are not (any more) public are left out."""
    rows = _card_rows(work_ids)
    return cards([rows[i] for i in work_ids if i in rows], viewer)


def _page_ids(qs: QuerySet[Work], page: int) -> tuple[list[uuid.UUID], int | None]:
    start = (page - 1) * PAGE_SIZE
    ids = list(qs.values_list("pk", flat=True)[start:start + PAGE_SIZE + 1])
    more = len(ids) > PAGE_SIZE and page < MAX_PAGE
    return ids[:PAGE_SIZE], (page + 1 if more else None)


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


def _published() -> QuerySet[Work]:
    return Work.objects.filter(status=WorkStatus.PUBLISHED, author__isnull=False)


def latest(page: Any = 1, viewer: Any = None) -> FeedPage:
    n = _page_number(page)
    ids, next_page = _page_ids(_published().order_by("-published_at", "-pk"), n)
    return FeedPage("latest", n, cards_for_ids(ids, viewer), next_page)


def following(viewer: Any, page: Any = 1) -> FeedPage:
    from lingjing.community.models import Follow

    n = _page_number(page)
    if not getattr(viewer, "is_authenticated", False):
        return FeedPage("following", n, [], None)
    followed = Follow.objects.filter(follower_id=viewer.pk).values("followee_id")
    ids, next_page = _page_ids(_published().filter(author_id__in=Subquery(followed))
                               .order_by("-published_at", "-pk"), n)
    return FeedPage("following", n, cards_for_ids(ids, viewer), next_page)


def hot_score(likes: int, comments: int, age_hours: float) -> float:
    """Interactions against age (the "gravity" ranking of news sites): a new work with a few likes beats an old
    one with many, and everything fades within days."""
    return float((1.0 + likes + 2.0 * comments) / (age_hours + 2.0) ** 1.5)


def recommendation_pool() -> list[tuple[uuid.UUID, tuple[str, ...], float]]:
    """The non-personalised ranking: (work id, tags, hot score) of the best ``POOL_SIZE`` recent works, cached
    for ``POOL_SECONDS`` (it is the same for everyone). A work that left the public meanwhile is dropped when the
    page's cards are built (:func:`cards_for_ids`), so the cache never shows it."""
    pool = cache.get(POOL_CACHE_KEY)
    if pool is not None:  # kept as UUID objects: parsing 500 id strings per request cost more than the page
        return list(pool)
    now = timezone.now()
    rows = (_published().order_by("-published_at", "-pk")
            .annotate(like_total=_count("community.Like"),
                      visible_comments=_count("community.Comment", status="visible"))
            .values_list("id", "tags", "published_at", "like_total", "visible_comments")[:POOL_RECENT])
    scored = []
    for work_id, tags, published_at, likes, comments in rows:
        age = max((now - published_at).total_seconds(), 0.0) / 3600 if published_at else 1e6
        scored.append((work_id, tuple(str(t) for t in tags or ()), hot_score(likes, comments, age)))
    scored.sort(key=lambda r: -r[2])
    pool_rows = scored[:POOL_SIZE]
    cache.set(POOL_CACHE_KEY, pool_rows, POOL_SECONDS)
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
