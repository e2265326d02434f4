"""Transfers abroad: separate consent, de-identification, yearly thresholds, children's data."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from lingjing.sharing.actions import do_save_recipient
from lingjing.sharing.deid import hash_value
from lingjing.sharing.gate import DisclosureRefused, disclose
from lingjing.sharing.models import CrossBorderTally, Mechanism, Recipient, SharingRecord
from lingjing.sharing.tests.conftest import grant, make_user

pytestmark = pytest.mark.django_db

SCRIPT = {"content.script": "第一章 夜雨"}


def _mechanism(kind: str, valid_until: dt.date | None = None) -> None:
    recipient = Recipient.objects.get(slug="openai")
    recipient.transfer_mechanism = kind
    recipient.mechanism_reference = "浙网信备〔2025〕001号"
    recipient.mechanism_valid_until = valid_until
    do_save_recipient(recipient, acting_user=None)


def _abroad(person: Any) -> Any:
    grant(person, "crossborder:openai")
    return disclose(person, "openai", ["content.script"], "content", payload=SCRIPT)


def test_abroad_needs_the_separate_cross_border_consent(alice: Any) -> None:
    with pytest.raises(DisclosureRefused) as caught:
        disclose(alice, "openai", ["content.script"], "content", payload=SCRIPT)
    assert caught.value.code == "no_consent"
    out = _abroad(alice)
    assert out.record.cross_border and out.record.country == "US"
    assert out.record.consent_key == "crossborder:openai"


def test_the_consent_notice_names_everything_pipl_39_asks_for() -> None:
    from lingjing.consent.models import Purpose

    notice = Purpose.objects.get(key="crossborder:openai").current_notice()
    assert notice is not None
    for part in ("OpenAI OpCo, LLC", "privacy@openai.com", "US", "dsar@openai.com", "创作脚本与提示词"):
        assert part in notice.text_zh


def test_identifiers_are_pseudonymised_before_they_leave(alice: Any) -> None:
    grant(alice, "crossborder:openai")
    out = disclose(alice, "openai", ["content.script", "identity.account"], "content",
                   payload={**SCRIPT, "identity.account": str(alice.pk)})
    assert out.payload["content.script"] == SCRIPT["content.script"]
    assert out.payload["identity.account"] == hash_value(str(alice.pk), "openai")
    assert str(alice.pk) not in str(out.payload)
    assert out.record.deidentified == {"identity.account": "hash"}


def test_a_transfer_over_the_people_threshold_is_blocked(alice: Any, bob: Any, settings: Any) -> None:
    settings.LINGJING_CROSSBORDER_PEOPLE_LIMIT = 2
    _abroad(alice)
    _abroad(alice)  # the same person again is not a new person
    with pytest.raises(DisclosureRefused) as caught:
        _abroad(bob)
    assert caught.value.code == "crossborder_limit"
    assert "标准合同" in caught.value.reason
    assert not SharingRecord.objects.filter(person=bob).exists()
    total = CrossBorderTally.objects.get(year=timezone.localdate().year, recipient=None)
    assert (total.people, total.records) == (1, 2)


def test_the_real_threshold_counts_from_a_bulk_created_tally(alice: Any) -> None:
    openai = Recipient.objects.get(slug="openai")
    year = timezone.localdate().year
    CrossBorderTally.objects.create(year=year, recipient=None, people=99_999)
    CrossBorderTally.objects.create(year=year, recipient=openai, people=99_999)
    with pytest.raises(DisclosureRefused) as caught:
        _abroad(alice)
    assert "100000" in caught.value.reason
    _mechanism(Mechanism.STANDARD_CONTRACT)
    _abroad(alice)
    assert CrossBorderTally.objects.get(year=year, recipient=None).people == 100_000
    assert CrossBorderTally.objects.get(year=year, recipient=openai).people == 100_000


def test_last_years_transfers_do_not_count(alice: Any, bob: Any, settings: Any) -> None:
    settings.LINGJING_CROSSBORDER_PEOPLE_LIMIT = 2
    CrossBorderTally.objects.create(year=timezone.localdate().year - 1, recipient=None, people=500_000)
    _abroad(alice)
    with pytest.raises(DisclosureRefused):
        _abroad(bob)


def test_a_childs_data_is_blocked_abroad_without_a_standard_contract(kid: Any) -> None:
    with pytest.raises(DisclosureRefused) as caught:
        _abroad(kid)
    assert caught.value.code == "child_abroad"
    assert "未成年人" in caught.value.reason
    _mechanism(Mechanism.STANDARD_CONTRACT)
    out = _abroad(kid)
    assert out.record.sensitive and out.record.child


def test_an_expired_mechanism_counts_as_none(kid: Any) -> None:
    _mechanism(Mechanism.STANDARD_CONTRACT, valid_until=timezone.localdate() - dt.timedelta(days=1))
    with pytest.raises(DisclosureRefused):
        _abroad(kid)


def test_sensitive_people_over_the_threshold_need_a_security_assessment(settings: Any) -> None:
    settings.LINGJING_CROSSBORDER_SENSITIVE_LIMIT = 2
    _mechanism(Mechanism.STANDARD_CONTRACT)
    first = make_user("kid1", birth=f"{timezone.localdate().year - 9}-03-03")
    second = make_user("kid2", birth=f"{timezone.localdate().year - 9}-04-04")
    _abroad(first)
    with pytest.raises(DisclosureRefused) as caught:
        _abroad(second)
    assert "安全评估" in caught.value.reason
    _mechanism(Mechanism.SECURITY_ASSESSMENT)
    _abroad(second)
    total = CrossBorderTally.objects.get(year=timezone.localdate().year, recipient=None)
    assert (total.people, total.sensitive_people) == (2, 2)


def test_domestic_recipients_are_not_counted(alice: Any) -> None:
    grant(alice, "recipient:deepseek")
    disclose(alice, "deepseek", ["content.script"], "content")
    assert not CrossBorderTally.objects.exists()
