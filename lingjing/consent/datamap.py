"""What the policy says about the data, read from the registry, the purpose catalogue and the cookie declaration.

Nothing here is written by hand: the tables of the policy (what is collected, why, on which legal basis, for
how long, who receives it) come from the registry through ``lingjing.privacy.inventory.inventory_rows()``,
so the published text cannot disagree with what the code enforces (promise L11).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from lingjing.consent import cookies as cookie_decl
from lingjing.consent.models import Purpose, PurposeKind
from lingjing.privacy.inventory import inventory_rows
from lingjing.privacy.registry import BASES, CATEGORIES, PURPOSES


@dataclass
class CategoryRow:
    id: str
    label: str
    sensitive: bool
    purposes: list[str] = field(default_factory=list)
    bases: list[str] = field(default_factory=list)
    retentions: list[str] = field(default_factory=list)
    erasure: list[str] = field(default_factory=list)
    sealed: bool = False


@dataclass
class PurposeRow:
    id: str
    label: str
    categories: list[str] = field(default_factory=list)
    bases: list[str] = field(default_factory=list)


def _add(items: list[str], value: str) -> None:
    if value not in items:
        items.append(value)


def category_rows(lang: str = "zh") -> list[CategoryRow]:
    """One row per data category actually declared, in taxonomy order (from the inventory's rows)."""
    en = lang == "en"
    rows: dict[str, CategoryRow] = {}
    for item in inventory_rows():
        row = rows.get(item.category)
        if row is None:
            row = rows[item.category] = CategoryRow(item.category, item.category_en if en else item.category_zh,
                                                    False)
        row.sensitive = row.sensitive or item.sensitive
        for label in item.purposes_en if en else item.purposes_zh:
            _add(row.purposes, label)
        _add(row.bases, item.basis_en if en else item.basis_zh)
        _add(row.retentions, item.retention_en if en else item.retention_zh)
        _add(row.erasure, item.erase_en if en else item.erase_zh)
        row.sealed = row.sealed or item.sealed
    order = list(CATEGORIES)
    return sorted(rows.values(), key=lambda r: order.index(r.id) if r.id in order else len(order))


def purpose_rows(lang: str = "zh") -> list[PurposeRow]:
    """One row per declared purpose: which categories serve it and on which bases."""
    en = lang == "en"
    rows: OrderedDict[str, PurposeRow] = OrderedDict(
        (pid, PurposeRow(pid, label.en if en else label.zh)) for pid, label in PURPOSES.items()
    )
    used: set[str] = set()
    for item in inventory_rows():
        for purpose in item.purposes:
            row = rows.get(purpose)
            if row is None:
                continue
            used.add(purpose)
            _add(row.categories, item.category_en if en else item.category_zh)
            _add(row.bases, item.basis_en if en else item.basis_zh)
    return [row for pid, row in rows.items() if pid in used]


def basis_rows(lang: str = "zh") -> list[dict[str, Any]]:
    """Each legal basis relied on, with the purposes relying on it."""
    en = lang == "en"
    by_basis: OrderedDict[str, list[str]] = OrderedDict((b, []) for b in BASES)
    for item in inventory_rows():
        if item.basis not in by_basis:
            continue
        for label in item.purposes_en if en else item.purposes_zh:
            _add(by_basis[item.basis], label)
    return [
        {"id": b, "label": BASES[b].en if en else BASES[b].zh, "purposes": purposes}
        for b, purposes in by_basis.items()
        if purposes
    ]


def consent_purpose_rows(lang: str = "zh", kinds: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    rows = []
    qs = Purpose.objects.filter(active=True).prefetch_related("notices")
    if kinds:
        qs = qs.filter(kind__in=kinds)
    for purpose in qs:
        notices = sorted(purpose.notices.all(), key=lambda n: -n.version)
        if not notices:
            continue
        notice = notices[0]
        rows.append({"key": purpose.key, "kind": purpose.kind, "title": notice.title(lang),
                     "text": notice.text(lang), "version": notice.version,
                     "honours_signals": purpose.honours_signals})
    return rows


def cookie_rows(lang: str = "zh") -> list[dict[str, Any]]:
    en = lang == "en"
    cats = {c.id: c for c in cookie_decl.CATEGORIES}
    return [
        {"name": c.name, "category": cats[c.category].en if en else cats[c.category].zh,
         "category_id": c.category, "purpose": c.purpose_en if en else c.purpose_zh,
         "lifetime": c.lifetime(lang), "party": c.party, "provider": c.provider}
        for c in cookie_decl.cookies()
    ]


def cookie_category_rows(lang: str = "zh") -> list[dict[str, Any]]:
    en = lang == "en"
    return [
        {"id": c.id, "label": c.en if en else c.zh, "text": c.text_en if en else c.text_zh, "optional": c.optional,
         "cookies": [k.name for k in cookie_decl.cookies() if k.category == c.id]}
        for c in cookie_decl.CATEGORIES
    ]


def policy_context(lang: str = "zh") -> dict[str, Any]:
    """Everything the policy templates need besides their own words."""
    lang = "en" if lang.startswith("en") else "zh"
    recipients = consent_purpose_rows(lang, (PurposeKind.RECIPIENT,))
    cross_border = consent_purpose_rows(lang, (PurposeKind.CROSS_BORDER,))
    return {
        "lang": lang,
        "controller": settings.LINGJING_CONTROLLER,
        "categories": category_rows(lang),
        "sensitive_categories": [r for r in category_rows(lang) if r.sensitive],
        "purposes": purpose_rows(lang),
        "bases": basis_rows(lang),
        "consent_purposes": consent_purpose_rows(
            lang, (PurposeKind.FEATURE, PurposeKind.COOKIE, PurposeKind.MARKETING, PurposeKind.DISCLOSURE)
        ),
        "recipients": recipients,
        "cross_border": cross_border,
        "cookies": cookie_rows(lang),
        "cookie_categories": cookie_category_rows(lang),
        "notice_days": int(getattr(settings, "LINGJING_POLICY_NOTICE_DAYS", 7)),
        "grace_days": settings.LINGJING_DELETION_GRACE_DAYS,
        "analytics_days": int(getattr(settings, "LINGJING_ANALYTICS_RETENTION_DAYS", 30)),
        "residency": settings.LINGJING_RESIDENCY,
    }
