"""Every write of the sharing app: the recipient registry, legal requests, successor reports.

Disclosures themselves are written by the gate (``lingjing.sharing.gate.disclose``), the only writer of
:class:`~lingjing.sharing.models.SharingRecord`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from lingjing.privacy.registry import BASES, CATEGORIES, PURPOSES
from lingjing.security.audit import AuditEvent, record
from lingjing.sharing import deid
from lingjing.sharing.models import (
    LegalRequest,
    LegalRequestStatus,
    LegalRequestSubject,
    Mechanism,
    Recipient,
    RecipientKind,
    RecipientRole,
    SuccessorReport,
)

RECIPIENT_FIELDS = (
    "slug", "legal_name", "legal_name_en", "contact", "country", "kind", "role", "affiliate", "purposes",
    "categories", "legal_basis", "processing_zh", "processing_en", "rights_zh", "rights_en", "contract_reference",
    "deidentify", "transfer_mechanism", "mechanism_reference", "mechanism_valid_until", "active",
)


# --- the recipient registry -------------------------------------------------------------------------------


def recipient_problems(r: Recipient) -> dict[str, list[str]]:
    """What is wrong with a registry entry, per field (Chinese, for the console form)."""
    errors: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    if not isinstance(r.purposes, list) or not r.purposes:
        add("purposes", "至少登记一个处理目的")
    else:
        for p in r.purposes:
            if p not in PURPOSES:
                add("purposes", f"未知的处理目的：{p}")
    if not isinstance(r.categories, list) or not r.categories:
        add("categories", "至少登记一种个人信息")
    else:
        for c in r.categories:
            if c not in CATEGORIES:
                add("categories", f"未知的个人信息种类：{c}")
    if r.legal_basis not in BASES:
        add("legal_basis", "未知的法律依据")
    if len(r.country or "") != 2 or not r.country.isalpha():
        add("country", "请填写两位国家或地区代码，例如 CN、US")
    if r.kind == RecipientKind.AUTHORITY:
        if r.legal_basis != "legal_duty":
            add("legal_basis", "国家机关只能以履行法定职责或法定义务为依据")
    elif r.legal_basis == "legal_duty":
        add("legal_basis", "只有国家机关可以登记为“履行法定义务”")
    if r.kind == RecipientKind.COMPANY and (r.role == RecipientRole.CONTROLLER or r.affiliate) \
            and r.legal_basis != "consent":
        # PIPL art. 23: providing to another processor (an affiliate too) needs the person's separate consent.
        add("legal_basis", "向其他个人信息处理者（包括关联公司）提供须以单独同意为依据（《个人信息保护法》第二十三条）")
    if r.cross_border and r.kind == RecipientKind.COMPANY and not (r.rights_zh or "").strip():
        add("rights_zh", "境外接收方须写明个人向其行使权利的方式和程序（《个人信息保护法》第三十九条）")
    if r.transfer_mechanism != Mechanism.NONE and not (r.mechanism_reference or "").strip():
        add("mechanism_reference", "请填写标准合同备案、认证或安全评估的编号")
    try:
        deid.validate_rules(r.deidentify or {})
    except deid.RuleError as exc:
        add("deidentify", str(exc))
    return errors


def do_save_recipient(recipient: Recipient, *, acting_user: Any) -> Recipient:
    """Create or change a registry entry (console and seeding), then keep its consent purpose in step.

    1. Validate (``recipient_problems``); refuse with a ValidationError naming the fields.
    2. Save and audit in one transaction.
    3. After commit, create or re-publish the recipient's consent notice, or retire it (``consent_link``).
    """
    problems = recipient_problems(recipient)
    if problems:
        raise ValidationError(problems)
    recipient.country = recipient.country.upper()
    creating = recipient._state.adding
    recipient.updated_at = timezone.now()
    with transaction.atomic(durable=True):
        changed: list[str] = []
        if not creating:
            before = Recipient.objects.select_for_update().get(pk=recipient.pk)
            changed = [f for f in RECIPIENT_FIELDS if getattr(before, f) != getattr(recipient, f)]
        recipient.save()
        record(
            AuditEvent.SHARING_RECIPIENT_SAVED,
            acting_user=acting_user,
            obj=recipient,
            details={"slug": recipient.slug, "created": creating, "changed": changed},
        )
    from lingjing.sharing.consent_link import ensure_purpose

    ensure_purpose(recipient, acting_user=acting_user)
    return recipient


# --- legal requests ---------------------------------------------------------------------------------------


def _require(user: Any, perm: str) -> None:
    if not (getattr(user, "is_authenticated", False) and user.is_staff and user.has_perm(perm)):
        raise PermissionDenied("没有处理国家机关调取请求的权限")


def do_register_legal_request(
    *,
    authority: Recipient,
    reference_no: str,
    document_kind: str,
    legal_basis_text: str,
    categories: Iterable[str],
    people: Iterable[Any],
    purpose: str = "compliance",
    confidential_days: int = 0,
    received_at: dt.datetime | None = None,
    acting_user: Any,
) -> LegalRequest:
    """Staff register a request received from an authority. It waits for a second member of staff."""
    _require(acting_user, "sharing.add_legalrequest")
    errors: dict[str, list[str]] = {}
    if authority.kind != RecipientKind.AUTHORITY or not authority.active:
        errors["authority"] = ["请选择已登记的国家机关"]
    if not legal_basis_text.strip():
        errors["legal_basis_text"] = ["必须记录法律依据"]
    if not reference_no.strip():
        errors["reference_no"] = ["必须记录文书编号"]
    wanted = list(dict.fromkeys(categories))
    bad = [c for c in wanted if c not in CATEGORIES or c not in authority.categories]
    if not wanted or bad:
        errors["categories"] = ["请选择该机关登记的个人信息种类" + (f"（不可选：{'、'.join(bad)}）" if bad else "")]
    persons = list(dict.fromkeys(people))
    if not persons:
        errors["people"] = ["请至少指明一名当事人"]
    if purpose not in authority.purposes:
        errors["purpose"] = ["该机关未登记此目的"]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic(durable=True):
        req = LegalRequest.objects.create(
            authority=authority,
            reference_no=reference_no.strip(),
            document_kind=document_kind.strip(),
            legal_basis_text=legal_basis_text.strip(),
            purpose=purpose,
            categories=wanted,
            confidential_days=max(0, int(confidential_days)),
            received_at=received_at or timezone.now(),
            requested_by=acting_user,
        )
        LegalRequestSubject.objects.bulk_create([LegalRequestSubject(request=req, person=p) for p in persons])
        record(
            AuditEvent.SHARING_LEGAL_REQUEST_REGISTERED,
            acting_user=acting_user,
            obj=req,
            details={"authority": authority.slug, "categories": wanted, "people": len(persons)},
        )
    return req


def _package_path(req: LegalRequest) -> Path:
    return Path(settings.EXPORTS_DIR) / "legal" / f"{req.pk}.json"


def _collect(person: Any, categories: list[str]) -> dict[str, list[Any]]:
    """The person's data in these categories, read through the registry (the export engine)."""
    from lingjing.privacy.engines.export import iter_person_data

    out: dict[str, list[Any]] = {}
    for item in iter_person_data(person):
        if item["category"] in categories:
            out.setdefault(item["category"], []).append(
                {"field": f"{item['model']}.{item['field']}", "value": item["value"]}
            )
    return out


