"""Access chokepoints of the studio. A work's studio (drafts, storyboard, characters, jobs, outputs) is its
author's alone: everyone else, signed in or not, gets 404 whether or not the thing exists."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import Http404

from lingjing.studio.models import Character, GeneratedAsset, Location, Shot, StudioJob
from lingjing.works.access import access_own_work
from lingjing.works.models import Work


def access_studio_work(user: Any, work_id: Any) -> Work:
    """The work, for its author's studio; ``Http404`` for anyone else."""
    return access_own_work(user, work_id)


def _pk(value: Any) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (TypeError, ValueError):
        raise Http404("不存在") from None


def access_shot(user: Any, work_id: Any, shot_id: Any, *, write: bool = False) -> Shot:
    work = access_studio_work(user, work_id)
    shot = Shot.objects.filter(pk=_pk(shot_id), work=work).select_related("work").first()
    if shot is None:
        raise Http404("镜头不存在")
    return shot


def access_character(user: Any, work_id: Any, character_id: Any, *, write: bool = False) -> Character:
    work = access_studio_work(user, work_id)
    character = Character.objects.filter(pk=_pk(character_id), work=work).select_related("work").first()
    if character is None:
        raise Http404("角色不存在")
    return character


def access_location(user: Any, work_id: Any, location_id: Any, *, write: bool = False) -> Location:
    work = access_studio_work(user, work_id)
    location = Location.objects.filter(pk=_pk(location_id), work=work).first()
    if location is None:
        raise Http404("地点不存在")
    return location


def access_job(user: Any, job_id: Any, *, write: bool = False) -> StudioJob:
    """A job of one of the user's works."""
    if not getattr(user, "is_authenticated", False):
        raise Http404("任务不存在")
    job = StudioJob.objects.filter(pk=_pk(job_id), author_id=user.pk, work__author_id=user.pk).select_related(
        "work").first()
    if job is None:
        raise Http404("任务不存在")
    return job


def access_asset(user: Any, asset_id: Any, *, write: bool = False) -> GeneratedAsset:
    """A generated output of one of the user's works."""
    if not getattr(user, "is_authenticated", False):
        raise Http404("文件不存在")
    asset = GeneratedAsset.objects.filter(pk=_pk(asset_id), work__author_id=user.pk).select_related("work").first()
    if asset is None:
        raise Http404("文件不存在")
    return asset
