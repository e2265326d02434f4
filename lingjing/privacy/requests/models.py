"""Rights requests (policy 五; PIPL art. 44–50; NDR art. 21–25) and the records of fulfilling them.

* :class:`RightsRequest` — one request of one person (or of a guardian or close relative for them): its type,
  status, the reviewer, timestamps, the deadline (15 working days, paused only while waiting for the requester),
  the written refusal with one of the policy's eight grounds, a fee (transfers beyond the yearly free count only),
  and the copy package once built.
* :class:`RequestEvent` — the request's history: every status change with who and when, and staff notes.
* :class:`RequestProxy` — a guardian or a close relative of a deceased user (PIPL art. 49) acting for someone
  else: who they are, their verified phone, and (relatives) the proof staff checked.
* :class:`ProcessingRestriction` — "stop processing except storage" (NDR art. 23), what ``is_restricted`` reads.
* :class:`TransferTarget` — where a transfer goes (a registered recipient, or an endpoint the person names and
  proves by a token handshake) and how delivery went; :class:`PortabilityEndpoint` — a registered recipient's
  transfer endpoint, kept by staff.
* :class:`ErasureSaga` — the persisted state machine of an account cancellation after its grace period;
  :class:`Propagation` — the deletion notice owed to each recipient that received the person's data.

Requests and their events are records of how rights were answered: kept three years (also after the account is
erased, with the sealed free text shredded), then purged by retention.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from lingjing.privacy.registry import PD, NonPersonal, Retention, RowErase, declare
from lingjing.security.crypto import SealedField

RECORD_DAYS = 3 * 366  # three leap-proof years: proof of how each request was answered
_RECORD = Retention.for_days(RECORD_DAYS)
_REQ = PD("privacy.request", ("rights", "compliance"), "legal_duty", _RECORD)


class RequestType(models.TextChoices):
    ACCESS = "access", "查阅个人信息"
    COPY = "copy", "获取个人信息副本"
    CORRECTION = "correction", "更正、补充个人信息"
    DELETION = "deletion", "删除个人信息"
    RESTRICTION = "restriction", "限制处理个人信息"
    WITHDRAW_CONSENT = "withdraw_consent", "撤回同意"
    CANCEL_ACCOUNT = "cancel_account", "注销账号"
    TRANSFER = "transfer", "转移个人信息"
    EXPLANATION = "explanation", "解释说明"


TYPE_EN: dict[str, str] = {
    RequestType.ACCESS: "Access",
    RequestType.COPY: "Copy",
    RequestType.CORRECTION: "Correction",
    RequestType.DELETION: "Deletion",
    RequestType.RESTRICTION: "Restriction of processing",
    RequestType.WITHDRAW_CONSENT: "Withdrawal of consent",
    RequestType.CANCEL_ACCOUNT: "Account cancellation",
    RequestType.TRANSFER: "Transfer",
    RequestType.EXPLANATION: "Explanation",
}

# Fresh identity verification (a `verify` SMS code or the authenticator) before these are accepted (STYLE 5).
NEEDS_FRESH_VERIFICATION = frozenset({RequestType.COPY, RequestType.TRANSFER, RequestType.CANCEL_ACCOUNT})
# What a close relative of a deceased user may ask for (PIPL art. 49: 查阅、复制、更正、删除).
RELATIVE_TYPES = (RequestType.ACCESS, RequestType.COPY, RequestType.CORRECTION, RequestType.DELETION)


class RequestStatus(models.TextChoices):
    RECEIVED = "received", "已受理"
    AWAITING_REQUESTER = "awaiting_requester", "等待您补充"  # the deadline is paused
    IN_PROGRESS = "in_progress", "处理中"
    COMPLETED = "completed", "已完成"
    REFUSED = "refused", "已拒绝"
    WITHDRAWN = "withdrawn", "已撤销"


STATUS_EN: dict[str, str] = {
    RequestStatus.RECEIVED: "Received",
    RequestStatus.AWAITING_REQUESTER: "Waiting for you",
    RequestStatus.IN_PROGRESS: "In progress",
    RequestStatus.COMPLETED: "Completed",
    RequestStatus.REFUSED: "Refused",
    RequestStatus.WITHDRAWN: "Withdrawn",
}

OPEN_STATUSES = (RequestStatus.RECEIVED, RequestStatus.AWAITING_REQUESTER, RequestStatus.IN_PROGRESS)
CLOSED_STATUSES = (RequestStatus.COMPLETED, RequestStatus.REFUSED, RequestStatus.WITHDRAWN)


class RequesterKind(models.TextChoices):
    SELF = "self", "本人"
    GUARDIAN = "guardian", "监护人（代未成年子女）"
    RELATIVE = "relative", "近亲属（代已故用户）"


class Channel(models.TextChoices):
    WEB = "web", "网站（已登录）"
    API = "api", "API"
    WEB_FORM = "web_form", "网页表单（短信验证，未登录）"
    SUPPORT = "support", "客服工单转交"
    GUARDIAN = "guardian", "监护人页面"
    RELATIVE = "relative", "近亲属申请（工作人员核验）"


class DeletionGround(models.TextChoices):
    """Policy 五(三) (1)–(5); PIPL art. 47."""

    UNLAWFUL = "unlawful", "处理个人信息的行为违反法律法规"
    NO_CONSENT = "no_consent", "收集、使用个人信息未征得同意"
    BREACH = "breach_of_agreement", "处理个人信息的行为违反了与您的约定"
    NO_LONGER_USED = "no_longer_used", "不再使用产品或服务，或已注销账号"
    SERVICE_ENDED = "service_ended", "不再为您提供产品或服务"


DELETION_GROUND_EN: dict[str, str] = {
    DeletionGround.UNLAWFUL: "The processing breaks laws or regulations",
    DeletionGround.NO_CONSENT: "Collected or used without consent",
    DeletionGround.BREACH: "The processing breaks our agreement with you",
    DeletionGround.NO_LONGER_USED: "You no longer use the service, or cancelled the account",
    DeletionGround.SERVICE_ENDED: "We no longer provide the service to you",
}


class RefusalGround(models.TextChoices):
    """Policy 五(八): the eight cases in which a request cannot be answered. A refusal names one (PIPL art. 50)."""

    LEGAL_OBLIGATION = "legal_obligation", "与个人信息控制者履行法律法规规定的义务相关"
    NATIONAL_SECURITY = "national_security", "与国家安全、国防安全直接相关"
    PUBLIC_INTEREST = "public_interest", "与公共安全、公共卫生、重大公共利益直接相关"
    CRIMINAL_JUSTICE = "criminal_justice", "与刑事侦查、起诉、审判和执行判决等直接相关"
    ABUSE = "abuse", "有充分证据表明个人信息主体存在主观恶意或滥用权利"
    VITAL_INTERESTS = "vital_interests", "出于维护个人信息主体或其他个人的生命、财产等重大合法权益但又很难得到本人同意"
    HARM_TO_OTHERS = "harm_to_others", "响应请求将导致个人信息主体或其他个人、组织的合法权益受到严重损害"
    TRADE_SECRET = "trade_secret", "涉及商业秘密"


REFUSAL_GROUND_EN: dict[str, str] = {
    RefusalGround.LEGAL_OBLIGATION: "It concerns our duties under laws and regulations",
    RefusalGround.NATIONAL_SECURITY: "It directly concerns national security or defence",
    RefusalGround.PUBLIC_INTEREST: "It directly concerns public safety, public health or a major public interest",
    RefusalGround.CRIMINAL_JUSTICE: "It directly concerns a criminal investigation, prosecution, trial or sentence",
    RefusalGround.ABUSE: "There is sufficient evidence of bad faith or abuse of the right",
    RefusalGround.VITAL_INTERESTS: "It protects the life or property of the person or others where consent is "
                                   "hard to obtain",
    RefusalGround.HARM_TO_OTHERS: "Answering would seriously harm the rights of the person or of others",
    RefusalGround.TRADE_SECRET: "It involves trade secrets",
}


class WorksChoice(models.TextChoices):
    """What happens to the published works of a cancelled account (chosen at cancellation)."""

    ANONYMISE = "anonymise", "保留匿名占位（作品内容删除，链接显示“作品已随作者注销移除”）"
    REMOVE = "remove", "彻底删除（作品及其全部文件一并删除，链接失效）"


class ProxyKind(models.TextChoices):
    GUARDIAN = "guardian", "监护人"
    RELATIVE = "relative", "近亲属"


class Relationship(models.TextChoices):
    """PIPL art. 49 refers to the Civil Code's close relatives (民法典 第一千零四十五条)."""

    SPOUSE = "spouse", "配偶"
    PARENT = "parent", "父母"
    CHILD = "child", "子女"
    SIBLING = "sibling", "兄弟姐妹"
    GRANDPARENT = "grandparent", "祖父母、外祖父母"
    GRANDCHILD = "grandchild", "孙子女、外孙子女"
    GUARDIAN = "guardian", "监护人"


