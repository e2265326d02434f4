"""Customer service: tickets, their conversation, screenshots, canned replies (policy 一(二)4, 九).

* :class:`Ticket` — one problem raised by a person with an account (subject ``u:<uuid>``) or by a visitor who
  left a contact and confirmed it with a code (subject ``v:<uuid>``, a key of their own). Title, contact and the
  resolution note are sealed under that subject's key. Each accepted ticket carries its answer deadline: 15
  working days on the mainland calendar (``core.workdays``; App认定方法 for complaints).
* :class:`TicketMessage` — the conversation: the person's messages, agents' replies and agents' internal notes
  (``internal``: never shown to the person), all sealed under the person's key.
* :class:`Attachment` — a screenshot, re-encoded without metadata under a server-generated name (``uploads``).
* :class:`CannedReply` — prepared answers agents insert into a reply (no personal data).

Retention (the registry below): tickets, messages and the resolution are customer-service records the policy
says we keep (C1.5), for three years from creation, also after the account is erased (``KEEP``); erasing the
person destroys their key, so the kept rows lose every readable word and only dates, category and status remain.
Screenshots go with the erasure and after one year. A visitor's ticket that was never confirmed is deleted after a
day (``purge_unconfirmed``).
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from lingjing.privacy.registry import PD, NonPersonal, Retention, RowErase, declare
from lingjing.security.crypto import SealedField

RECORD_DAYS = 3 * 366
ATTACHMENT_DAYS = 366
_RECORD = Retention.for_days(RECORD_DAYS)


class TicketCategory(models.TextChoices):
    ACCOUNT = "account", "账号问题"
    CREATION = "creation", "创作与作品"
    PRIVACY = "privacy_request", "个人信息权利请求"
    COMPLAINT = "complaint", "投诉与举报"
    OTHER = "other", "其他"


CATEGORY_EN: dict[str, str] = {
    TicketCategory.ACCOUNT: "Account",
    TicketCategory.CREATION: "Creation and works",
    TicketCategory.PRIVACY: "Personal information request",
    TicketCategory.COMPLAINT: "Complaint or report",
    TicketCategory.OTHER: "Other",
}

# Categories whose overdue alert also goes to the privacy officer (complaints: App认定方法; rights requests: L1).
OFFICER_CATEGORIES: frozenset[str] = frozenset({TicketCategory.COMPLAINT, TicketCategory.PRIVACY})


class TicketStatus(models.TextChoices):
    UNCONFIRMED = "unconfirmed", "待确认联系方式"
    OPEN = "open", "待客服处理"
    ANSWERED = "answered", "客服已回复"
    RESOLVED = "resolved", "已解决"


STATUS_EN: dict[str, str] = {
    TicketStatus.UNCONFIRMED: "Waiting for contact confirmation",
    TicketStatus.OPEN: "Waiting for customer service",
    TicketStatus.ANSWERED: "Customer service replied",
    TicketStatus.RESOLVED: "Resolved",
}


class ContactKind(models.TextChoices):
    NONE = "", "账号"
    PHONE = "phone", "手机号码"
    EMAIL = "email", "电子邮箱"


class Resolution(models.TextChoices):
    SOLVED = "solved", "问题已解决"
    EXPLAINED = "explained", "已说明情况"
    CONVERTED = "converted", "已转为个人信息权利请求"
    REPORT_HANDLED = "report_handled", "投诉举报已处理"
    REJECTED = "rejected", "经核实不予支持"
    NO_REPLY = "no_reply", "用户未回复，关闭"


RESOLUTION_EN: dict[str, str] = {
    Resolution.SOLVED: "Problem solved",
    Resolution.EXPLAINED: "Explained",
    Resolution.CONVERTED: "Turned into a personal information request",
    Resolution.REPORT_HANDLED: "Complaint or report handled",
    Resolution.REJECTED: "Not upheld after checking",
    Resolution.NO_REPLY: "Closed without a reply from you",
}


class Conversion(models.TextChoices):
    NONE = "", "—"
    PENDING = "pending", "已记录转换意图，待权利请求模块处理"
    CREATED = "created", "已创建权利请求"


_TICKET_PD = PD("support.message", ("support",), "contract", _RECORD)


@declare(
    subject_ref="subject_ref",
    fields={
        "title": PD("support.message", ("support",), "contract", _RECORD, note="sealed"),
        "contact": PD("support.contact", ("support",), "contract", _RECORD,
                      note="the phone or email a visitor (or a person) left; sealed"),
        "contact_kind": PD("support.contact", ("support",), "contract", _RECORD),
        "contact_confirmed_at": PD("support.contact", ("support",), "contract", _RECORD),
        "resolution_note": PD("support.message", ("support",), "contract", _RECORD, note="sealed"),
        "category": _TICKET_PD,
        "status": _TICKET_PD,
        "language": _TICKET_PD,
        "created_at": _TICKET_PD,
        "accepted_at": _TICKET_PD,
        "updated_at": _TICKET_PD,
        "due_at": _TICKET_PD,
        "first_response_at": _TICKET_PD,
        "overdue_flagged_at": _TICKET_PD,
        "assigned_at": _TICKET_PD,
        "resolution": _TICKET_PD,
        "resolved_at": _TICKET_PD,
        "conversion": PD("privacy.request", ("support", "rights"), "legal_duty", _RECORD),
        "rights_request_type": PD("privacy.request", ("support", "rights"), "legal_duty", _RECORD),
        "rights_request_ref": PD("privacy.request", ("support", "rights"), "legal_duty", _RECORD),
        "converted_at": PD("privacy.request", ("support", "rights"), "legal_duty", _RECORD),
    },
    non_personal=NonPersonal(["id", "subject_ref", "assigned_to", "resolved_by"],
                             why="pseudonymous ids of the person and of staff"),
    on_erase=RowErase.KEEP,
    keep_days=RECORD_DAYS,
    erase_order=20,
)
class Ticket(models.Model):
    """One problem raised with customer service."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject_ref = models.CharField(max_length=64, db_index=True)  # "u:<uuid>" or "v:<uuid>"
    category = models.CharField(max_length=20, choices=TicketCategory.choices)
    status = models.CharField(max_length=12, choices=TicketStatus.choices, default=TicketStatus.OPEN, db_index=True)
    title = SealedField(owner="subject_ref")
    contact_kind = models.CharField(max_length=8, choices=ContactKind.choices, blank=True, default="")
    contact = SealedField(owner="subject_ref")
    contact_confirmed_at = models.DateTimeField(null=True, blank=True)
    language = models.CharField(max_length=10, default="zh-hans")
    created_at = models.DateTimeField(default=timezone.now)
    accepted_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)  # last activity; the live pages poll it
    due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    overdue_flagged_at = models.DateTimeField(null=True, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_tickets"
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=20, choices=Resolution.choices, blank=True)
    resolution_note = SealedField(owner="subject_ref")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    conversion = models.CharField(max_length=10, choices=Conversion.choices, blank=True, default="")
    rights_request_type = models.CharField(max_length=20, blank=True)
    rights_request_ref = models.CharField(max_length=80, blank=True)
    converted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "客服工单"
        verbose_name_plural = "客服工单"
        permissions: ClassVar = [
            ("handle_ticket", "作为客服处理工单"),
            ("assign_ticket", "把工单分配给其他客服"),
        ]
        indexes: ClassVar = [
            models.Index(fields=["status", "due_at"], name="support_ticket_queue"),
            models.Index(fields=["assigned_to", "status"], name="support_ticket_mine"),
        ]

    def __str__(self) -> str:
        return f"工单 {self.ref}"

    @property
    def ref(self) -> str:
        """A short reference to quote on the phone or in an email (not a secret)."""
        return str(self.pk).replace("-", "")[:10].upper()

    @property
    def is_visitor(self) -> bool:
        return self.subject_ref.startswith("v:")

    @property
    def user_id(self) -> str | None:
        return self.subject_ref[2:] if self.subject_ref.startswith("u:") else None

    @property
    def is_open(self) -> bool:
        return self.status in (TicketStatus.OPEN, TicketStatus.ANSWERED)

    def category_label(self, lang: str = "zh") -> str:
        return CATEGORY_EN.get(self.category, self.category) if lang == "en" else self.get_category_display()

    def status_label(self, lang: str = "zh") -> str:
        return STATUS_EN.get(self.status, self.status) if lang == "en" else self.get_status_display()

    def resolution_label(self, lang: str = "zh") -> str:
        if not self.resolution:
            return ""
        return RESOLUTION_EN.get(self.resolution, "") if lang == "en" else self.get_resolution_display()


