"""The access chokepoint for works: every view and API handler fetches a work through ``access_work``."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import Http404

from lingjing.works.models import Work, WorkStatus


def _as_uuid(value: Any) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


def access_work(user: Any, work_id: Any, *, write: bool = False) -> Work:
    """The work ``work_id`` if ``user`` may see it (``write``: change it); otherwise ``Http404``.

    The author reads and writes their own works. Anyone may read a published work; nobody else writes.
    Others get 404, not 403, so the existence of a draft is not disclosed.
    """
    pk = _as_uuid(work_id)
    if pk is None:
        raise Http404("作品不存在")
    work = Work.objects.filter(pk=pk).exclude(status=WorkStatus.REMOVED).first()
    if work is None:
        raise Http404("作品不存在")
    is_author = bool(getattr(user, "is_authenticated", False)) and work.author_id == user.pk
    if is_author:
        return work
    if not write and work.status == WorkStatus.PUBLISHED:
        return work
    raise Http404("作品不存在")


def access_own_work(user: Any, work_id: Any) -> Work:
    """Like :func:`access_work` but only for the author (studio pages: a draft's workbench, even published)."""
    work = access_work(user, work_id)
    if not getattr(user, "is_authenticated", False) or work.author_id != user.pk:
        raise Http404("作品不存在")
    return work


def access_public_asset(user: Any, work_id: Any, asset_id: Any) -> Any:
    """A studio output shown on the public page of a work: the current choice of its slot, of a work ``user``
    may see (published, or their own). Other versions and other works' files answer 404."""
    from lingjing.studio.models import GeneratedAsset

    work = access_work(user, work_id)
    pk = _as_uuid(asset_id)
    asset = GeneratedAsset.objects.filter(pk=pk, work=work, chosen_at__isnull=False).first() if pk else None
    if asset is None:
        raise Http404("文件不存在")
    current = (GeneratedAsset.objects.filter(work=work, slot=asset.slot, chosen_at__isnull=False)
               .order_by("-chosen_at", "-version").values_list("pk", flat=True).first())
    if current != asset.pk:
        raise Http404("文件不存在")
    asset.work = work
    return asset
