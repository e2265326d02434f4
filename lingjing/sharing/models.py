"""Who receives personal data, and the record of every time they did.

* :class:`Recipient` — the registry of recipients (PIPL art. 23, 39; policy 三, 七): every processor, partner,
  affiliate, authority and the public, with what they may receive, why, and on which legal basis. Staff keep it in
  the console; the policy pages list it (``lingjing.sharing.policy.recipients_for_policy``).
* :class:`SharingRecord` — the person's sharing log: one row per disclosure that passed the gate
  (``lingjing.sharing.gate.disclose``). Kept at least three years (NDR art. 12), also after the account is erased.
* :class:`LegalRequest` / :class:`LegalRequestSubject` — a request from an authority, decided by a second member
  of staff.
* :class:`CrossBorderTally` — per calendar year, how many distinct people (and people with sensitive data) were
  sent abroad, per recipient and in total (促进和规范数据跨境流动规定 art. 5, 7, 8).
* :class:`SuccessorReport` — the data map and obligations handed to a successor in a merger or business
  transfer, and the successor's acceptance (policy 三(二)).
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from lingjing.privacy.registry import BASES, PD, NonPersonal, Retention, RowErase, declare

# NDR art. 12: records of providing personal information are kept at least three years. Three leap-proof years.
SHARING_RECORD_DAYS = 3 * 366
_RECORD = Retention.for_days(SHARING_RECORD_DAYS)


class RecipientKind(models.TextChoices):
    COMPANY = "company", "企业或组织"
    AUTHORITY = "authority", "国家机关"
    PUBLIC = "public", "公开披露（不特定公众）"


class RecipientRole(models.TextChoices):
    # PIPL art. 21: an entrusted processor acts on our instructions; art. 23: another processor decides itself.
    PROCESSOR = "processor", "受托处理者"
    CONTROLLER = "controller", "个人信息处理者"


class Mechanism(models.TextChoices):
    """PIPL art. 38 conditions for sending personal data abroad, from weakest to strongest."""

    NONE = "none", "无"
    STANDARD_CONTRACT = "standard_contract", "个人信息出境标准合同（已备案）"
    CERTIFICATION = "certification", "个人信息保护认证"
    SECURITY_ASSESSMENT = "security_assessment", "数据出境安全评估（已通过）"


MECHANISM_STRENGTH = {
    Mechanism.NONE: 0,
    Mechanism.STANDARD_CONTRACT: 1,
    Mechanism.CERTIFICATION: 1,
    Mechanism.SECURITY_ASSESSMENT: 2,
}

BASIS_CHOICES = [(key, label.zh) for key, label in BASES.items()]


@declare(non_personal=NonPersonal(
    ["id", "slug", "legal_name", "legal_name_en", "contact", "country", "kind", "role", "affiliate", "purposes",
     "categories", "legal_basis", "processing_zh", "processing_en", "rights_zh", "rights_en", "contract_reference",
     "deidentify", "transfer_mechanism", "mechanism_reference", "mechanism_valid_until", "active", "added_at",
     "updated_at"],
    why="the catalogue of recipients (companies and authorities), published in the policy",
))
class Recipient(models.Model):
    """A third party that may receive personal data, and the limits it receives it under."""

    slug = models.SlugField("标识", max_length=60, unique=True)
    legal_name = models.CharField("法定名称", max_length=200)
    legal_name_en = models.CharField("英文名称", max_length=200, blank=True)
    contact = models.CharField("联系方式", max_length=300, help_text="地址、电话或电子邮箱（PIPL 第二十三条）")
    country = models.CharField("所在国家或地区", max_length=2, default="CN", help_text="ISO 3166-1 两位代码")
    kind = models.CharField("类型", max_length=12, choices=RecipientKind.choices, default=RecipientKind.COMPANY)
    role = models.CharField("角色", max_length=12, choices=RecipientRole.choices, default=RecipientRole.PROCESSOR)
    affiliate = models.BooleanField("关联公司", default=False)
    purposes = models.JSONField("处理目的", default=list, help_text="登记表中的目的标识列表")
    categories = models.JSONField("个人信息种类", default=list, help_text="登记表中的类别标识列表")
    legal_basis = models.CharField("法律依据", max_length=16, choices=BASIS_CHOICES, default="consent")
    processing_zh = models.CharField("处理方式", max_length=300, blank=True)
    processing_en = models.CharField("处理方式（英文）", max_length=300, blank=True)
    rights_zh = models.TextField("向接收方行使权利的方式", blank=True, help_text="境外接收方必填（PIPL 第三十九条）")
    rights_en = models.TextField("向接收方行使权利的方式（英文）", blank=True)
    contract_reference = models.CharField("合同编号", max_length=120, blank=True)
    # {category id: "drop" | "hash" | "generalise"} applied to every payload sent to this recipient.
    deidentify = models.JSONField("去标识化规则", default=dict, blank=True)
    transfer_mechanism = models.CharField(
        "出境条件", max_length=24, choices=Mechanism.choices, default=Mechanism.NONE
    )
    mechanism_reference = models.CharField("备案或评估编号", max_length=120, blank=True)
    mechanism_valid_until = models.DateField("有效期至", null=True, blank=True)
    active = models.BooleanField("启用", default=True)
    added_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["kind", "slug"]
        verbose_name = "信息接收方"
        verbose_name_plural = "信息接收方"

    def __str__(self) -> str:
        return f"{self.legal_name}（{self.slug}）"

    @property
    def cross_border(self) -> bool:
        return self.kind != RecipientKind.PUBLIC and self.country.upper() != settings.LINGJING_RESIDENCY.upper()

    @property
    def consent_key(self) -> str:
        """The consent purpose (``lingjing.consent``) that stands for this recipient's separate consent."""
        if self.kind == RecipientKind.PUBLIC:
            return f"disclosure:{self.slug}"
        if self.cross_border:
            return f"crossborder:{self.slug}"
        return f"recipient:{self.slug}"

    @property
    def needs_consent(self) -> bool:
        """Whether the person's separate consent is the only basis this recipient can receive data on.

        Consent is the registered basis; or the recipient decides for itself (a controller, affiliates included:
        PIPL art. 23); or it is abroad (art. 39); or it is the public (art. 25).
        """
        if self.kind == RecipientKind.AUTHORITY:
            return False
        return (
            self.legal_basis == "consent"
            or self.role == RecipientRole.CONTROLLER
            or self.cross_border
            or self.kind == RecipientKind.PUBLIC
        )

    def mechanism_in_force(self, today: Any = None) -> str:
        """The transfer mechanism, or ``none`` once its validity has run out."""
        if self.transfer_mechanism == Mechanism.NONE:
            return Mechanism.NONE
        today = today or timezone.localdate()
        if self.mechanism_valid_until is not None and self.mechanism_valid_until < today:
            return Mechanism.NONE
        return self.transfer_mechanism

    def name(self, lang: str = "zh") -> str:
        return (self.legal_name_en or self.legal_name) if lang.startswith("en") else self.legal_name

    def processing(self, lang: str = "zh") -> str:
        return (self.processing_en or self.processing_zh) if lang.startswith("en") else self.processing_zh

    def rights(self, lang: str = "zh") -> str:
        return (self.rights_en or self.rights_zh) if lang.startswith("en") else self.rights_zh