def do_decide_legal_request(req: LegalRequest, *, approve: bool, note: str, acting_user: Any) -> LegalRequest:
    """A second member of staff approves (the data goes through the gate) or rejects the request.

    1. The decider holds ``sharing.decide_legalrequest`` and is not the person who registered it.
    2. Approval: per person named, their data in the requested categories passes the gate with the legal basis
       ``legal_duty`` (sharing log row, visible to them after ``confidential_days``); the package the authority
       receives is written under ``EXPORTS_DIR/legal/``. Everything commits together; on failure the package
       file is removed and nothing is recorded.
    """
    from lingjing.sharing.gate import disclose

    _require(acting_user, "sharing.decide_legalrequest")
    if acting_user.pk == req.requested_by_id:
        raise PermissionDenied("登记人不能审批自己登记的请求，须由另一名工作人员审批")
    if not note.strip():
        raise ValidationError({"note": ["请写明审批意见"]})
    path = _package_path(req)
    try:
        with transaction.atomic(durable=True):
            locked = LegalRequest.objects.select_for_update().get(pk=req.pk)
            if locked.status != LegalRequestStatus.PENDING:
                raise ValidationError("该请求已处理")
            now = timezone.now()
            locked.decided_by = acting_user
            locked.decided_at = now
            locked.decision_note = note.strip()
            locked.status = LegalRequestStatus.DISCLOSED if approve else LegalRequestStatus.REJECTED
            package: list[dict[str, Any]] = []
            if approve:
                visible = now + dt.timedelta(days=locked.confidential_days)
                for subject in locked.subjects.select_related("person").order_by("pk"):
                    released = disclose(
                        subject.person,
                        locked.authority,
                        locked.categories,
                        locked.purpose,
                        payload=_collect(subject.person, locked.categories),
                        legal_basis="legal_duty",
                        acting_user=acting_user,
                        flow="legal_request",
                        reference=str(locked.pk),
                        visible_from=visible,
                    )
                    package.append({"person": str(subject.person_id), "data": released.payload})
                path.parent.mkdir(parents=True, exist_ok=True)
                document = {
                    "request": str(locked.pk),
                    "authority": locked.authority.legal_name,
                    "reference_no": locked.reference_no,
                    "legal_basis": locked.legal_basis_text,
                    "approved_at": now.isoformat(),
                    "subjects": package,
                }
                path.write_text(json.dumps(document, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
                path.chmod(0o600)
                locked.package_name = path.name
            locked.save()
            record(
                AuditEvent.SHARING_LEGAL_REQUEST_DECIDED,
                acting_user=acting_user,
                obj=locked,
                details={"approved": approve, "people": len(package), "registered_by": f"u:{locked.requested_by_id}"},
            )
    except BaseException:
        if approve and path.exists() and not LegalRequest.objects.filter(pk=req.pk, package_name=path.name).exists():
            path.unlink()
        raise
    return locked


# --- merger / business transfer ---------------------------------------------------------------------------


def do_create_successor_report(*, successor: str, acting_user: Any) -> SuccessorReport:
    """Freeze the data map and obligations for a named successor (``lingjing sharing successor-report``)."""
    from lingjing.security.audit import actor_ref
    from lingjing.sharing.successor import build_document, digest_of, render_markdown

    if not successor.strip():
        raise ValidationError({"successor": ["请填写承继方名称"]})
    document = build_document(successor=successor.strip())
    with transaction.atomic(durable=True):
        report = SuccessorReport.objects.create(
            successor=successor.strip(),
            generated_by=actor_ref(acting_user),
            document=document,
            markdown=render_markdown(document),
            digest=digest_of(document),
        )
        record(
            AuditEvent.SHARING_SUCCESSOR_REPORT,
            acting_user=acting_user,
            obj=report,
            details={"digest": report.digest, "declarations": len(document["data_map"])},
        )
    return report


def do_accept_successor_report(
    report: SuccessorReport, *, accepted_by: str, digest: str, statement: str = "", acting_user: Any
) -> SuccessorReport:
    """Record that the successor accepted exactly this document (its SHA-256), and with it the policy."""
    from lingjing.security.audit import actor_ref

    if digest.strip().lower() != report.digest:
        raise ValidationError({"digest": ["摘要与报告不一致：承继方须确认的是这一份报告"]})
    if not accepted_by.strip():
        raise ValidationError({"accepted_by": ["请填写承继方签署人"]})
    with transaction.atomic(durable=True):
        locked = SuccessorReport.objects.select_for_update().get(pk=report.pk)
        if locked.accepted_at is not None:
            raise ValidationError("该报告已被接受")
        locked.accepted_at = timezone.now()
        locked.accepted_by_name = accepted_by.strip()
        locked.acceptance_statement = statement.strip() or (
            f"{locked.successor}承诺继续受本隐私政策约束并履行报告所列义务；"
            "如需变更处理目的或处理方式，将重新取得个人同意（《个人信息保护法》第二十二条）。"
        )
        locked.acceptance_recorded_by = actor_ref(acting_user)
        locked.save()
        record(
            AuditEvent.SHARING_SUCCESSOR_ACCEPTED,
            acting_user=acting_user,
            obj=locked,
            details={"digest": locked.digest},
        )
    return locked
