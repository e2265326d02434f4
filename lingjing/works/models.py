"""Works: what an author creates in the studio and may later publish.

The model stays small on purpose: publishing, the feed, search and comments build on it elsewhere. The script
is the author's personal data, sealed under their key; title, tags and publish time are their content.
Erasing the author anonymises the row (the link to the person is cut, the script shredded, the title replaced
and the work taken down) so ids that others hold (links, comments) still resolve to a tombstone.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from lingjing.privacy.registry import PD, NonPersonal, Retention, RowErase, declare
from lingjing.security.crypto import SealedField


class WorkStatus(models.TextChoices):
    DRAFT = "draft", "草稿"
    PUBLISHED = "published", "已发布"
    UNPUBLISHED = "unpublished", "已下架"
    REMOVED = "removed", "已移除"


_ACCOUNT = Retention.account()
_CONTENT = ("content",)

TITLE_MAX = 80
TAG_MAX = 20
TAGS_MAX = 10


@declare(
    subject="author",
    fields={
        "title": PD("content.work", _CONTENT, "contract", _ACCOUNT, anonymised="（作品已随作者注销移除）"),
        "script": PD("content.script", _CONTENT, "contract", _ACCOUNT, anonymised=None,
                     note="sealed under the author's key"),
        "tags": PD("content.work", _CONTENT, "contract", _ACCOUNT, anonymised=[]),
        "cover_path": PD("content.asset", _CONTENT, "contract", _ACCOUNT, export="file", anonymised=""),
        "status": PD("content.work", _CONTENT, "contract", _ACCOUNT, anonymised=WorkStatus.REMOVED),
        "published_at": PD("content.work", _CONTENT, "contract", _ACCOUNT,
                           note="publish time is recorded (policy 一(二)2)"),
    },
    non_personal=NonPersonal(
        ["id", "author", "created_at", "updated_at"],
        why="pseudonymous id and the row's own timestamps (kept on the anonymous tombstone)",
    ),
    on_erase=RowErase.ANONYMISE,
    erase_order=80,
)
class Work(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="works"
    )
    title = models.CharField("标题", max_length=TITLE_MAX)
    script = SealedField(owner="author")
    status = models.CharField(max_length=16, choices=WorkStatus.choices, default=WorkStatus.DRAFT, db_index=True)
    tags = models.JSONField(default=list, blank=True)
    cover_path = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-updated_at"]
        indexes: ClassVar = [
            models.Index(fields=["author", "-updated_at"], name="works_author_updated"),
            # the public feed: newest published first
            models.Index(fields=["status", "-published_at"], name="works_status_published"),
        ]
        verbose_name = "作品"
        verbose_name_plural = "作品"

    def __str__(self) -> str:
        return self.title

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "title": self.title,
            "status": self.status,
            "tags": list(self.tags),
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "published_at": self.published_at.isoformat() if self.published_at else None,
        }