class ProxyStatus(models.TextChoices):
    SUBMITTED = "submitted", "待核验"
    VERIFIED = "verified", "已核验"
    REJECTED = "rejected", "核验未通过"


@declare(
    subject_ref="subject_ref",
    fields={
        "name": PD("privacy.request", ("rights",), "legal_duty", _RECORD, note="the requester's name, sealed"),
        "phone": PD("identity.phone", ("rights",), "legal_duty", _RECORD, note="verified by SMS code"),
        "phone_index": PD("identity.phone", ("rights",), "legal_duty", _RECORD, export="omit",
                          note="keyed HMAC of the phone, to find their requests after a fresh code"),
        "relationship": PD("privacy.request", ("rights",), "legal_duty", _RECORD),
        "details": PD("privacy.request", ("rights",), "legal_duty", _RECORD, note="their own words, sealed"),
        "deceased_phone": PD("privacy.request", ("rights",), "legal_duty", _RECORD,
                             note="the number of the account they ask about, sealed"),
        "wanted_types": PD("privacy.request", ("rights",), "legal_duty", _RECORD),
        "proof_files": PD("privacy.request", ("rights",), "legal_duty", _RECORD, export="omit",
                          note="storage names of the proof documents (removed with the row)"),
        "created_at": PD("privacy.request", ("rights",), "legal_duty", _RECORD),
        "status": PD("privacy.request", ("rights",), "legal_duty", _RECORD),
        "decision_reason": PD("privacy.request", ("rights",), "legal_duty", _RECORD,
                              note="staff's written reasons for the decision, sealed"),
        "decided_at": PD("privacy.request", ("rights",), "legal_duty", _RECORD),
    },
    non_personal=NonPersonal(
        ["id", "subject_ref", "kind", "for_user", "decided_by", "no_contrary_arrangement"],
        why="pseudonymous ids, the kind of proxy and staff's check of the deceased's own arrangements",
    ),
    erase_order=60,
)
class RequestProxy(models.Model):
    """Someone acting for another person: a guardian (for a child) or a close relative (for a deceased user).

    The proxy is their own data subject (``v:<uuid>``): their name and phone are sealed under their own key.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject_ref = models.CharField(max_length=64, db_index=True)  # "v:<uuid>"
    kind = models.CharField(max_length=10, choices=ProxyKind.choices)
    name = SealedField(owner="subject_ref")
    phone = SealedField(owner="subject_ref")
    phone_index = models.CharField(max_length=64, db_index=True)
    relationship = models.CharField(max_length=16, choices=Relationship.choices)
    details = SealedField(owner="subject_ref")
    deceased_phone = SealedField(owner="subject_ref")
    wanted_types = models.JSONField(default=list)
    proof_files = models.JSONField(default=list)  # storage names in the default storage (private)
    for_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=ProxyStatus.choices, default=ProxyStatus.SUBMITTED)
    no_contrary_arrangement = models.BooleanField(default=False)  # PIPL art. 49: "死者生前另有安排的除外"
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = SealedField(owner="subject_ref")

    class Meta:
        ordering: ClassVar = ["-created_at"]
        verbose_name = "代为行使权利的申请人"
        verbose_name_plural = "代为行使权利的申请人"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {str(self.pk)[:8]}"


@declare(
    subject="user",
    fields={
        "type": _REQ,
        "status": _REQ,
        "channel": _REQ,
        "requester_kind": _REQ,
        "params": _REQ,
        "details": PD("privacy.request", ("rights", "compliance"), "legal_duty", _RECORD,
                      note="the requester's own words or the values to correct, sealed"),
        "deletion_ground": _REQ,
        "received_at": _REQ,
        "ack_sent_at": _REQ,
        "verified_at": _REQ,
        "verification": _REQ,
        "due_at": _REQ,
        "paused_at": _REQ,
        "paused_days": _REQ,
        "decided_at": _REQ,
        "closed_at": _REQ,
        "refusal_ground": _REQ,
        "refusal_reason": PD("privacy.request", ("rights", "compliance"), "legal_duty", _RECORD,
                             note="the written statement of a refusal (PIPL art. 50), sealed"),
        "status_reason": _REQ,
        "fee_fen": _REQ,
        "fee_paid_at": _REQ,
        "grace_until": _REQ,
        "package_name": PD("privacy.request", ("rights",), "legal_duty", _RECORD, export="omit",
                           note="storage name of the copy package; the file is deleted after 7 days"),
        "package_size": _REQ,
        "package_sha256": PD("privacy.request", ("rights",), "legal_duty", _RECORD, export="omit"),
        "package_expires_at": _REQ,
        "package_deleted_at": _REQ,
        "result": _REQ,
        "overdue_flagged_at": _REQ,
        "support_ticket_ref": _REQ,
        "updated_at": _REQ,
        "requester_phone_index": PD("identity.phone", ("rights",), "legal_duty", _RECORD, export="omit",
                                    note="keyed HMAC of the phone the requester proved (web form, guardian)"),
    },
    non_personal=NonPersonal(["id", "user", "proxy", "assigned_to", "decided_by"], why="pseudonymous ids"),
    on_erase=RowErase.KEEP,
    keep_days=RECORD_DAYS,
    erase_order=35,
)
class RightsRequest(models.Model):
    """One rights request. Written only by ``lingjing.privacy.actions``."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # SET_NULL: the record of how a request was answered outlives even a deleted user row.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="rights_requests")
    type = models.CharField(max_length=20, choices=RequestType.choices)
    status = models.CharField(max_length=20, choices=RequestStatus.choices, default=RequestStatus.RECEIVED,
                              db_index=True)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.WEB)
    requester_kind = models.CharField(max_length=10, choices=RequesterKind.choices, default=RequesterKind.SELF)
    proxy = models.ForeignKey(RequestProxy, null=True, blank=True, on_delete=models.SET_NULL, related_name="requests")
    requester_phone_index = models.CharField(max_length=64, blank=True, db_index=True)
    # Parameters without free text: purposes, categories, a decision id, the works choice, a recipient slug.
    params = models.JSONField(default=dict, blank=True)
    details = SealedField(owner="user")
    deletion_ground = models.CharField(max_length=24, choices=DeletionGround.choices, blank=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    ack_sent_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    verification = models.CharField(max_length=16, blank=True)  # session | step_up | sms_code | guardian | staff
    due_at = models.DateTimeField()
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_days = models.PositiveIntegerField(default=0)  # working days spent waiting for the requester
    assigned_to = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    refusal_ground = models.CharField(max_length=24, choices=RefusalGround.choices, blank=True)
    refusal_reason = SealedField(owner="user")
    status_reason = models.CharField(max_length=40, blank=True)  # a code: awaiting_fee, endpoint_failed, ...
    fee_fen = models.PositiveIntegerField(default=0)
    fee_paid_at = models.DateTimeField(null=True, blank=True)
    grace_until = models.DateTimeField(null=True, blank=True)
    package_name = models.CharField(max_length=200, blank=True)
    package_size = models.PositiveBigIntegerField(default=0)
    package_sha256 = models.CharField(max_length=64, blank=True)
    package_expires_at = models.DateTimeField(null=True, blank=True)
    package_deleted_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)  # a summary without personal data (counts, ids)
    overdue_flagged_at = models.DateTimeField(null=True, blank=True)
    support_ticket_ref = models.CharField(max_length=80, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["-received_at"]
        indexes: ClassVar = [
            models.Index(fields=["user", "type", "status"], name="privacy_req_user_type"),
            models.Index(fields=["status", "due_at"], name="privacy_req_status_due"),
        ]
        verbose_name = "个人信息权利请求"
        verbose_name_plural = "个人信息权利请求"

    def __str__(self) -> str:
        return f"{self.reference} {self.get_type_display()}（{self.get_status_display()}）"

    @property
    def reference(self) -> str:
        """A short reference the requester can quote: ``R-`` and the first 8 hex digits of the id."""
        return "R-" + self.pk.hex[:8].upper()

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def type_label(self, lang: str = "zh") -> str:
        return TYPE_EN[self.type] if lang.startswith("en") else self.get_type_display()

    def status_label(self, lang: str = "zh") -> str:
        return STATUS_EN[self.status] if lang.startswith("en") else self.get_status_display()

    def refusal_ground_label(self, lang: str = "zh") -> str:
        if not self.refusal_ground:
            return ""
        return REFUSAL_GROUND_EN[self.refusal_ground] if lang.startswith("en") else self.get_refusal_ground_display()


class EventKind(models.TextChoices):
    RECEIVED = "received", "受理"
    VERIFIED = "verified", "身份已验证"
    ACKNOWLEDGED = "acknowledged", "已发送受理通知"
    ASSIGNED = "assigned", "分配处理人"
    STATUS = "status", "状态变更"
    NOTE = "note", "处理备注"
    PAUSED = "paused", "等待请求人补充（期限暂停）"
    RESUMED = "resumed", "请求人已补充（期限恢复）"
    FEE = "fee", "费用"
    OVERDUE = "overdue", "已超过答复期限"
    STEP = "step", "执行步骤"


@declare(
    subject="user",
    fields={
        "at": _REQ,
        "kind": _REQ,
        "from_status": _REQ,
        "to_status": _REQ,
        "code": _REQ,
        "actor": _REQ,
        "note": PD("privacy.request", ("rights", "compliance"), "legal_duty", _RECORD, note="staff's note, sealed"),
    },
    non_personal=NonPersonal(["id", "request", "user"], why="pseudonymous ids"),
    on_erase=RowErase.KEEP,
    keep_days=RECORD_DAYS,
    erase_order=34,
)
class RequestEvent(models.Model):
    """One step in a request's life: a status change (who, when, why) or a staff note."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request = models.ForeignKey(RightsRequest, on_delete=models.CASCADE, related_name="events")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    code = models.CharField(max_length=40, blank=True)  # a reason code, never free text
    actor = models.CharField(max_length=80, default="system")  # u:<uuid>, system, guardian:p:..., relative:v:...
    note = SealedField(owner="user")

    class Meta:
        ordering: ClassVar = ["at"]
        verbose_name = "权利请求处理记录"
        verbose_name_plural = "权利请求处理记录"

    @property
    def to_status_label(self) -> str:
        """The status this step led to, in words and in the page's language (not the stored value)."""
        from django.utils.translation import get_language

        if self.to_status not in RequestStatus.values:
            return self.to_status
        english = (get_language() or "").startswith("en")
        return STATUS_EN[self.to_status] if english else str(RequestStatus(self.to_status).label)


@declare(
    subject="user",
    fields={
        "purpose": PD("privacy.request", ("rights",), "legal_duty", Retention.account()),
        "created_at": PD("privacy.request", ("rights",), "legal_duty", Retention.account()),
        "lifted_at": PD("privacy.request", ("rights",), "legal_duty", Retention.account()),
    },
    non_personal=NonPersonal(["id", "user", "request"], why="pseudonymous ids"),
    erase_order=20,
)
class ProcessingRestriction(models.Model):
    """The person restricted processing for ``purpose`` (a registry purpose, or ``*`` for everything but storage,
    security and legal duties). Active while ``lifted_at`` is empty."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="restrictions")
    request = models.ForeignKey(RightsRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    purpose = models.CharField(max_length=80)
    created_at = models.DateTimeField(default=timezone.now)
    lifted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["user", "purpose"], condition=Q(lifted_at__isnull=True),
                                    name="privacy_one_active_restriction_per_purpose")
        ]
        verbose_name = "限制处理"
        verbose_name_plural = "限制处理"


class TransferMode(models.TextChoices):
    REGISTERED = "registered", "登记在册的接收方"
    ENDPOINT = "endpoint", "您指定的接收地址（令牌握手验证）"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "待发送"
    DELIVERED = "delivered", "已送达"
    FAILED = "failed", "发送失败"


@declare(
    subject="user",
    fields={
        "mode": _REQ,
        "recipient_slug": _REQ,
        "endpoint": PD("privacy.request", ("rights",), "legal_duty", _RECORD, note="the URL the person named"),
        "token": PD("privacy.request", ("rights",), "legal_duty", _RECORD, export="omit",
                    note="the handshake token the person gives the recipient, sealed"),
        "status": _REQ,
        "attempts": _REQ,
        "last_error": _REQ,
        "delivered_at": _REQ,
        "bytes_sent": _REQ,
        "created_at": _REQ,
    },
    non_personal=NonPersonal(["id", "request", "user", "sharing_record_id"], why="pseudonymous ids"),
    on_erase=RowErase.KEEP,
    keep_days=RECORD_DAYS,
    erase_order=33,
)
class TransferTarget(models.Model):
    """Where one transfer request's package goes, and how delivery went."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request = models.OneToOneField(RightsRequest, on_delete=models.CASCADE, related_name="transfer")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    mode = models.CharField(max_length=12, choices=TransferMode.choices)
    recipient_slug = models.CharField(max_length=60)
    endpoint = SealedField(owner="user")
    token = SealedField(owner="user")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=80, blank=True)  # a code, never a response body
    delivered_at = models.DateTimeField(null=True, blank=True)
    bytes_sent = models.PositiveBigIntegerField(default=0)
    sharing_record_id = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(default=timezone.now)