class RecordStatus(models.TextChoices):
    RELEASED = "released", "已提供"
    FAILED = "failed", "发送失败"


_SHARING_PD = PD("privacy.sharing", ("compliance", "rights"), "legal_duty", _RECORD,
                 note="NDR art. 12: records of providing personal information are kept at least 3 years")


@declare(
    subject="person",
    fields={
        "at": _SHARING_PD,
        "visible_from": _SHARING_PD,
        "purpose": _SHARING_PD,
        "legal_basis": _SHARING_PD,
        "categories": _SHARING_PD,
        "withheld": _SHARING_PD,
        "deidentified": _SHARING_PD,
        "sensitive": _SHARING_PD,
        "child": _SHARING_PD,
        "cross_border": _SHARING_PD,
        "country": _SHARING_PD,
        "flow": _SHARING_PD,
        "reference": _SHARING_PD,
        "consent_key": _SHARING_PD,
        "status": _SHARING_PD,
        "payload_digest": PD("privacy.sharing", ("compliance",), "legal_duty", _RECORD, export="omit",
                             note="SHA-256 of what was sent: proof without keeping the content"),
    },
    non_personal=NonPersonal(["id", "person", "recipient", "actor"], why="pseudonymous ids and the recipient"),
    on_erase=RowErase.KEEP,
    keep_days=SHARING_RECORD_DAYS,
    erase_order=30,
)
class SharingRecord(models.Model):
    """One disclosure of one person's data to one recipient. Written only by the gate, never edited but to mark
    a failed delivery."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # SET_NULL, not CASCADE: the record outlives even a deleted user row (erasure anonymises, it does not delete).
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="sharing_records"
    )
    recipient = models.ForeignKey(Recipient, on_delete=models.PROTECT, related_name="records")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    # PIPL art. 18: where the law requires confidentiality (e.g. an investigation) the person sees it later.
    visible_from = models.DateTimeField(default=timezone.now)
    purpose = models.CharField(max_length=40)
    legal_basis = models.CharField(max_length=16)
    categories = models.JSONField(default=list)  # what was sent
    withheld = models.JSONField(default=list)  # payload keys the gate filtered out
    deidentified = models.JSONField(default=dict)  # {category: rule} applied
    sensitive = models.BooleanField(default=False)
    child = models.BooleanField(default=False)  # the person was under 14 (children's yearly report)
    cross_border = models.BooleanField(default=False)
    country = models.CharField(max_length=2)
    flow = models.CharField(max_length=40, blank=True)  # which outward flow ("studio.llm", "legal_request", ...)
    reference = models.CharField(max_length=80, blank=True)  # that flow's object id
    consent_key = models.CharField(max_length=80, blank=True)  # the separate consent relied on, if any
    status = models.CharField(max_length=10, choices=RecordStatus.choices, default=RecordStatus.RELEASED)
    payload_digest = models.CharField(max_length=64, blank=True)
    actor = models.CharField(max_length=64, default="system")

    class Meta:
        ordering: ClassVar = ["-at"]
        indexes: ClassVar = [
            models.Index(fields=["person", "-at"], name="sharing_person_at"),
            models.Index(fields=["recipient", "cross_border", "at"], name="sharing_recipient_xb_at"),
        ]
        verbose_name = "对外提供记录"
        verbose_name_plural = "对外提供记录"

    def __str__(self) -> str:
        return f"{self.recipient_id} {self.at:%Y-%m-%d %H:%M}"

    def to_dict(self, lang: str = "zh") -> dict[str, Any]:
        from lingjing.privacy.registry import CATEGORIES, PURPOSES

        en = lang.startswith("en")
        recipient = self.recipient
        return {
            "id": str(self.id),
            "at": self.at.isoformat(),
            "recipient": {
                "slug": recipient.slug,
                "name": recipient.name(lang),
                "country": recipient.country,
                "contact": recipient.contact,
            },
            "purpose": self.purpose,
            "purpose_label": (PURPOSES[self.purpose].en if en else PURPOSES[self.purpose].zh)
            if self.purpose in PURPOSES else self.purpose,
            "legal_basis": self.legal_basis,
            "categories": [
                {"id": c, "label": (CATEGORIES[c].label.en if en else CATEGORIES[c].label.zh) if c in CATEGORIES else c}
                for c in self.categories
            ],
            "deidentified": dict(self.deidentified),
            "cross_border": self.cross_border,
            "status": self.status,
        }


class LegalRequestStatus(models.TextChoices):
    PENDING = "pending", "待第二人审批"
    DISCLOSED = "disclosed", "已批准并提供"
    REJECTED = "rejected", "已拒绝"


@declare(non_personal=NonPersonal(
    ["id", "authority", "reference_no", "document_kind", "legal_basis_text", "purpose", "categories",
     "confidential_days", "received_at", "requested_by", "requested_at", "status", "decided_by", "decided_at",
     "decision_note", "package_name"],
    why="the authority's request and the staff decision; the people it names are in LegalRequestSubject",
))
class LegalRequest(models.Model):
    """A request from an authority to provide personal data (policy 三(一)(2), 三(三)(2)).

    One member of staff registers it with its legal basis; another approves or rejects it
    (``actions.do_decide_legal_request``). Approval sends the named categories through the gate.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    authority = models.ForeignKey(Recipient, on_delete=models.PROTECT, related_name="legal_requests")
    reference_no = models.CharField("文书编号", max_length=120)
    document_kind = models.CharField("文书类型", max_length=120)
    legal_basis_text = models.TextField(
        "法律依据", help_text="所依据的法律条文，例如《中华人民共和国刑事诉讼法》第五十四条"
    )
    purpose = models.CharField("处理目的", max_length=40, default="compliance")
    categories = models.JSONField("调取的个人信息种类", default=list)
    confidential_days = models.PositiveIntegerField(
        "保密天数", default=0, help_text="依法需保密时，当事人在此天数后才能在提供记录中看到本次提供"
    )
    received_at = models.DateTimeField("收到时间", default=timezone.now)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="legal_requests_registered"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=LegalRequestStatus.choices, default=LegalRequestStatus.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="legal_requests_decided",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    package_name = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering: ClassVar = ["-requested_at"]
        permissions: ClassVar = [("decide_legalrequest", "审批国家机关调取请求")]
        verbose_name = "国家机关调取请求"
        verbose_name_plural = "国家机关调取请求"

    def __str__(self) -> str:
        return f"{self.reference_no}（{self.get_status_display()}）"


