"""Consent receipts as documents (JSON), in the spirit of ISO/IEC 29184 and the Kantara consent receipt."""

from __future__ import annotations

from typing import Any

from lingjing.consent.models import ConsentReceipt, Purpose


def receipt_document(receipt: ConsentReceipt) -> dict[str, Any]:
    titles = {
        p.key: (n.title_zh, n.title_en)
        for p in Purpose.objects.filter(key__in=[i.get("purpose") for i in receipt.purposes]).prefetch_related(
            "notices"
        )
        for n in sorted(p.notices.all(), key=lambda n: -n.version)[:1]
    }
    return {
        "receipt_id": str(receipt.pk),
        "version": "lingjing-consent-receipt/1",
        "issued_at": receipt.at.isoformat(),
        "controller": receipt.controller,
        "subject": f"u:{receipt.user_id}",
        "method": receipt.method,
        "policy_version": receipt.policy_version,
        "purposes": [
            {
                **item,
                "title_zh": titles.get(item.get("purpose", ""), ("", ""))[0],
                "title_en": titles.get(item.get("purpose", ""), ("", ""))[1],
            }
            for item in receipt.purposes
        ],
    }
