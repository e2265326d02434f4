"""The notification service's data: inbox entries, deliveries, preferences, email codes and announcements.

* :class:`Notification` — one entry of a person's in-app inbox. Entries fanned out from an announcement point at
  the :class:`Announcement` and hold no text of their own (the announcement is rendered in the reader's language).
* :class:`Delivery` — one message on one outward channel (email, SMS, push) to one subject (``u:<uuid>`` for a
  person with an account, ``v:<uuid>`` for a visitor who left a contact with customer service): the rendered text
  and the address, sealed under the subject's key, and the record of every attempt (status, attempts, last error,
  next retry).
* :class:`NotifySettings` and :class:`Preference` — the person's language, notification email and, per category,
  the channels they want. Service announcements and security notices cannot be switched off (policy 一(三)).
* :class:`EmailCode` — a one-time code proving control of an email address (only its HMAC is kept).
* :class:`Announcement` — a site-wide notice (maintenance, service, security) shown as a banner and put into
  every active person's inbox, now or at a scheduled time.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from lingjing.privacy.registry import PD, NonPersonal, Retention, RowErase, declare
from lingjing.security.crypto import SealedField


class Category(models.TextChoices):
    SERVICE = "service", "服务公告"
    SECURITY = "security", "安全通知"
    ACCOUNT = "account", "账号与客服"
    MARKETING = "marketing", "活动与推广"
    SOCIAL = "social", "互动消息"


CATEGORY_EN: dict[str, str] = {
    Category.SERVICE: "Service announcements",
    Category.SECURITY: "Security notices",
    Category.ACCOUNT: "Account and customer service",
    Category.MARKETING: "Offers and promotions",
    Category.SOCIAL: "Community activity",
}

# Not advertising and cannot be switched off (policy 一(三); security incidents: policy 四(五)).
MANDATORY: frozenset[str] = frozenset({Category.SERVICE, Category.SECURITY})


class Channel(models.TextChoices):
    INBOX = "inbox", "站内信"
    EMAIL = "email", "电子邮件"
    SMS = "sms", "短信"
    PUSH = "push", "推送"


CHANNEL_EN: dict[str, str] = {
    Channel.INBOX: "In-app inbox",
    Channel.EMAIL: "Email",
    Channel.SMS: "SMS",
    Channel.PUSH: "Push",
}
EXTERNAL_CHANNELS: tuple[str, ...] = (Channel.EMAIL, Channel.SMS, Channel.PUSH)

# What a person gets before they choose. Marketing also needs has_consent(user, "marketing").
DEFAULT_CHANNELS: dict[str, tuple[str, ...]] = {
    Category.SERVICE: (Channel.INBOX, Channel.EMAIL),
    Category.SECURITY: (Channel.INBOX, Channel.EMAIL, Channel.SMS, Channel.PUSH),
    Category.ACCOUNT: (Channel.INBOX, Channel.EMAIL),
    Category.MARKETING: (Channel.INBOX, Channel.EMAIL),
    Category.SOCIAL: (Channel.INBOX,),
}

_ACCOUNT = Retention.account()
INBOX_DAYS = 365
DELIVERY_DAYS = 180


def category_label(category: str, lang: str = "zh") -> str:
    if lang.startswith("en"):
        return CATEGORY_EN.get(category, category)
    return str(Category(category).label) if category in Category.values else category


@declare(
    subject="user",
    fields={
        "language": PD("profile.preferences", ("notify",), "contract", _ACCOUNT),
        "email": PD("identity.email", ("notify", "support"), "contract", _ACCOUNT,
                    note="the address service notices go to, confirmed by a code"),
        "email_confirmed_at": PD("identity.email", ("notify",), "contract", _ACCOUNT),
        "updated_at": PD("profile.preferences", ("notify",), "contract", _ACCOUNT),
    },
    non_personal=NonPersonal(["id", "user"], why="pseudonymous ids"),
    on_erase=RowErase.DELETE,
    erase_order=20,
)
class NotifySettings(models.Model):
    """A person's notification language and email address (the user model has no email of its own)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notify_settings")
    language = models.CharField(max_length=10, default="zh-hans")
    email = SealedField(owner="user")
    email_confirmed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "通知设置"
        verbose_name_plural = "通知设置"

    def __str__(self) -> str:
        return f"notify settings {str(self.pk)[:8]}"

    @property
    def confirmed_email(self) -> str:
        return (self.email or "") if self.email_confirmed_at else ""


