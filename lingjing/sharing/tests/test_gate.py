"""The disclosure gate: consent, categories, purposes, legal bases, de-identification, the sharing log."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from lingjing.security.audit_models import AuditEntry
from lingjing.sharing.actions import do_save_recipient, recipient_problems
from lingjing.sharing.gate import DisclosureRefused, disclose, do_mark_failed, would_disclose
from lingjing.sharing.models import Recipient, RecipientKind, RecipientRole, RecordStatus, SharingRecord
from lingjing.sharing.tests.conftest import grant

pytestmark = pytest.mark.django_db


def _affiliate(**extra: Any) -> Recipient:
    fields = {
        "slug": "lingjing-sh", "legal_name": "灵境（上海）文化传媒有限公司", "contact": "sh@lingjingai.cn",
        "country": "CN", "role": RecipientRole.CONTROLLER, "affiliate": True, "legal_basis": "consent",
        "purposes": ["content"], "categories": ["content.work", "profile.nickname"],
        **extra,
    }
    return do_save_recipient(Recipient(**fields), acting_user=None)


def test_ai_provider_without_separate_consent_is_refused_and_nothing_is_logged(alice: Any) -> None:
    with pytest.raises(DisclosureRefused) as caught:
        disclose(alice, "deepseek", ["content.script"], "content", payload={"content.script": "第一章"})
    assert caught.value.code == "no_consent"
    assert "单独同意" in caught.value.reason
    assert not SharingRecord.objects.filter(person=alice).exists()
    assert AuditEntry.objects.filter(event="sharing.refused", subject=f"u:{alice.pk}").exists()


def test_allowed_disclosure_is_in_the_persons_sharing_log_with_only_the_requested_categories(alice: Any) -> None:
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
    assert len(row.payload_digest) == 64
    assert AuditEntry.objects.filter(event="sharing.disclosed", object_id=str(row.pk)).exists()


def test_withdrawing_consent_stops_the_next_disclosure(alice: Any) -> None:
    grant(alice, "recipient:deepseek")
    disclose(alice, "deepseek", ["content.script"], "content")
    grant(alice, "recipient:deepseek", False)
    with pytest.raises(DisclosureRefused):
        disclose(alice, "deepseek", ["content.script"], "content")
    assert SharingRecord.objects.filter(person=alice).count() == 1


def test_a_changed_recipient_needs_consent_again(alice: Any) -> None:
    grant(alice, "recipient:deepseek")
    disclose(alice, "deepseek", ["content.script"], "content")
    recipient = Recipient.objects.get(slug="deepseek")
    recipient.purposes = ["content", "analytics"]  # a new purpose: the notice changes (policy 三(一)(3))
    do_save_recipient(recipient, acting_user=None)
    with pytest.raises(DisclosureRefused) as caught:
        disclose(alice, "deepseek", ["content.script"], "content")
    assert caught.value.code == "no_consent"
    grant(alice, "recipient:deepseek")
    disclose(alice, "deepseek", ["content.script"], "content")
    assert SharingRecord.objects.filter(person=alice).count() == 2


def test_affiliates_are_not_exempt_from_separate_consent(alice: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        _affiliate(legal_basis="contract")
    assert "legal_basis" in caught.value.message_dict
    _affiliate()
    with pytest.raises(DisclosureRefused) as refused:
        disclose(alice, "lingjing-sh", ["content.work"], "content")
    assert refused.value.code == "no_consent"
    grant(alice, "recipient:lingjing-sh")
    assert disclose(alice, "lingjing-sh", ["content.work"], "content").record.legal_basis == "consent"


def test_a_processor_under_contract_needs_no_consent_but_only_its_categories(alice: Any) -> None:
    out = disclose(alice, "aliyun-sms", ["identity.phone"], "account", payload={"identity.phone": alice.phone})
    assert out.record.legal_basis == "contract"
    assert out.record.consent_key == ""
    with pytest.raises(DisclosureRefused) as caught:
        disclose(alice, "aliyun-sms", ["identity.phone", "profile.nickname"], "account")
    assert caught.value.code == "category_not_registered"
    assert "昵称" in caught.value.reason


def test_an_unregistered_purpose_is_refused(alice: Any) -> None:
    with pytest.raises(DisclosureRefused) as caught:
        disclose(alice, "aliyun-sms", ["identity.phone"], "recommend")
    assert caught.value.code == "purpose_not_registered"


def test_unknown_and_retired_recipients_are_refused(alice: Any) -> None:
    with pytest.raises(DisclosureRefused) as caught:
        disclose(alice, "nobody", ["identity.phone"], "account")
    assert caught.value.code == "unknown_recipient"
    recipient = Recipient.objects.get(slug="tencent-sms")
    recipient.active = False
    do_save_recipient(recipient, acting_user=None)
    with pytest.raises(DisclosureRefused) as caught:
        disclose(alice, "tencent-sms", ["identity.phone"], "account")
    assert caught.value.code == "recipient_inactive"


def test_legal_duty_is_only_a_basis_towards_authorities(alice: Any) -> None:
    grant(alice, "recipient:deepseek")
    with pytest.raises(DisclosureRefused) as caught:
        disclose(alice, "deepseek", ["content.script"], "content", legal_basis="legal_duty")
    assert caught.value.code == "basis_not_registered"


def test_a_foreign_authority_is_refused_outright(alice: Any) -> None:
    do_save_recipient(Recipient(
        slug="foreign-police", legal_name="Foreign Police", contact="x@example.org", country="US",
        kind=RecipientKind.AUTHORITY, role=RecipientRole.CONTROLLER, legal_basis="legal_duty",
        purposes=["compliance"], categories=["identity.phone"],
    ), acting_user=None)
    with pytest.raises(DisclosureRefused) as caught:
        disclose(alice, "foreign-police", ["identity.phone"], "compliance", legal_basis="legal_duty")
    assert caught.value.code == "foreign_authority"


def test_public_disclosure_needs_consent_and_never_covers_a_child(alice: Any, kid: Any) -> None:
    with pytest.raises(DisclosureRefused):
        disclose(alice, "public", ["profile.nickname"], "profile")
    grant(alice, "disclosure:public")
    assert disclose(alice, "public", ["profile.nickname"], "profile").record.consent_key == "disclosure:public"
    grant(kid, "disclosure:public")
    with pytest.raises(DisclosureRefused) as caught:
        disclose(kid, "public", ["profile.nickname"], "profile")
    assert caught.value.code == "child_public"


def test_would_disclose_explains_without_writing(alice: Any) -> None:
    assert "单独同意" in (would_disclose(alice, "deepseek", ["content.script"], "content") or "")
    grant(alice, "recipient:deepseek")
    assert would_disclose(alice, "deepseek", ["content.script"], "content") is None
    assert not SharingRecord.objects.exists()


def test_a_failed_delivery_is_marked_not_erased(alice: Any) -> None:
    out = disclose(alice, "aliyun-sms", ["identity.phone"], "notify")
    do_mark_failed(out, error="timeout")
    row = SharingRecord.objects.get(pk=out.record.pk)
    assert row.status == RecordStatus.FAILED


def test_registry_rules_for_recipients() -> None:
    abroad = Recipient(slug="x", legal_name="X", contact="x", country="JP", purposes=["content"],
                       categories=["content.script"], legal_basis="consent",
                       deidentify={"content.script": "generalise"})
    problems = recipient_problems(abroad)
    assert "rights_zh" in problems  # PIPL art. 39: how to exercise rights abroad
    assert "deidentify" in problems  # scripts cannot be generalised
    authority = Recipient(slug="y", legal_name="Y", contact="y", kind=RecipientKind.AUTHORITY, legal_basis="consent",
                          purposes=["compliance"], categories=["identity.phone"])
    assert "legal_basis" in recipient_problems(authority)


def test_sharing_records_outlive_the_account_for_three_years(alice: Any) -> None:
    from lingjing.privacy.engines.erasure import erase_person
    from lingjing.privacy.registry import RowErase, declaration_for

    decl = declaration_for(SharingRecord)
    assert decl is not None and decl.on_erase == RowErase.KEEP
    assert decl.keep_days is not None and decl.keep_days >= 3 * 365 + 1  # NDR art. 12, leap years included
    assert all(pd.retention.days == decl.keep_days for pd in decl.fields.values())
    row = disclose(alice, "aliyun-sms", ["identity.phone"], "account").record
    erase_person(alice.pk)
    alice.refresh_from_db()
    assert alice.status == "erased"
    kept = SharingRecord.objects.get(pk=row.pk)
    assert kept.person_id == alice.pk and kept.recipient.slug == "aliyun-sms"