class Author(models.TextChoices):
    REQUESTER = "requester", "用户"
    AGENT = "agent", "客服"
    SYSTEM = "system", "系统"


_MESSAGE_PD = PD("support.message", ("support",), "contract", _RECORD)


@declare(
    subject_ref="subject_ref",
    fields={
        "body": PD("support.message", ("support",), "contract", _RECORD,
                   note="sealed; internal notes of agents are about the person and are part of their copy"),
        "author_role": _MESSAGE_PD,
        "internal": _MESSAGE_PD,
        "created_at": _MESSAGE_PD,
    },
    non_personal=NonPersonal(["id", "ticket", "subject_ref", "author"], why="pseudonymous ids"),
    on_erase=RowErase.KEEP,
    keep_days=RECORD_DAYS,
    erase_order=15,
)
class TicketMessage(models.Model):
    """One message of a ticket's conversation, or an internal note (``internal``) the person never sees."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    subject_ref = models.CharField(max_length=64, db_index=True)  # the ticket's subject: the key it is sealed with
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_role = models.CharField(max_length=10, choices=Author.choices)
    internal = models.BooleanField(default=False)
    body = SealedField(owner="subject_ref")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["created_at", "id"]
        indexes: ClassVar = [models.Index(fields=["ticket", "created_at"], name="support_message_thread")]

    def __str__(self) -> str:
        return f"message {str(self.pk)[:8]}"


_ATTACHMENT = Retention.for_days(ATTACHMENT_DAYS)


@declare(
    subject_ref="subject_ref",
    fields={
        "file": PD("support.message", ("support",), "contract", _ATTACHMENT, export="file",
                   note="a screenshot re-encoded as PNG without metadata, under a random name"),
        "width": PD("support.message", ("support",), "contract", _ATTACHMENT),
        "height": PD("support.message", ("support",), "contract", _ATTACHMENT),
        "size": PD("support.message", ("support",), "contract", _ATTACHMENT),
        "created_at": PD("support.message", ("support",), "contract", _ATTACHMENT),
    },
    non_personal=NonPersonal(["id", "ticket", "message", "subject_ref"], why="pseudonymous ids"),
    on_erase=RowErase.DELETE,
    erase_order=10,
)
class Attachment(models.Model):
    """A screenshot attached to a ticket message. Served only through the ticket's access check."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    message = models.ForeignKey(
        TicketMessage, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    subject_ref = models.CharField(max_length=64, db_index=True)
    file = models.CharField(max_length=200)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    size = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"attachment {str(self.pk)[:8]}"


@declare(
    non_personal=NonPersonal(
        ["id", "title", "body_zh", "body_en", "category", "active", "created_by", "updated_at"],
        why="prepared answers written by staff, about no one in particular",
    ),
)
class CannedReply(models.Model):
    """A prepared answer an agent inserts into a reply and then adapts."""

    title = models.CharField("名称", max_length=80)
    body_zh = models.TextField("内容（中文）")
    body_en = models.TextField("内容（英文）", blank=True)
    category = models.CharField("适用类别", max_length=20, choices=TicketCategory.choices, blank=True,
                                help_text="留空表示适用于所有类别")
    active = models.BooleanField("启用", default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering: ClassVar = ["title"]
        verbose_name = "快捷回复"
        verbose_name_plural = "快捷回复"

    def __str__(self) -> str:
        return self.title

    def body(self, lang: str = "zh") -> str:
        return (self.body_en or self.body_zh) if lang == "en" else self.body_zh
