"""Security operations: the pseudonymised security log, incidents, staff access records, retention runs.

* :class:`SecurityEvent` — the security log (网络安全法 art. 21): sign-in outcomes, risk assessments, rate-limit and
  SMS refusals. Pseudonymised: accounts, addresses and devices appear only as keyed hashes (``pseudonyms.py``);
  no phone number, address, search text or message body is ever written here. Kept six calendar months.
* :class:`Incident` and its :class:`IncidentReport` drafts, :class:`AffectedPerson` rows, :class:`IncidentNotice`
  deliveries and :class:`IncidentAnnouncement` (PIPL art. 57; 国家网络安全事件报告管理办法).
* :class:`StaffAccessGrant` (a stated purpose before staff see decrypted personal data) and
  :class:`TrainingAcknowledgement` (the yearly privacy-and-security training, policy 四(一)).
* :class:`RetentionRun` (what each purge removed) and :class:`DrillSubject` (synthetic people of incident drills).
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from lingjing.privacy.registry import PD, NonPersonal, Retention, RowErase, declare
from lingjing.security.crypto import SealedField

# Six calendar months at their longest (July to December): no entry leaves before six months have passed,
# whatever month it was written in (网络安全法 art. 21: 留存相关的网络日志不少于六个月). 180 days would fall short by
# up to four days.
SECURITY_LOG_DAYS = 184
# Records of processing and of incident handling: three years (PIPL art. 56 sets that floor for impact
# assessments and processing records; incident files are kept as long).
RECORD_DAYS = 3 * 366

_LOG = Retention.for_days(SECURITY_LOG_DAYS)
_LOG_PD = PD("security.event", ("security",), "legal_duty", _LOG)
_RECORD = Retention.for_days(RECORD_DAYS)


# --- the security log ---------------------------------------------------------------------------------------


class EventKind(models.TextChoices):
    SIGN_IN_FAILED = "sign_in_failed", "登录失败"
    SIGN_IN_SUCCEEDED = "sign_in_succeeded", "登录成功"
    SIGN_IN_CHALLENGED = "sign_in_challenged", "登录需进一步验证"
    SIGN_IN_BLOCKED = "sign_in_blocked", "登录被阻止"
    SMS_LIMITED = "sms_limited", "短信验证码发送受限"
    RATE_LIMITED = "rate_limited", "请求频率超限"
    IMPOSSIBLE_RATE = "impossible_rate", "异常请求速率"
    BULK_SCRAPING = "bulk_scraping", "批量抓取"


@declare(
    subject_ref="actor_key",
    fields={
        "at": _LOG_PD,
        "kind": _LOG_PD,
        "channel": _LOG_PD,
        "detail": PD("security.event", ("security",), "legal_duty", _LOG,
                     note="a reason or limit code (bad_password, sms:prefix:day), never content"),
        "outcome": _LOG_PD,
        "score": _LOG_PD,
        "signals": PD("security.event", ("security",), "legal_duty", _LOG, note="signal names and counts only"),
        "ip_key": PD("device.ip", ("security",), "legal_duty", _LOG,
                     note="keyed hash of the address group (IPv4 address, IPv6 /64)"),
        "net_key": PD("device.ip", ("security",), "legal_duty", _LOG,
                      note="keyed hash of the network (IPv4 /24, IPv6 /48)"),
        "device_key": PD("device.session", ("security",), "legal_duty", _LOG,
                         note="keyed hash of account, browser family and network: recognises a known device"),
    },
    non_personal=NonPersonal(
        ["id", "actor_key"],
        why="actor_key is a keyed hash of the account id (or of the phone's blind index for a number without an "
            "account); the rights engines cannot match it to a person without re-identifying the log, which the "
            "pseudonymisation exists to prevent (the person's own sign-in history comes from the audit log)",
    ),
    on_erase=RowErase.KEEP,
    keep_days=SECURITY_LOG_DAYS,
)
class SecurityEvent(models.Model):
    """One entry of the pseudonymised security log."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    kind = models.CharField(max_length=24, choices=EventKind.choices)
    channel = models.CharField(max_length=8, blank=True)  # web | api | ""
    detail = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=12, blank=True)  # allow | step_up | block | refused
    score = models.PositiveSmallIntegerField(default=0)
    signals = models.JSONField(default=dict)
    actor_key = models.CharField(max_length=40, blank=True)
    ip_key = models.CharField(max_length=40, blank=True)
    net_key = models.CharField(max_length=40, blank=True)
    device_key = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering: ClassVar = ["-at"]
        verbose_name = "安全日志"
        verbose_name_plural = "安全日志"
        indexes: ClassVar = [
            models.Index(fields=["actor_key", "kind", "at"], name="secops_event_actor"),
            models.Index(fields=["ip_key", "kind", "at"], name="secops_event_ip"),
            models.Index(fields=["net_key", "kind", "at"], name="secops_event_net"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.at:%Y-%m-%d %H:%M}"


# --- incidents ----------------------------------------------------------------------------------------------


class IncidentLevel(models.TextChoices):
    """国家网络安全事件报告管理办法 (2025) and its grading guide."""

    EXTRAORDINARY = "extraordinary", "特别重大"
    MAJOR = "major", "重大"
    SERIOUS = "serious", "较大"
    GENERAL = "general", "一般"


LEVEL_EN = {
    IncidentLevel.EXTRAORDINARY: "Extraordinarily serious",
    IncidentLevel.MAJOR: "Major",
    IncidentLevel.SERIOUS: "Serious",
    IncidentLevel.GENERAL: "General",
}


class IncidentKind(models.TextChoices):
    """The event classes of GB/T 20986-2023 (网络安全事件分类分级指南)."""

    MALWARE = "malware", "恶意程序事件"
    ATTACK = "attack", "网络攻击事件"
    DATA = "data", "数据安全事件"
    CONTENT = "content", "信息内容安全事件"
    FAULT = "fault", "设备设施故障事件"
    MISUSE = "misuse", "违规操作事件"
    HAZARD = "hazard", "安全隐患事件"
    ANOMALY = "anomaly", "异常行为事件"
    FORCE_MAJEURE = "force_majeure", "不可抗力事件"
    OTHER = "other", "其他事件"


class IncidentScope(models.TextChoices):
    STORED = "stored", "涉及系统中存储的全部相关数据"
    TOUCHED = "touched", "仅涉及事件期间被访问或改动的数据（依据审计日志）"


class IncidentStatus(models.TextChoices):
    OPEN = "open", "处置中"
    CLOSED = "closed", "处置结束"


@declare(
    non_personal=NonPersonal(
        ["id", "ref", "title", "kind", "level", "drill", "scope", "systems", "categories", "discovered_at",
         "occurred_from", "occurred_to", "summary", "impact", "measures", "advice", "remedies", "cause", "status",
         "closed_at", "affected_count", "unreachable_count", "affected_computed_at", "created_by", "created_at",
         "updated_at"],
        why="the organisation's record of an event: no person's data (affected people are separate rows); the "
            "author is a staff member's pseudonymous id",
    ),
)
class Incident(models.Model):
    """A network or personal-information security incident (or a drill of one)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    ref = models.CharField("编号", max_length=24, unique=True)
    title = models.CharField("标题", max_length=120)
    kind = models.CharField("事件类型", max_length=16, choices=IncidentKind.choices)
    level = models.CharField("事件级别", max_length=16, choices=IncidentLevel.choices)
    drill = models.BooleanField("演练", default=False)
    scope = models.CharField("影响范围", max_length=10, choices=IncidentScope.choices, default=IncidentScope.STORED)
    systems = models.JSONField("涉及系统", default=list)  # app labels
    categories = models.JSONField("涉及的个人信息类别", default=list)  # registry category ids
    discovered_at = models.DateTimeField("发现时间")
    occurred_from = models.DateTimeField("发生时间（起）")
    occurred_to = models.DateTimeField("发生时间（止）")
    summary = models.TextField("事件经过")
    impact = models.TextField("可能造成的危害")
    measures = models.TextField("已采取的处置措施")
    advice = models.TextField("个人可采取的防范措施", blank=True)
    remedies = models.TextField("补救措施", blank=True)
    cause = models.TextField("初步原因分析", blank=True)
    status = models.CharField(max_length=8, choices=IncidentStatus.choices, default=IncidentStatus.OPEN)
    closed_at = models.DateTimeField("处置结束时间", null=True, blank=True)
    affected_count = models.PositiveIntegerField(default=0)
    unreachable_count = models.PositiveIntegerField(default=0)
    affected_computed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["-discovered_at"]
        verbose_name = "安全事件"
        verbose_name_plural = "安全事件"
        permissions: ClassVar = [
            ("run_drill", "运行安全事件演练"),
            ("notify_affected", "向受影响的个人发送事件告知"),
            ("submit_report", "确认已向监管部门报送"),
        ]

    def __str__(self) -> str:
        return f"{'[演练] ' if self.drill else ''}{self.ref} {self.title}"

    def level_label(self, lang: str = "zh") -> str:
        return LEVEL_EN[IncidentLevel(self.level)] if lang.startswith("en") else self.get_level_display()


class ReportStage(models.TextChoices):
    INITIAL = "initial", "初次报告（发现后 4 小时内）"
    SUMMARY = "summary", "总结报告（处置结束后 30 日内）"


@declare(
    non_personal=NonPersonal(
        ["id", "incident", "stage", "due_at", "content", "text", "drafted_at", "submitted_at", "submitted_by"],
        why="the report to the regulator: counts and categories, no person's data",
    ),
)
class IncidentReport(models.Model):
    """A draft (then the submitted record) of a report to the regulator."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="reports")
    stage = models.CharField(max_length=8, choices=ReportStage.choices)
    due_at = models.DateTimeField(null=True, blank=True)  # None: no deadline for this level
    content = models.JSONField(default=dict)
    text = models.TextField()
    drafted_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering: ClassVar = ["drafted_at"]
        verbose_name = "监管报告"
        verbose_name_plural = "监管报告"
        constraints: ClassVar = [models.UniqueConstraint(fields=["incident", "stage"], name="secops_report_once")]

    def __str__(self) -> str:
        return f"{self.incident.ref} {self.get_stage_display()}"

    def overdue(self, now: Any = None) -> bool:
        at = now or timezone.now()
        return bool(self.due_at and self.submitted_at is None and self.due_at < at)


_AFFECTED_PD = PD("security.event", ("security", "compliance"), "legal_duty", _RECORD,
                  note="that the person was affected by an incident, and how they were told")


@declare(
    subject="person",
    fields={
        "sources": _AFFECTED_PD,
        "categories": _AFFECTED_PD,
        "created_at": _AFFECTED_PD,
    },
    non_personal=NonPersonal(["id", "incident", "person"], why="pseudonymous ids"),
    on_erase=RowErase.KEEP,
    keep_days=RECORD_DAYS,
    erase_order=28,
)
class AffectedPerson(models.Model):
    """One person whose data an incident involved, and why the computation found them."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="affected")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    sources = models.JSONField(default=list)  # "registry:<model label>" / "audit:<model label>"
    categories = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "受影响的个人"
        verbose_name_plural = "受影响的个人"
        constraints: ClassVar = [models.UniqueConstraint(fields=["incident", "person"], name="secops_affected_once")]


class NoticeStatus(models.TextChoices):
    PENDING = "pending", "待发送"
    SENT = "sent", "已发送"
    FAILED = "failed", "发送失败"
    UNREACHABLE = "unreachable", "无可用渠道"


@declare(
    subject="person",
    fields={
        "channel": _AFFECTED_PD,
        "status": _AFFECTED_PD,
        "delivery_ref": _AFFECTED_PD,
        "error": _AFFECTED_PD,
        "created_at": _AFFECTED_PD,
        "sent_at": _AFFECTED_PD,
    },
    non_personal=NonPersonal(["id", "incident", "person"], why="pseudonymous ids"),
    on_erase=RowErase.KEEP,
    keep_days=RECORD_DAYS,
    erase_order=27,
)
class IncidentNotice(models.Model):
    """The PIPL art. 57 notice to one person on one channel, and what became of it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="notices")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    channel = models.CharField(max_length=8)  # inbox | email | sms | push | none
    status = models.CharField(max_length=12, choices=NoticeStatus.choices, default=NoticeStatus.PENDING)
    delivery_ref = models.CharField(max_length=64, blank=True)  # the notify app's inbox entry or delivery id
    error = models.CharField(max_length=64, blank=True)  # a reason code, never content
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "事件告知"
        verbose_name_plural = "事件告知"
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["incident", "person", "channel"], name="secops_notice_once"),
        ]


