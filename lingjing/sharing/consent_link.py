"""The separate consent behind a recipient, kept in the consent app (``lingjing.consent``).

Each recipient that needs consent has a consent purpose: ``recipient:<slug>``, ``crossborder:<slug>`` (abroad) or
``disclosure:<slug>`` (the public). Its notice text is generated from the recipient's registry entry, so the person
reads exactly what PIPL art. 23 / 39 require: name, contact, purposes, processing, categories, and for a foreign
recipient how to exercise their rights there. When the entry changes, the consent app publishes a new notice
version, and the gate treats consent given to an older version as no longer valid: the recipient changed what it
does, so it must ask again (policy 三(一)(3)).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction

from lingjing.privacy.registry import BASES, CATEGORIES, PURPOSES
from lingjing.sharing.models import Recipient, RecipientKind


def _labels(ids: list[str], table: dict[str, Any], lang: str) -> list[str]:
    out = []
    for key in ids:
        item = table.get(key)
        if item is None:
            out.append(key)
            continue
        label = getattr(item, "label", item)
        out.append(label.en if lang == "en" else label.zh)
    return out


def notice_texts(recipient: Recipient) -> dict[str, str]:
    """Title and text (zh, en) of the consent notice for this recipient."""
    cats_zh = "、".join(_labels(recipient.categories, CATEGORIES, "zh"))
    cats_en = ", ".join(_labels(recipient.categories, CATEGORIES, "en"))
    purposes_zh = "、".join(_labels(recipient.purposes, PURPOSES, "zh"))
    purposes_en = ", ".join(_labels(recipient.purposes, PURPOSES, "en"))
    if recipient.kind == RecipientKind.PUBLIC:
        title_zh = "公开披露您的个人信息"
        title_en = "Public disclosure of your personal information"
        text_zh = f"我们将公开您的以下个人信息：{cats_zh}，用于：{purposes_zh}。"
        text_en = f"We will make the following public: {cats_en}, for: {purposes_en}."
        return {"title_zh": title_zh, "title_en": title_en, "text_zh": text_zh, "text_en": text_en}
    where_zh = "" if not recipient.cross_border else f"（位于境外：{recipient.country}）"
    where_en = "" if not recipient.cross_border else f" (abroad: {recipient.country})"
    title_zh = f"向{'境外' if recipient.cross_border else ''}接收方“{recipient.legal_name}”提供个人信息"
    title_en = f"Providing personal information to {recipient.name('en')}"
    if recipient.cross_border:
        title_en += " abroad"
    text_zh = (
        f"接收方：{recipient.legal_name}{where_zh}；联系方式：{recipient.contact}。"
        f"处理目的：{purposes_zh}。处理方式：{recipient.processing_zh or '按约定目的处理'}。"
        f"个人信息种类：{cats_zh}。"
    )
    text_en = (
        f"Recipient: {recipient.name('en')}{where_en}; contact: {recipient.contact}. "
        f"Purposes: {purposes_en}. Processing: {recipient.processing('en') or 'as agreed'}. "
        f"Categories: {cats_en}."
    )
    if recipient.deidentify:
        text_zh += "提供前按登记的规则去标识化。"
        text_en += " De-identified before it leaves, by the registered rules."
    if recipient.cross_border:
        text_zh += f"您可以通过以下方式向境外接收方行使个人信息权利：{recipient.rights_zh}"
        text_en += f" How to exercise your rights with the foreign recipient: {recipient.rights('en')}"
    if recipient.affiliate:
        text_zh += "该接收方是我们的关联公司，同样须取得您的单独同意。"
        text_en += " The recipient is our affiliate; it too needs your separate consent."
    return {"title_zh": title_zh, "title_en": title_en, "text_zh": text_zh, "text_en": text_en}


def purpose_kind(recipient: Recipient) -> str:
    from lingjing.consent.models import PurposeKind

    if recipient.kind == RecipientKind.PUBLIC:
        return str(PurposeKind.DISCLOSURE)
    if recipient.cross_border:
        return str(PurposeKind.CROSS_BORDER)
    return str(PurposeKind.RECIPIENT)


def ensure_purpose(recipient: Recipient, *, acting_user: Any) -> None:
    """Create (or re-publish the notice of) the recipient's consent purpose, and retire the ones it no longer
    uses. Runs its own transactions, so call it outside any.

    A recipient no longer needing consent, or retired, has its purposes retired (``active=False``): nobody can give
    or rely on a consent for them any more. A recipient that moved abroad (or back) gets a new key.
    """
    from lingjing.consent.actions import do_add_purpose
    from lingjing.consent.models import Purpose
    from lingjing.security.audit import AuditEvent, record

    wanted = recipient.consent_key if (recipient.active and recipient.needs_consent) else None
    with transaction.atomic(durable=True):
        stale = Purpose.objects.filter(key__in=[k for k in _all_keys(recipient) if k != wanted], active=True)
        retired = sorted(stale.values_list("key", flat=True))
        if retired:
            stale.update(active=False)
            record(AuditEvent.SHARING_PURPOSE_CHANGED, acting_user=acting_user, obj=recipient,
                   details={"retired": retired})
    if wanted is None:
        return
    texts = notice_texts(recipient)
    do_add_purpose(
        wanted,
        kind=purpose_kind(recipient),
        title_zh=texts["title_zh"],
        title_en=texts["title_en"],
        text_zh=texts["text_zh"],
        text_en=texts["text_en"],
        registry_purpose=recipient.purposes[0] if recipient.purposes else "",
        position=300,
        acting_user=acting_user,
    )
    with transaction.atomic(durable=True):
        if Purpose.objects.filter(key=wanted, active=False).update(active=True):
            record(AuditEvent.SHARING_PURPOSE_CHANGED, acting_user=acting_user, obj=recipient,
                   details={"reactivated": wanted})


def _all_keys(recipient: Recipient) -> list[str]:
    return [f"{prefix}:{recipient.slug}" for prefix in ("recipient", "crossborder", "disclosure")]


def consent_in_force(person: Any, recipient: Recipient) -> bool:
    """The person's separate consent for this recipient, given to the notice currently in force."""
    from lingjing.consent.models import ConsentState, PurposeNotice
    from lingjing.consent.service import has_consent

    key = recipient.consent_key
    if person is None or not has_consent(person, key):
        return False
    given = ConsentState.objects.filter(user_id=person.pk, purpose__key=key).values_list("notice_version", flat=True)
    current = (
        PurposeNotice.objects.filter(purpose__key=key).order_by("-version").values_list("version", flat=True).first()
    )
    return current is None or given.first() == current


def basis_label(basis: str, lang: str = "zh") -> str:
    label = BASES.get(basis)
    if label is None:
        return basis
    return label.en if lang == "en" else label.zh


def residency() -> str:
    return str(settings.LINGJING_RESIDENCY).upper()
