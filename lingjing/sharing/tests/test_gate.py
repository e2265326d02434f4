"""The disclosure gate: consent, categories, purposes, legal bases, de-identification, the sharing log."""

from __future__ import annotations

from typing import Any

import pytest

from lingjing.security.audit_models import AuditEntry
from lingjing.sharing.gate import DisclosureRefused, disclose
from lingjing.sharing.models import SharingRecord
from lingjing.sharing.tests.conftest import grant

pytestmark = pytest.mark.django_db


def test_ai_provider_without_separate_consent_is_refused_and_nothing_is_logged(alice: Any) -> None:
    with pytest.raises(DisclosureRefused) as caught:
        disclose(alice, "deepseek", ["content.script"], "content", payload={"content.script": "第一章"})
    assert caught.value.code == "no_consent"
    assert "单独同意" in caught.value.reason
    assert not SharingRecord.objects.filter(person=alice).exists()
    assert AuditEntry.objects.filter(event="sharing.refused", subject=f"u:{alice.pk}").exists()


def test_allowed_disclosure_is_in_the_persons_sharing_log(alice: Any) -> None:
    grant(alice, "recipient:deepseek")
    out = disclose(alice, "deepseek", ["content.script"], "content",
                   payload={"content.script": "第一章", "device.ip": "10.1.2.3"}, flow="studio.storyboard")
    assert out.payload == {"content.script": "第一章"}
    row = SharingRecord.objects.get(person=alice)
    assert row.recipient.slug == "deepseek"
    assert row.categories == ["content.script"]
    assert row.withheld == ["device.ip"]
    assert row.legal_basis == "consent"
    assert row.consent_key == "recipient:deepseek"
    assert AuditEntry.objects.filter(event="sharing.disclosed", object_id=str(row.pk)).exists()