@declare(non_personal=NonPersonal(
    ["id", "recipient_slug", "url", "active", "updated_at"],
    why="a registered recipient's transfer endpoint; no person in it",
))
class PortabilityEndpoint(models.Model):
    """The HTTPS endpoint where a registered recipient accepts transfers (staff keep it in the console)."""

    recipient_slug = models.SlugField(max_length=60, unique=True)
    url = models.URLField(max_length=300)
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "接收方的转移接口"
        verbose_name_plural = "接收方的转移接口"

    def __str__(self) -> str:
        return f"{self.recipient_slug} → {self.url}"


class SagaStatus(models.TextChoices):
    RUNNING = "running", "进行中"
    FAILED = "failed", "出错待重试"
    FINISHED = "finished", "已完成"


@declare(non_personal=NonPersonal(
    ["id", "request_id", "user_id", "works_choice", "step", "status", "attempts", "error", "started_at",
     "updated_at", "finished_at", "claimed_until", "log"],
    why="the state of an erasure saga: the pseudonymous id of the person, the step reached, counters",
))
class ErasureSaga(models.Model):
    """The persisted state machine of an account's erasure after its cancellation grace period.

    Plain UUIDs, not foreign keys: the saga must outlive anything it does to the user row.
    """

    request_id = models.UUIDField(unique=True)
    user_id = models.UUIDField(db_index=True)
    works_choice = models.CharField(max_length=10, choices=WorksChoice.choices, default=WorksChoice.ANONYMISE)
    step = models.CharField(max_length=30, default="")  # the last step finished ("" before the first)
    status = models.CharField(max_length=10, choices=SagaStatus.choices, default=SagaStatus.RUNNING)
    attempts = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=200, blank=True)  # exception class and step only
    started_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)  # a worker's lease
    log = models.JSONField(default=dict, blank=True)  # per step: counts only

    class Meta:
        verbose_name = "注销执行流程"
        verbose_name_plural = "注销执行流程"