@declare(
    non_personal=NonPersonal(
        ["id", "incident", "title_zh", "title_en", "body_zh", "body_en", "reason", "published_at",
         "announcement_ref"],
        why="a public announcement: addressed to nobody in particular",
    ),
)
class IncidentAnnouncement(models.Model):
    """The public announcement used when notifying each person is impractical (PIPL art. 57; policy 四(五))."""

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="announcement")
    title_zh = models.CharField(max_length=120)
    title_en = models.CharField(max_length=160, blank=True)
    body_zh = models.TextField()
    body_en = models.TextField(blank=True)
    reason = models.CharField(max_length=120)
    published_at = models.DateTimeField(default=timezone.now)
    announcement_ref = models.CharField(max_length=64, blank=True)  # the notify app's announcement, when live

    class Meta:
        verbose_name = "事件公告"
        verbose_name_plural = "事件公告"


@declare(
    subject="user",
    fields={"created_at": PD("identity.account", ("security",), "legal_duty", Retention.account(),
                             note="marks a synthetic account made for incident drills")},
    non_personal=NonPersonal(["id", "user"], why="pseudonymous ids"),
    on_erase=RowErase.DELETE,
    erase_order=20,
)
class DrillSubject(models.Model):
    """A synthetic account that incident drills notify instead of real people."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)


# --- staff access -------------------------------------------------------------------------------------------


class AccessPurpose(models.TextChoices):
    SUPPORT = "support", "处理客服工单"
    RIGHTS = "rights", "处理个人信息权利请求"
    INCIDENT = "incident", "调查或处置安全事件"
    LEGAL = "legal", "配合有权机关的法定请求"
    FRAUD = "fraud", "核查账号风险与欺诈"


_GRANT_PD = PD("privacy.request", ("compliance",), "legal_duty", _RECORD,
               note="record of a staff member reading the person's data: who, when, why, what")


@declare(
    subject="subject",
    fields={
        "purpose": _GRANT_PD,
        "reason": _GRANT_PD,
        "reference": _GRANT_PD,
        "granted_at": _GRANT_PD,
        "expires_at": _GRANT_PD,
        "fields_viewed": _GRANT_PD,
        "reads": _GRANT_PD,
        "revoked_at": _GRANT_PD,
    },
    non_personal=NonPersonal(["id", "subject", "staff"], why="pseudonymous ids"),
    on_erase=RowErase.KEEP,
    keep_days=RECORD_DAYS,
    erase_order=26,
)
class StaffAccessGrant(models.Model):
    """A staff member's stated purpose for reading one person's decrypted data, valid for a short time."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    subject = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    purpose = models.CharField(max_length=12, choices=AccessPurpose.choices)
    reason = SealedField(owner="subject")
    reference = models.CharField(max_length=64, blank=True)  # ticket, request or incident number
    granted_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    fields_viewed = models.JSONField(default=list)  # "model label.field"
    reads = models.PositiveIntegerField(default=0)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-granted_at"]
        verbose_name = "工作人员查看个人信息授权"
        verbose_name_plural = "工作人员查看个人信息授权"
        permissions: ClassVar = [("read_personal", "说明用途后查看个人信息明文")]
        indexes: ClassVar = [models.Index(fields=["staff", "subject", "expires_at"], name="secops_grant_live")]


