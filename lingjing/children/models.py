"""Children's data (policy 六; PIPL art. 28, 31; 未成年人网络保护条例 art. 35-37).

* :class:`ChildAccessRequest` — a member of staff asks to open one child's data for a stated purpose; a second
  member of staff approves it for a limited time (or rejects it).
* :class:`ChildAccessLog` — every time staff actually open a child's data: who, when, why, what.
* :class:`UnconsentedChild` — a child found to have an account without a guardian's consent (e.g. a birth-date
  correction), and the deletion that followed.
* :class:`ChildrenReport` — the yearly compliance report of children's data processing (counts only).

Access requests and logs are about the child and are kept three years as proof of lawful access, also after the
child's account is erased.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from lingjing.privacy.registry import PD, NonPersonal, Retention, RowErase, declare

RECORD_DAYS = 3 * 366
_RECORD = Retention.for_days(RECORD_DAYS)
_PD = PD("audit.detail", ("child", "compliance"), "legal_duty", _RECORD,
         note="proof of lawful staff access to a child's data (未成年人网络保护条例 art. 36)")


class AccessStatus(models.TextChoices):
    PENDING = "pending", "待审批"
    APPROVED = "approved", "已批准"
    REJECTED = "rejected", "已拒绝"
    REVOKED = "revoked", "已撤销"


@declare(
    subject="child",
    fields={
        "purpose": _PD,
        "requested_at": _PD,
        "hours": _PD,
        "status": _PD,
        "decided_at": _PD,
        "decision_note": _PD,
        "expires_at": _PD,
    },
    non_personal=NonPersonal(["id", "child", "requested_by", "decided_by"], why="pseudonymous ids"),
    on_erase=RowErase.KEEP,
    keep_days=RECORD_DAYS,
    erase_order=30,
)
class ChildAccessRequest(models.Model):
    """Staff's request to open one child's data, and a second member of staff's decision on it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    child = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    purpose = models.TextField("用途")
    requested_at = models.DateTimeField(default=timezone.now)
    hours = models.PositiveSmallIntegerField("有效小时数", default=24)
    status = models.CharField(max_length=10, choices=AccessStatus.choices, default=AccessStatus.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-requested_at"]
        permissions: ClassVar = [("approve_childaccessrequest", "审批查看儿童个人信息的申请")]
        verbose_name = "儿童个人信息查看申请"
        verbose_name_plural = "儿童个人信息查看申请"

    def __str__(self) -> str:
        return f"access {str(self.pk)[:8]} ({self.status})"

    def active(self, now: object = None) -> bool:
        moment = now or timezone.now()
        return (
            self.status == AccessStatus.APPROVED
            and self.expires_at is not None
            and self.expires_at > moment  # type: ignore[operator]
        )


@declare(
    subject="child",
    fields={"at": _PD, "purpose": _PD, "action": _PD},
    non_personal=NonPersonal(["id", "child", "staff", "grant"], why="pseudonymous ids"),
    on_erase=RowErase.KEEP,
    keep_days=RECORD_DAYS,
    erase_order=30,
)
class ChildAccessLog(models.Model):
    """One opening of a child's data by staff (who, when, why, what)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    child = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    grant = models.ForeignKey(ChildAccessRequest, on_delete=models.PROTECT, related_name="uses")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    purpose = models.TextField()
    action = models.CharField(max_length=40)

    class Meta:
        ordering: ClassVar = ["-at"]
        verbose_name = "儿童个人信息查看记录"
        verbose_name_plural = "儿童个人信息查看记录"


class UnconsentedStatus(models.TextChoices):
    DELETING = "deleting", "删除中"
    DELETED = "deleted", "已删除"


@declare(
    subject="child",
    fields={"found_at": _PD, "trigger": _PD, "status": _PD, "finished_at": _PD},
    non_personal=NonPersonal(["id", "child"], why="pseudonymous id"),
    on_erase=RowErase.KEEP,
    keep_days=RECORD_DAYS,
    erase_order=30,
)
class UnconsentedChild(models.Model):
    """A child's account found without a guardian's consent, and its deletion (policy 六 last paragraph)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    child = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    found_at = models.DateTimeField(default=timezone.now)
    trigger = models.CharField(max_length=40)  # "birth_date_changed", "account_created"
    status = models.CharField(max_length=10, choices=UnconsentedStatus.choices, default=UnconsentedStatus.DELETING)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-found_at"]
        verbose_name = "未经监护人同意的儿童账号"
        verbose_name_plural = "未经监护人同意的儿童账号"


@declare(non_personal=NonPersonal(
    ["id", "year", "generated_at", "generated_by", "counts", "markdown"],
    why="aggregate counts of one year, no person in them",
))
class ChildrenReport(models.Model):
    """The yearly compliance report of children's data processing (未成年人网络保护条例 art. 37)."""

    year = models.PositiveSmallIntegerField(db_index=True)
    generated_at = models.DateTimeField(default=timezone.now)
    generated_by = models.CharField(max_length=64, default="system")
    counts = models.JSONField(default=dict)
    markdown = models.TextField()

    class Meta:
        ordering: ClassVar = ["-year", "-generated_at"]
        verbose_name = "儿童个人信息保护年度合规报告"
        verbose_name_plural = "儿童个人信息保护年度合规报告"