@declare(
    subject="user",
    fields={
        "category": PD("profile.preferences", ("notify",), "contract", _ACCOUNT),
        "channels": PD("profile.preferences", ("notify",), "contract", _ACCOUNT),
        "updated_at": PD("profile.preferences", ("notify",), "contract", _ACCOUNT),
    },
    non_personal=NonPersonal(["id", "user"], why="pseudonymous ids"),
    on_erase=RowErase.DELETE,
    erase_order=20,
)
class Preference(models.Model):
    """The channels a person chose for one category (no row: the defaults)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notify_preferences")
    category = models.CharField(max_length=16, choices=Category.choices)
    channels = models.JSONField(default=list)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [models.UniqueConstraint(fields=["user", "category"], name="notify_pref_once")]

    def __str__(self) -> str:
        return f"{self.category}: {','.join(self.channels)}"


class AnnouncementKind(models.TextChoices):
    MAINTENANCE = "maintenance", "维护通知"
    SERVICE = "service", "服务公告"
    SECURITY = "security", "安全公告"


KIND_EN: dict[str, str] = {
    AnnouncementKind.MAINTENANCE: "Maintenance",
    AnnouncementKind.SERVICE: "Service announcement",
    AnnouncementKind.SECURITY: "Security announcement",
}


class FanoutState(models.TextChoices):
    SCHEDULED = "scheduled", "待发布"
    RUNNING = "running", "发送中"
    DONE = "done", "已送达收件箱"


@declare(
    non_personal=NonPersonal(
        ["id", "kind", "title_zh", "title_en", "body_zh", "body_en", "starts_at", "ends_at", "banner", "created_by",
         "created_at", "updated_at", "fanout_state", "fanout_cursor", "recipients", "fanned_out_at"],
        why="a public notice to everyone; the author is a staff member's pseudonymous id",
    ),
)
class Announcement(models.Model):
    """A site-wide notice: a banner on every page while it runs, and an entry in every active person's inbox."""

    kind = models.CharField("类型", max_length=16, choices=AnnouncementKind.choices, default=AnnouncementKind.SERVICE)
    title_zh = models.CharField("标题（中文）", max_length=120)
    title_en = models.CharField("标题（英文）", max_length=160, blank=True)
    body_zh = models.TextField("正文（中文）")
    body_en = models.TextField("正文（英文）", blank=True)
    starts_at = models.DateTimeField("发布时间", default=timezone.now, help_text="留作当前时间即立即发布")
    ends_at = models.DateTimeField("横幅结束时间", null=True, blank=True)
    banner = models.BooleanField("在每个页面顶部显示横幅", default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    fanout_state = models.CharField(
        max_length=12, choices=FanoutState.choices, default=FanoutState.SCHEDULED, editable=False
    )
    fanout_cursor = models.CharField(max_length=40, blank=True, editable=False)  # last user id put in an inbox
    recipients = models.PositiveIntegerField(default=0, editable=False)
    fanned_out_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering: ClassVar = ["-starts_at"]
        verbose_name = "公告"
        verbose_name_plural = "公告"
        indexes: ClassVar = [models.Index(fields=["fanout_state", "starts_at"], name="notify_ann_due")]

    def __str__(self) -> str:
        return self.title_zh

    @property
    def category(self) -> str:
        return Category.SECURITY if self.kind == AnnouncementKind.SECURITY else Category.SERVICE

    def title(self, lang: str = "zh") -> str:
        return (self.title_en or self.title_zh) if lang.startswith("en") else self.title_zh

    def body(self, lang: str = "zh") -> str:
        return (self.body_en or self.body_zh) if lang.startswith("en") else self.body_zh

    def kind_label(self, lang: str = "zh") -> str:
        return KIND_EN[self.kind] if lang.startswith("en") else str(AnnouncementKind(self.kind).label)

    def is_live(self, now: object = None) -> bool:
        at = now or timezone.now()
        return bool(self.starts_at <= at and (self.ends_at is None or self.ends_at > at))  # type: ignore[operator]


_INBOX = Retention.for_days(INBOX_DAYS)


@declare(
    subject="user",
    fields={
        "category": PD("behaviour.usage", ("notify",), "contract", _INBOX),
        "template": PD("behaviour.usage", ("notify",), "contract", _INBOX),
        "title": PD("behaviour.usage", ("notify",), "contract", _INBOX, note="rendered in the person's language"),
        "body": PD("behaviour.usage", ("notify",), "contract", _INBOX),
        "url": PD("behaviour.usage", ("notify",), "contract", _INBOX),
        "created_at": PD("behaviour.usage", ("notify",), "contract", _INBOX),
        "read_at": PD("behaviour.usage", ("notify",), "contract", _INBOX),
    },
    non_personal=NonPersonal(["id", "user", "announcement"], why="pseudonymous ids; the announcement is public"),
    on_erase=RowErase.DELETE,
    erase_order=15,
)
class Notification(models.Model):
    """One entry of a person's in-app inbox."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    category = models.CharField(max_length=16, choices=Category.choices)
    template = models.CharField(max_length=60)
    title = SealedField(owner="user")
    body = SealedField(owner="user")
    url = models.CharField(max_length=300, blank=True)
    announcement = models.ForeignKey(
        Announcement, null=True, blank=True, on_delete=models.PROTECT, related_name="inbox_entries"
    )
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes: ClassVar = [models.Index(fields=["user", "-created_at"], name="notify_inbox_user")]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["user", "announcement"], name="notify_announcement_once",
                                    condition=models.Q(announcement__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"notification {str(self.pk)[:8]} ({self.category})"

    def text(self, lang: str = "zh") -> tuple[str, str]:
        """(title, body) in ``lang``: an announcement's own text, or what was rendered for the person."""
        if self.announcement_id is not None:
            ann = self.announcement
            assert ann is not None
            return ann.title(lang), ann.body(lang)
        return self.title or "", self.body or ""


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "待发送"
    SENDING = "sending", "发送中"
    RETRYING = "retrying", "等待重试"
    SENT = "sent", "已发送"
    FAILED = "failed", "发送失败"
    SKIPPED = "skipped", "未发送"


_DELIVERY = Retention.for_days(DELIVERY_DAYS)
_DELIVERY_PD = PD("behaviour.usage", ("notify",), "contract", _DELIVERY)


@declare(
    subject_ref="subject_ref",
    fields={
        "to_email": PD("identity.email", ("notify", "support"), "contract", _DELIVERY, note="the address used"),
        "to_phone": PD("identity.phone", ("notify", "support"), "contract", _DELIVERY, note="the number used"),
        "title": _DELIVERY_PD,
        "body": _DELIVERY_PD,
        "url": _DELIVERY_PD,
        "channel": _DELIVERY_PD,
        "category": _DELIVERY_PD,
        "template": _DELIVERY_PD,
        "language": _DELIVERY_PD,
        "status": _DELIVERY_PD,
        "attempts": _DELIVERY_PD,
        "last_error": _DELIVERY_PD,
        "next_retry_at": _DELIVERY_PD,
        "created_at": _DELIVERY_PD,
        "sent_at": _DELIVERY_PD,
        "claimed_at": _DELIVERY_PD,
    },
    non_personal=NonPersonal(["id", "subject_ref", "notification"], why="pseudonymous ids"),
    on_erase=RowErase.DELETE,
    erase_order=12,
)
class Delivery(models.Model):
    """One message on one outward channel to one subject, with the record of its attempts."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject_ref = models.CharField(max_length=64, db_index=True)  # "u:<uuid>" or "v:<uuid>"
    notification = models.ForeignKey(
        Notification, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    category = models.CharField(max_length=16, choices=Category.choices)
    template = models.CharField(max_length=60)
    language = models.CharField(max_length=10, default="zh-hans")
    to_email = SealedField(owner="subject_ref")
    to_phone = SealedField(owner="subject_ref")
    title = SealedField(owner="subject_ref")
    body = SealedField(owner="subject_ref")
    url = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=200, blank=True)  # an error class or provider code, never content
    next_retry_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "投递记录"
        verbose_name_plural = "投递记录"
        indexes: ClassVar = [models.Index(fields=["status", "next_retry_at"], name="notify_delivery_due")]

    def __str__(self) -> str:
        return f"{self.channel} {str(self.pk)[:8]} ({self.status})"


class CodePurpose(models.TextChoices):
    CONFIRM_EMAIL = "confirm_email", "确认通知邮箱"
    TICKET_CONTACT = "ticket_contact", "确认工单联系方式"


@declare(
    subject_ref="subject_ref",
    fields={
        "address_index": PD("identity.email", ("notify", "support"), "contract", Retention.for_days(1),
                            export="omit", note="keyed HMAC of the address the code went to"),
        "created_at": PD("security.event", ("security",), "contract", Retention.for_days(1)),
    },
    non_personal=NonPersonal(
        ["id", "subject_ref", "purpose", "code_hmac", "expires_at", "attempts", "consumed_at"],
        why="the code exists only as an HMAC; counters and times of a one-day record",
    ),
    erase_order=10,
)
class EmailCode(models.Model):
    """A one-time code sent by email. Only an HMAC is kept; it dies after one use or too many misses."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject_ref = models.CharField(max_length=64)
    purpose = models.CharField(max_length=16, choices=CodePurpose.choices)
    address_index = models.CharField(max_length=64)
    code_hmac = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    consumed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes: ClassVar = [models.Index(fields=["subject_ref", "purpose", "created_at"], name="notify_code_find")]

    def __str__(self) -> str:
        return f"email code {str(self.pk)[:8]} ({self.purpose})"