@declare(
    subject="staff",
    fields={
        "version": PD("identity.account", ("compliance",), "legal_duty", _RECORD,
                      note="proof that a staff member took the privacy-and-security training"),
        "acknowledged_at": PD("identity.account", ("compliance",), "legal_duty", _RECORD),
    },
    non_personal=NonPersonal(["id", "staff"], why="pseudonymous ids"),
    on_erase=RowErase.KEEP,
    keep_days=RECORD_DAYS,
    erase_order=26,
)
class TrainingAcknowledgement(models.Model):
    """A staff member confirmed the current privacy-and-security training (renewed every year)."""

    staff = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    version = models.CharField(max_length=16)
    acknowledged_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["-acknowledged_at"]
        verbose_name = "隐私与安全培训确认"
        verbose_name_plural = "隐私与安全培训确认"


# --- retention ----------------------------------------------------------------------------------------------


@declare(
    non_personal=NonPersonal(
        ["id", "started_at", "finished_at", "dry_run", "removed", "cleared", "extra", "total"],
        why="counts per model label: what a retention purge removed",
    ),
)
class RetentionRun(models.Model):
    """One run of ``lingjing retention run`` and what it did, per model."""

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    dry_run = models.BooleanField(default=False)
    removed = models.JSONField(default=dict)  # model label -> rows deleted or anonymised
    cleared = models.JSONField(default=dict)  # model label -> rows whose expired fields were cleared
    extra = models.JSONField(default=dict)  # other purges (sessions, exports, pending children, analytics)
    total = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering: ClassVar = ["-started_at"]
        verbose_name = "保存期限清理"
        verbose_name_plural = "保存期限清理"
