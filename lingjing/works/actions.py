"""Every write to works. Each action is one durable transaction with its audit row."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from lingjing.security.audit import AuditEvent, record
from lingjing.works.files import delete_work_files
from lingjing.works.models import TAG_MAX, TAGS_MAX, TITLE_MAX, Work, WorkStatus

SCRIPT_MAX_CHARS = 500_000


def clean_title(title: str) -> str:
    value = " ".join((title or "").split())
    if not value:
        raise ValidationError("请填写作品标题", code="title_required")
    if len(value) > TITLE_MAX:
        raise ValidationError(f"标题最多 {TITLE_MAX} 个字", code="title_too_long")
    return value


def clean_script(script: str) -> str:
    if len(script) > SCRIPT_MAX_CHARS:
        raise ValidationError(f"脚本最多 {SCRIPT_MAX_CHARS} 个字", code="script_too_long")
    return script


def clean_tags(tags: Iterable[str]) -> list[str]:
    out: list[str] = []
    for raw in tags:
        tag = " ".join(str(raw).split()).lstrip("#")
        if not tag or tag in out:
            continue
        if len(tag) > TAG_MAX:
            raise ValidationError(f"每个标签最多 {TAG_MAX} 个字", code="tag_too_long")
        out.append(tag)
    if len(out) > TAGS_MAX:
        raise ValidationError(f"最多 {TAGS_MAX} 个标签", code="too_many_tags")
    return out


def do_create_work(
    author: Any, *, title: str, script: str = "", tags: Iterable[str] = (), acting_user: Any
) -> Work:
    work = Work(author=author, title=clean_title(title), script=clean_script(script), tags=clean_tags(tags))
    with transaction.atomic(durable=True):
        work.save(force_insert=True)
        record(
            AuditEvent.WORK_CREATED,
            acting_user=acting_user,
            subject=f"u:{author.pk}",
            obj=work,
            details={"script_chars": len(work.script or ""), "tags": len(work.tags)},
        )
    return work


def do_update_work(
    work: Work,
    *,
    title: str | None = None,
    script: str | None = None,
    tags: Iterable[str] | None = None,
    cover_path: str | None = None,
    acting_user: Any,
) -> Work:
    changed: list[str] = []
    if title is not None:
        value = clean_title(title)
        if value != work.title:
            work.title = value
            changed.append("title")
    if script is not None:
        value = clean_script(script)
        if value != (work.script or ""):
            work.script = value
            changed.append("script")
    if tags is not None:
        cleaned = clean_tags(tags)
        if cleaned != list(work.tags):
            work.tags = cleaned
            changed.append("tags")
    if cover_path is not None and cover_path != work.cover_path:
        work.cover_path = cover_path
        changed.append("cover_path")
    if not changed:
        return work
    work.updated_at = timezone.now()
    with transaction.atomic(durable=True):
        work.save(update_fields=[*changed, "updated_at"])
        from lingjing.works.publishing import work_changed  # screened and re-indexed when published

        work_changed(work, changed, acting_user=acting_user)
        record(
            AuditEvent.WORK_UPDATED,
            acting_user=acting_user,
            subject=f"u:{work.author_id}" if work.author_id else "",
            obj=work,
            details={"fields": changed},
        )
    return work


def do_delete_work(work: Work, *, acting_user: Any) -> None:
    """Delete a work with everything hanging off it (studio rows cascade); its files go after commit."""
    work_id = work.pk
    with transaction.atomic(durable=True):
        record(
            AuditEvent.WORK_DELETED,
            acting_user=acting_user,
            subject=f"u:{work.author_id}" if work.author_id else "",
            obj=work,
            details={"status": work.status, "was_published": work.status == WorkStatus.PUBLISHED},
        )
        work.delete()
        transaction.on_commit(lambda: delete_work_files(work_id))
