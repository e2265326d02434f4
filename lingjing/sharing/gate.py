"""The disclosure gate: the one function every outward flow of personal data passes through.

AI provider calls, SMS and email delivery, cloud storage, copies sent to a third party, transfers abroad, legal
requests and public disclosure all call :func:`disclose` *before* anything leaves, and send only the payload it
returns. In order, it:

1. finds the recipient in the registry (unknown or retired: refused);
2. checks the purpose is one the recipient is registered for, and every requested category is one it is
   registered to receive (PIPL art. 23: the recipient stays within the notified purposes and categories);
3. settles the legal basis: the recipient's registered basis, or the one the caller claims if the registry allows
   it. Consent is required whenever the recipient needs it (``Recipient.needs_consent``: a controller, an
   affiliate, a recipient abroad, the public, or a consent-based processor) and must be the person's *separate*
   consent for that very recipient, given to the notice in force (PIPL art. 23, 25, 39). Affiliates are not
   exempt. ``legal_duty`` is accepted only for a state organ; an authority abroad is refused outright
   (PIPL art. 41);
4. for a recipient abroad: refuses a child's data without a standard contract or assessment, and counts the
   year's distinct people against the thresholds (``crossborder``);
5. filters the payload to the allowed categories (everything else is withheld and listed in the record) and
   applies the recipient's de-identification rules (``deid``);
6. writes the person's :class:`~lingjing.sharing.models.SharingRecord`, the tallies and an audit row in one
   transaction, and returns the payload to send.

A refusal raises :class:`DisclosureRefused` with a Chinese reason and leaves an audit row; nothing is written to
the sharing log and the caller sends nothing.

Transactions: the gate opens a (nestable) atomic block, not a durable one, so an action that discloses as part of
its own change (approving a legal request) keeps both in one transaction. Callers that then talk to the network
must do so *after* their transaction commits: an HTTP call inside a transaction would hold SQLite's write lock.
If delivery then fails, :func:`do_mark_failed` records it; the log errs on the side of saying data was sent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from lingjing.privacy.registry import BASES, CATEGORIES, PURPOSES
from lingjing.security.audit import AuditEvent, actor_ref, record
from lingjing.sharing import crossborder, deid
from lingjing.sharing.consent_link import consent_in_force
from lingjing.sharing.models import Recipient, RecipientKind, RecordStatus, SharingRecord


class DisclosureRefused(Exception):
    """The gate said no. ``reason`` is Chinese and fit to show; ``code`` is stable for programs."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Disclosure:
    """What the caller may send: ``payload`` (keyed by category), already filtered and de-identified."""

    record: SharingRecord
    recipient: Recipient
    categories: tuple[str, ...]
    payload: dict[str, Any] = field(default_factory=dict)


def _recipient(recipient: Recipient | str) -> Recipient:
    if isinstance(recipient, Recipient):
        fresh = Recipient.objects.filter(pk=recipient.pk).first()
    else:
        fresh = Recipient.objects.filter(slug=recipient).first()
    if fresh is None:
        raise DisclosureRefused("unknown_recipient", "接收方未在登记表中登记，不能提供个人信息")
    if not fresh.active:
        raise DisclosureRefused("recipient_inactive", f"接收方“{fresh.legal_name}”已停用，不能提供个人信息")
    return fresh


def _is_sensitive(categories: Iterable[str], child: bool) -> bool:
    return child or any(CATEGORIES[c].sensitive for c in categories if c in CATEGORIES)