class PropagationStatus(models.TextChoices):
    PENDING = "pending", "待通知"
    SENT = "sent", "已通知"
    MANUAL = "manual", "待工作人员另行通知"
    FAILED = "failed", "多次失败"


@declare(non_personal=NonPersonal(
    ["id", "request_id", "recipient_slug", "pseudonym", "categories", "first_disclosed_at", "last_disclosed_at",
     "channel", "status", "attempts", "next_attempt_at", "last_error", "sent_at", "created_at", "handled_by"],
    why="a deletion notice owed to a recipient: the recipient, a per-recipient pseudonym, categories and dates",
))
class Propagation(models.Model):
    """Telling one recipient that received a person's data to delete it too (policy 五(三); PIPL art. 47)."""

    request_id = models.UUIDField(db_index=True)
    recipient_slug = models.CharField(max_length=60)
    # The pseudonym the recipient knows the person by (``sharing.deid.hash_value`` of the user id for it).
    pseudonym = models.CharField(max_length=80)
    categories = models.JSONField(default=list)
    first_disclosed_at = models.DateTimeField(null=True, blank=True)
    last_disclosed_at = models.DateTimeField(null=True, blank=True)
    channel = models.CharField(max_length=10, blank=True)  # endpoint | email | manual
    status = models.CharField(max_length=10, choices=PropagationStatus.choices, default=PropagationStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.CharField(max_length=80, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    handled_by = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["request_id", "recipient_slug"], name="privacy_one_notice_per_recipient")
        ]
        verbose_name = "删除通知（接收方）"
        verbose_name_plural = "删除通知（接收方）"

