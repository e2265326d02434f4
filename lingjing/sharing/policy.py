"""The recipient registry as the policy pages show it (policy 三, 七; PIPL art. 23, 39).

``recipients_for_policy(lang)`` is what the published policy and the privacy center list: every active
recipient with its name, contact, country, role, purposes, categories, legal basis, and for recipients abroad
the transfer mechanism and how to exercise rights there. Read-only.
"""

from __future__ import annotations

from typing import Any

from lingjing.privacy.registry import BASES, CATEGORIES, PURPOSES
from lingjing.sharing.models import Mechanism, Recipient, RecipientKind, RecipientRole

ROLE_LABELS = {
    RecipientRole.PROCESSOR: ("受托处理者（按我们的指示处理）", "Processor (acts on our instructions)"),
    RecipientRole.CONTROLLER: ("个人信息处理者（自行决定处理）", "Controller (decides its own processing)"),
}
KIND_LABELS = {
    RecipientKind.COMPANY: ("企业或组织", "Company or organisation"),
    RecipientKind.AUTHORITY: ("国家机关", "State authority"),
    RecipientKind.PUBLIC: ("公开披露", "Public disclosure"),
}
MECHANISM_LABELS_EN = {
    Mechanism.NONE: "None",
    Mechanism.STANDARD_CONTRACT: "Standard contract (filed)",
    Mechanism.CERTIFICATION: "Personal information protection certification",
    Mechanism.SECURITY_ASSESSMENT: "Security assessment (passed)",
}


def _pick(pair: tuple[str, str], en: bool) -> str:
    return pair[1] if en else pair[0]


def recipient_row(recipient: Recipient, lang: str = "zh") -> dict[str, Any]:
    en = lang.startswith("en")
    mechanism = Mechanism(recipient.mechanism_in_force())
    return {
        "slug": recipient.slug,
        "name": recipient.name(lang),
        "legal_name": recipient.legal_name,
        "contact": recipient.contact,
        "country": recipient.country.upper(),
        "kind": recipient.kind,
        "kind_label": _pick(KIND_LABELS[RecipientKind(recipient.kind)], en),
        "role": recipient.role,
        "role_label": _pick(ROLE_LABELS[RecipientRole(recipient.role)], en),
        "affiliate": recipient.affiliate,
        "purposes": list(recipient.purposes),
        "purpose_labels": [
            (PURPOSES[p].en if en else PURPOSES[p].zh) if p in PURPOSES else p for p in recipient.purposes
        ],
        "categories": list(recipient.categories),
        "category_labels": [
            (CATEGORIES[c].label.en if en else CATEGORIES[c].label.zh) if c in CATEGORIES else c
            for c in recipient.categories
        ],
        "legal_basis": recipient.legal_basis,
        "legal_basis_label": (BASES[recipient.legal_basis].en if en else BASES[recipient.legal_basis].zh)
        if recipient.legal_basis in BASES else recipient.legal_basis,
        "needs_consent": recipient.needs_consent,
        "consent_key": recipient.consent_key if recipient.needs_consent else "",
        "processing": recipient.processing(lang),
        "cross_border": recipient.cross_border,
        "rights": recipient.rights(lang),
        "deidentify": dict(recipient.deidentify or {}),
        "mechanism": str(mechanism),
        "mechanism_label": MECHANISM_LABELS_EN[mechanism] if en else mechanism.label,
    }


def recipients_for_policy(lang: str = "zh", *, include_authorities: bool = False) -> list[dict[str, Any]]:
    """Every active recipient, companies first. Authorities are listed only on request: a request from one is
    recorded in the person's sharing log; the policy names the category ("国家机关") instead."""
    qs = Recipient.objects.filter(active=True).order_by("kind", "legal_name", "slug")
    if not include_authorities:
        qs = qs.exclude(kind=RecipientKind.AUTHORITY)
    return [recipient_row(r, lang) for r in qs]