def _digest(payload: Mapping[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _settle_basis(person: Any, recipient: Recipient, claimed: str | None) -> tuple[str, str]:
    """The basis relied on and the consent key it rests on ("" when not consent). Raises when there is none."""
    if claimed is not None and claimed not in BASES:
        raise DisclosureRefused("unknown_basis", f"未知的法律依据：{claimed}")
    if claimed == "legal_duty" or recipient.kind == RecipientKind.AUTHORITY:
        if recipient.kind != RecipientKind.AUTHORITY:
            raise DisclosureRefused("basis_not_registered", "只有向国家机关提供时才能以履行法定义务为依据")
        if recipient.cross_border:
            raise DisclosureRefused(
                "foreign_authority", "未经中华人民共和国主管机关批准，不得向外国司法或者执法机构提供个人信息"
            )
        if claimed != "legal_duty":
            raise DisclosureRefused("no_legal_basis", "向国家机关提供个人信息须记录法律依据（履行法定义务）")
        return "legal_duty", ""
    if recipient.needs_consent or claimed == "consent":
        if person is None or not consent_in_force(person, recipient):
            raise DisclosureRefused(
                "no_consent",
                f"未取得您对向“{recipient.legal_name}”提供个人信息的单独同意（或同意后接收方信息已变更），已停止提供",
            )
        return "consent", recipient.consent_key
    if claimed is not None and claimed != recipient.legal_basis:
        raise DisclosureRefused(
            "basis_not_registered", f"接收方“{recipient.legal_name}”登记的法律依据不包括“{BASES[claimed].zh}”"
        )
    return recipient.legal_basis, ""


def _audit_refusal(person: Any, recipient_ref: str, exc: DisclosureRefused, purpose: str, flow: str,
                   acting_user: Any) -> None:
    with transaction.atomic():
        record(
            AuditEvent.SHARING_REFUSED,
            acting_user=acting_user,
            subject=f"u:{person.pk}" if person is not None else "",
            details={"recipient": recipient_ref, "code": exc.code, "purpose": purpose, "flow": flow},
        )


def disclose(
    person: Any,
    recipient: Recipient | str,
    categories: Iterable[str],
    purpose: str,
    *,
    payload: Mapping[str, Any] | None = None,
    legal_basis: str | None = None,
    acting_user: Any = None,
    flow: str = "",
    reference: str = "",
    visible_from: Any = None,
) -> Disclosure:
    """Let ``person``'s data in ``categories`` go to ``recipient`` for ``purpose``, or raise DisclosureRefused.

    ``payload`` is keyed by category id (``{"content.script": "...", "device.ip": "1.2.3.4"}``); only the keys
    that are both requested and registered for the recipient survive, de-identified by its rules. Send exactly
    ``Disclosure.payload`` and nothing personal besides it.
    """
    wanted = tuple(dict.fromkeys(categories))
    ref = recipient.slug if isinstance(recipient, Recipient) else str(recipient)
    try:
        return _disclose(person, recipient, wanted, purpose, payload or {}, legal_basis, acting_user, flow,
                         reference, visible_from)
    except DisclosureRefused as exc:
        _audit_refusal(person, ref, exc, purpose, flow, acting_user)
        raise


def _disclose(
    person: Any,
    recipient_in: Recipient | str,
    wanted: tuple[str, ...],
    purpose: str,
    payload: Mapping[str, Any],
    legal_basis: str | None,
    acting_user: Any,
    flow: str,
    reference: str,
    visible_from: Any,
) -> Disclosure:
    from lingjing.children.rules import is_child

    recipient = _recipient(recipient_in)
    if not wanted:
        raise DisclosureRefused("no_categories", "没有指明要提供的个人信息种类")
    unknown = [c for c in wanted if c not in CATEGORIES]
    if unknown:
        raise DisclosureRefused("unknown_category", "未知的个人信息种类：" + "、".join(unknown))
    if purpose not in PURPOSES or purpose not in recipient.purposes:
        raise DisclosureRefused(
            "purpose_not_registered", f"接收方“{recipient.legal_name}”未登记用于此目的（{purpose}），不能提供"
        )
    undeclared = [c for c in wanted if c not in recipient.categories]
    if undeclared:
        labels = "、".join(CATEGORIES[c].label.zh for c in undeclared)
        raise DisclosureRefused("category_not_registered", f"接收方“{recipient.legal_name}”未登记接收：{labels}")
    basis, consent_key = _settle_basis(person, recipient, legal_basis)
    child = is_child(person)
    if child and recipient.kind == RecipientKind.PUBLIC and basis != "legal_duty":
        # Policy 六: a child's data is disclosed publicly only as law or the child's protection requires.
        raise DisclosureRefused("child_public", "不满十四周岁未成年人的个人信息不予公开披露")

    sendable = {k: v for k, v in payload.items() if k in wanted}
    withheld = sorted(k for k in payload if k not in wanted)
    try:
        shaped, applied = deid.apply_rules(sendable, recipient.deidentify or {}, recipient_slug=recipient.slug)
    except deid.RuleError as exc:
        raise DisclosureRefused("deidentification_failed", f"去标识化失败，未提供：{exc}") from None
    sent_categories = tuple(c for c in wanted if applied.get(c) != "drop")
    sensitive = _is_sensitive(sent_categories, child)

    now = timezone.now()
    with transaction.atomic():
        plan = None
        if recipient.cross_border:
            plan = crossborder.plan(person, recipient, sensitive=sensitive)
            need, why = crossborder.required_strength(plan, child=child)
            if crossborder.strength_of(recipient) < need:
                code = "child_abroad" if child and crossborder.strength_of(recipient) < 1 else "crossborder_limit"
                raise DisclosureRefused(
                    code,
                    f"{why}，须先与境外接收方“{recipient.legal_name}”完成{crossborder.NEED_LABEL[need]}，已停止向境外提供",
                )
        row = SharingRecord(
            person=person,
            recipient=recipient,
            at=now,
            visible_from=visible_from or now,
            purpose=purpose,
            legal_basis=basis,
            categories=list(sent_categories),
            withheld=withheld,
            deidentified=applied,
            sensitive=sensitive,
            child=child,
            cross_border=recipient.cross_border,
            country=recipient.country.upper(),
            flow=flow[:40],
            reference=str(reference)[:80],
            consent_key=consent_key,
            payload_digest=_digest(shaped),
            actor=actor_ref(acting_user),
        )
        row.save(force_insert=True)
        if plan is not None:
            crossborder.count(plan)
        record(
            AuditEvent.SHARING_DISCLOSED,
            acting_user=acting_user,
            subject=f"u:{person.pk}" if person is not None else "",
            obj=row,
            details={
                "recipient": recipient.slug,
                "categories": list(sent_categories),
                "withheld": withheld,
                "purpose": purpose,
                "basis": basis,
                "cross_border": recipient.cross_border,
                "flow": row.flow,
            },
        )
    return Disclosure(record=row, recipient=recipient, categories=sent_categories, payload=shaped)


def would_disclose(person: Any, recipient: Recipient | str, categories: Iterable[str], purpose: str, *,
                   legal_basis: str | None = None) -> str | None:
    """None when the gate would let this through now (ignoring volume thresholds), else the Chinese reason.

    For showing a choice before making it (e.g. greying out an AI provider the person has not agreed to).
    Writes nothing.
    """
    try:
        found = _recipient(recipient)
        wanted = tuple(dict.fromkeys(categories))
        if purpose not in found.purposes:
            return f"接收方“{found.legal_name}”未登记用于此目的"
        undeclared = [c for c in wanted if c not in found.categories]
        if undeclared:
            labels = (CATEGORIES[c].label.zh if c in CATEGORIES else c for c in undeclared)
            return "接收方未登记接收：" + "、".join(labels)
        _settle_basis(person, found, legal_basis)
    except DisclosureRefused as exc:
        return exc.reason
    return None


def do_mark_failed(disclosure: Disclosure, *, error: str, acting_user: Any = None) -> None:
    """The caller could not deliver what the gate released: say so in the record (kept, not deleted)."""
    with transaction.atomic(durable=True):
        SharingRecord.objects.filter(pk=disclosure.record.pk).update(status=RecordStatus.FAILED)
        record(
            AuditEvent.SHARING_DELIVERY_FAILED,
            acting_user=acting_user,
            subject=f"u:{disclosure.record.person_id}" if disclosure.record.person_id else "",
            obj=disclosure.record,
            details={"error": error[:80]},
        )
