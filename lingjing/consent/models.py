"""Consent and the versioned privacy policy.

* :class:`Purpose` — a processing purpose that needs the person's consent (data, not code: recipients and
  cross-border transfers are added as rows by the sharing work). Each has versioned notice texts
  (:class:`PurposeNotice`, zh/en); a consent always names the notice version the person saw.
* :class:`ConsentState` — the person's current answer per purpose (what :func:`lingjing.consent.service.has_consent`
  reads); :class:`ConsentRecord` — the append-only history of every change (proof of consent);
  :class:`ConsentReceipt` — what the person gets for each change and can download as JSON.
* :class:`PolicyVersion` — a published privacy policy (frozen zh/en text, change summary, material flag; in force
  from ``effective_at``), :class:`PolicyAcceptance` and :class:`PolicyNotice` (the in-app notice of a material
  change, with its email/SMS delivery marks).
* :class:`AnalyticsEvent` / :class:`AnalyticsSecret` — pseudonymous analytics in a store with no link to accounts.
* :class:`TrackedEmail` — an email that carries an open pixel / click redirects (only for consenting people).
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from lingjing.privacy.registry import PD, NonPersonal, Retention, RowErase, declare
from lingjing.security.crypto import SealedField

# Consent records prove that processing was lawful; they outlive the account for the limitation period.
PROOF_DAYS = 3 * 365
_PROOF = Retention("account_closed", PROOF_DAYS)


class PurposeKind(models.TextChoices):
    FEATURE = "feature", "功能"
    COOKIE = "cookie", "Cookie 与统计"
    MARKETING = "marketing", "营销与邮件"
    RECIPIENT = "recipient", "向第三方提供"
    CROSS_BORDER = "cross_border", "向境外提供"
    DISCLOSURE = "disclosure", "公开披露"


class Method(models.TextChoices):
    BANNER = "banner", "Cookie 横幅"
    SETTINGS = "settings", "设置页面"
    API = "api", "API"
    DNT = "dnt", "请勿追踪（DNT）信号"
    GPC = "gpc", "全球隐私控制（GPC）信号"
    EMAIL = "email", "邮件退订链接"
    REGISTER = "register", "注册"
    SIGN_IN = "sign_in", "登录时确认"


@declare(non_personal=NonPersonal(
    ["id", "key", "kind", "registry_purpose", "cookie_category", "honours_signals", "active", "position",
     "created_at"],
    why="the catalogue of purposes; no person in it",
))
class Purpose(models.Model):
    """A purpose that needs consent. ``key`` is what features pass to ``has_consent``."""

    key = models.SlugField(max_length=80, unique=True)
    kind = models.CharField(max_length=20, choices=PurposeKind.choices)
    # The registry purpose (lingjing.privacy.registry.PURPOSES) this consent covers, when there is one.
    registry_purpose = models.CharField(max_length=40, blank=True)
    # For purposes a browser cookie category stands for (analytics, marketing): anonymous visitors answer by banner.
    cookie_category = models.CharField(max_length=20, blank=True)
    # DNT / GPC switch the purpose off for the request that carries the signal.
    honours_signals = models.BooleanField(default=False)
    active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=100)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["position", "key"]
        verbose_name = "同意目的"
        verbose_name_plural = "同意目的"

    def __str__(self) -> str:
        return self.key

    def current_notice(self) -> PurposeNotice | None:
        return self.notices.order_by("-version").first()


@declare(non_personal=NonPersonal(
    ["id", "purpose", "version", "title_zh", "title_en", "text_zh", "text_en", "published_at"],
    why="notice texts shown to everyone",
))
class PurposeNotice(models.Model):
    """The text a person reads before consenting; a changed text is a new version (old consents keep theirs)."""

    purpose = models.ForeignKey(Purpose, on_delete=models.CASCADE, related_name="notices")
    version = models.PositiveIntegerField()
    title_zh = models.CharField(max_length=120)
    title_en = models.CharField(max_length=120)
    text_zh = models.TextField()
    text_en = models.TextField()
    published_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [models.UniqueConstraint(fields=["purpose", "version"], name="consent_notice_version")]
        ordering: ClassVar = ["purpose", "-version"]

    def title(self, lang: str) -> str:
        return self.title_en if lang.startswith("en") else self.title_zh

    def text(self, lang: str) -> str:
        return self.text_en if lang.startswith("en") else self.text_zh


@declare(
    subject="user",
    fields={
        "granted": PD("privacy.consent", ("rights", "compliance"), "legal_duty", _PROOF),
        "method": PD("privacy.consent", ("rights", "compliance"), "legal_duty", _PROOF),
        "notice_version": PD("privacy.consent", ("rights", "compliance"), "legal_duty", _PROOF),
        "updated_at": PD("privacy.consent", ("rights", "compliance"), "legal_duty", _PROOF),
    },
    non_personal=NonPersonal(["id", "user", "purpose"], why="pseudonymous ids"),
    on_erase=RowErase.DELETE,
    erase_order=20,
)
class ConsentState(models.Model):
    """The current answer of one person for one purpose (one row per pair)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consent_states")
    purpose = models.ForeignKey(Purpose, on_delete=models.PROTECT, related_name="states")
    granted = models.BooleanField()
    method = models.CharField(max_length=20, choices=Method.choices)
    notice_version = models.PositiveIntegerField(null=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [models.UniqueConstraint(fields=["user", "purpose"], name="consent_state_once")]


@declare(
    subject="user",
    fields={
        "at": PD("privacy.consent", ("compliance",), "legal_duty", _PROOF),
        "controller": PD("privacy.consent", ("compliance",), "legal_duty", _PROOF),
        "policy_version": PD("privacy.consent", ("compliance",), "legal_duty", _PROOF),
        "method": PD("privacy.consent", ("compliance",), "legal_duty", _PROOF),
        "purposes": PD("privacy.consent", ("compliance",), "legal_duty", _PROOF),
    },
    non_personal=NonPersonal(["id", "user"], why="pseudonymous ids"),
    on_erase=RowErase.KEEP,
    keep_days=PROOF_DAYS,
    erase_order=25,
)
class ConsentReceipt(models.Model):
    """What the person receives for each consent change (downloadable JSON, see ``receipts.receipt_document``)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consent_receipts")
    at = models.DateTimeField(default=timezone.now)
    controller = models.JSONField(default=dict)
    policy_version = models.PositiveIntegerField(null=True)
    method = models.CharField(max_length=20, choices=Method.choices)
    # [{"purpose": key, "granted": bool, "notice_version": int|None}]
    purposes = models.JSONField(default=list)

    class Meta:
        ordering: ClassVar = ["-at"]


@declare(
    subject="user",
    fields={
        "granted": PD("privacy.consent", ("compliance",), "legal_duty", _PROOF),
        "method": PD("privacy.consent", ("compliance",), "legal_duty", _PROOF),
        "notice_version": PD("privacy.consent", ("compliance",), "legal_duty", _PROOF),
        "at": PD("privacy.consent", ("compliance",), "legal_duty", _PROOF),
        "user_agent": PD("device.session", ("compliance",), "legal_duty", _PROOF,
                         note="sealed; proves which browser gave the consent"),
        "ip_prefix": PD("device.ip", ("compliance",), "legal_duty", _PROOF,
                        note="truncated to /24 (IPv4) or /48 (IPv6) before storage"),
    },
    non_personal=NonPersonal(["id", "user", "purpose", "receipt"], why="pseudonymous ids"),
    on_erase=RowErase.KEEP,
    keep_days=PROOF_DAYS,
    erase_order=20,
)
class ConsentRecord(models.Model):
    """One grant or withdrawal, never edited: the proof behind :class:`ConsentState`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consent_records")
    purpose = models.ForeignKey(Purpose, on_delete=models.PROTECT, related_name="records")
    notice_version = models.PositiveIntegerField(null=True)
    granted = models.BooleanField()
    method = models.CharField(max_length=20, choices=Method.choices)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    user_agent = SealedField(owner="user")
    ip_prefix = models.CharField(max_length=64, blank=True)
    receipt = models.ForeignKey(ConsentReceipt, null=True, on_delete=models.SET_NULL, related_name="records")

    class Meta:
        ordering: ClassVar = ["-at"]


@declare(non_personal=NonPersonal(
    ["id", "number", "published_at", "effective_at", "summary_zh", "summary_en", "material", "body_zh", "body_en",
     "published_by", "notify_state"],
    why="the public policy text; published_by is a staff account id",
))
class PolicyVersion(models.Model):
    """A published privacy policy. The text is frozen at publication so every version stays readable as it was."""

    number = models.PositiveIntegerField(unique=True)
    published_at = models.DateTimeField(default=timezone.now)
    effective_at = models.DateTimeField(db_index=True)
    summary_zh = models.TextField(blank=True)
    summary_en = models.TextField(blank=True)
    material = models.BooleanField(default=False)
    body_zh = models.TextField()
    body_en = models.TextField()
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # "" nothing to send, "pending" / "running" / "done" for the material-change notification run.
    notify_state = models.CharField(max_length=10, blank=True)

    class Meta:
        ordering: ClassVar = ["-number"]
        permissions: ClassVar = [("publish_policyversion", "发布隐私政策新版本")]
        verbose_name = "隐私政策版本"
        verbose_name_plural = "隐私政策版本"

    def __str__(self) -> str:
        return f"v{self.number}"

    def in_force(self, now: object = None) -> bool:
        return self.effective_at <= (now or timezone.now())  # type: ignore[operator]

    def body(self, lang: str) -> str:
        return self.body_en if lang.startswith("en") else self.body_zh

    def summary(self, lang: str) -> str:
        return (self.summary_en or self.summary_zh) if lang.startswith("en") else self.summary_zh


@declare(
    subject="user",
    fields={
        "at": PD("privacy.consent", ("compliance",), "legal_duty", _PROOF),
        "method": PD("privacy.consent", ("compliance",), "legal_duty", _PROOF),
    },
    non_personal=NonPersonal(["id", "user", "version"], why="pseudonymous ids"),
    on_erase=RowErase.KEEP,
    keep_days=PROOF_DAYS,
    erase_order=20,
)
class PolicyAcceptance(models.Model):
    """A person accepted a policy version (at registration, or when asked after a material change)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="policy_acceptances")
    version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="acceptances")
    at = models.DateTimeField(default=timezone.now)
    method = models.CharField(max_length=20, choices=Method.choices)

    class Meta:
        constraints: ClassVar = [models.UniqueConstraint(fields=["user", "version"], name="policy_accepted_once")]


@declare(
    subject="user",
    fields={
        "created_at": PD("privacy.consent", ("notify",), "legal_duty", _PROOF),
        "read_at": PD("privacy.consent", ("notify",), "legal_duty", _PROOF),
        "email_sent_at": PD("privacy.consent", ("notify",), "legal_duty", _PROOF),
        "sms_sent_at": PD("privacy.consent", ("notify",), "legal_duty", _PROOF),
    },
    non_personal=NonPersonal(["id", "user", "version"], why="pseudonymous ids"),
    on_erase=RowErase.DELETE,
    erase_order=20,
)
class PolicyNotice(models.Model):
    """The in-app notice of a material policy change, and when it also went out by email / SMS."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="policy_notices")
    version = models.ForeignKey(PolicyVersion, on_delete=models.CASCADE, related_name="notices")
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    email_sent_at = models.DateTimeField(null=True, blank=True)
    sms_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [models.UniqueConstraint(fields=["user", "version"], name="policy_notice_once")]
        ordering: ClassVar = ["-created_at"]


@declare(non_personal=NonPersonal(
    ["id", "day", "secret"],
    why="the daily analytics key; deleted after its day so old pseudonyms cannot be recomputed",
))
class AnalyticsSecret(models.Model):
    day = models.DateField(unique=True)
    secret = models.CharField(max_length=64)


class EventKind(models.TextChoices):
    PAGEVIEW = "pageview", "页面访问"
    ERROR = "error", "故障"
    ACQUISITION = "acquisition", "来源"


@declare(non_personal=NonPersonal(
    ["id", "at", "day", "kind", "route", "status", "duration_ms", "source", "pseudonym"],
    why="pseudonymous statistics with no link to an account: the pseudonym is a keyed hash of a random browser "
        "id under a key destroyed after one day; routes are URL patterns, sources are bare domains or utm_source",
))
class AnalyticsEvent(models.Model):
    """One analytics event (page view with timing, server error, or arrival from a source). No user key."""

    at = models.DateTimeField(default=timezone.now)
    day = models.DateField(db_index=True)
    kind = models.CharField(max_length=12, choices=EventKind.choices)
    route = models.CharField(max_length=200)
    status = models.PositiveSmallIntegerField(default=200)
    duration_ms = models.PositiveIntegerField(null=True)
    source = models.CharField(max_length=100, blank=True)
    pseudonym = models.CharField(max_length=32, db_index=True)

    class Meta:
        indexes: ClassVar = [models.Index(fields=["day", "kind"], name="consent_event_day_kind")]


_EMAIL_DAYS = 180


@declare(
    subject="user",
    fields={
        "category": PD("behaviour.usage", ("analytics",), "consent", Retention.for_days(_EMAIL_DAYS)),
        "sent_at": PD("behaviour.usage", ("analytics",), "consent", Retention.for_days(_EMAIL_DAYS)),
        "opened_at": PD("behaviour.usage", ("analytics",), "consent", Retention.for_days(_EMAIL_DAYS)),
        "open_count": PD("behaviour.usage", ("analytics",), "consent", Retention.for_days(_EMAIL_DAYS)),
        "click_count": PD("behaviour.usage", ("analytics",), "consent", Retention.for_days(_EMAIL_DAYS)),
        "last_click_at": PD("behaviour.usage", ("analytics",), "consent", Retention.for_days(_EMAIL_DAYS)),
    },
    non_personal=NonPersonal(["id", "user"], why="pseudonymous ids"),
    on_erase=RowErase.DELETE,
    erase_order=15,
)
class TrackedEmail(models.Model):
    """An email sent with an open pixel and click redirects (only to people who consented to email tracking)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tracked_emails")
    category = models.CharField(max_length=30)
    sent_at = models.DateTimeField(default=timezone.now, db_index=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    open_count = models.PositiveIntegerField(default=0)
    click_count = models.PositiveIntegerField(default=0)
    last_click_at = models.DateTimeField(null=True, blank=True)