@declare(
    subject="person",
    fields={"added_at": PD("privacy.sharing", ("compliance",), "legal_duty", _RECORD)},
    non_personal=NonPersonal(["id", "request", "person"], why="pseudonymous ids"),
    on_erase=RowErase.KEEP,
    keep_days=SHARING_RECORD_DAYS,
    erase_order=30,
)
class LegalRequestSubject(models.Model):
    """A person named in a legal request."""

    request = models.ForeignKey(LegalRequest, on_delete=models.CASCADE, related_name="subjects")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["request", "person"], name="sharing_legal_subject_once")
        ]


@declare(non_personal=NonPersonal(
    ["id", "year", "recipient", "people", "sensitive_people", "records", "sensitive_records", "updated_at"],
    why="yearly counts, no person in them",
))
class CrossBorderTally(models.Model):
    """Distinct people sent abroad in a calendar year: per recipient, and in total (``recipient`` null)."""

    year = models.PositiveSmallIntegerField()
    recipient = models.ForeignKey(Recipient, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    people = models.PositiveIntegerField(default=0)
    sensitive_people = models.PositiveIntegerField(default=0)
    records = models.PositiveBigIntegerField(default=0)
    sensitive_records = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["year", "recipient"], name="sharing_tally_per_recipient"),
            models.UniqueConstraint(fields=["year"], condition=Q(recipient__isnull=True), name="sharing_tally_total"),
        ]
        verbose_name = "跨境提供年度计数"
        verbose_name_plural = "跨境提供年度计数"


@declare(non_personal=NonPersonal(
    ["id", "successor", "generated_at", "generated_by", "document", "markdown", "digest", "accepted_at",
     "accepted_by_name", "acceptance_statement", "acceptance_recorded_by"],
    why="the data map and aggregate obligations; no person's data in it",
))
class SuccessorReport(models.Model):
    """What a successor (merger, acquisition, bankruptcy) takes over and must accept (policy 三(二)(2))."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    successor = models.CharField("承继方", max_length=200)
    generated_at = models.DateTimeField(default=timezone.now)
    generated_by = models.CharField(max_length=64, default="system")
    document = models.JSONField(default=dict)
    markdown = models.TextField()
    digest = models.CharField(max_length=64)  # SHA-256 of the canonical JSON document
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by_name = models.CharField("承继方签署人", max_length=200, blank=True)
    acceptance_statement = models.TextField(blank=True)
    acceptance_recorded_by = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering: ClassVar = ["-generated_at"]
        verbose_name = "业务转让承继报告"
        verbose_name_plural = "业务转让承继报告"

    def __str__(self) -> str:
        return f"{self.successor} {self.generated_at:%Y-%m-%d}"
