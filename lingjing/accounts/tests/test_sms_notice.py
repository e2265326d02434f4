"""Free-text SMS (service notices) on every backend, and the disclosure gate in front of every provider send."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client, RequestFactory

from lingjing.accounts.codes import SmsUnavailable, request_code
from lingjing.accounts.guardian import GUARDIAN_PROVEN_KEY, guardian_proven_phone
from lingjing.accounts.sms import SmsDeliveryError, SmsNoticeTemplateMissing, send_sms
from lingjing.accounts.tests.conftest import ALICE_PHONE, BOB_PHONE, sms
from lingjing.accounts.tests.test_sms_backends import FakeProvider, provider  # noqa: F401  (fixture)
from lingjing.sharing.gate import DisclosureRefused
from lingjing.sharing.models import Recipient, RecordStatus, SharingRecord

pytestmark = pytest.mark.django_db

NOTICE = "【灵境】您的工单有新回复，请登录查看。"


def _aliyun(settings: Any, endpoint: str, *, notice_template: str = "SMS_NOTICE_1") -> None:
    settings.LINGJING_SMS_BACKEND = "aliyun"
    settings.LINGJING_SMS_ENDPOINT = endpoint
    settings.LINGJING_SMS_ACCESS_KEY_ID = "LTAI-test-id"
    settings.LINGJING_SMS_ACCESS_KEY_SECRET = "test-secret"  # noqa: S105
    settings.LINGJING_SMS_TEMPLATE = "SMS_CODE_1"
    settings.LINGJING_SMS_NOTICE_TEMPLATE = notice_template
    FakeProvider.reply = {"Code": "OK", "Message": "OK", "BizId": "1", "RequestId": "r"}


def _tencent(settings: Any, endpoint: str) -> None:
    settings.LINGJING_SMS_BACKEND = "tencent"
    settings.LINGJING_SMS_ENDPOINT = endpoint
    settings.LINGJING_SMS_ACCESS_KEY_ID = "AKID-test"
    settings.LINGJING_SMS_ACCESS_KEY_SECRET = "tc-secret"  # noqa: S105
    settings.LINGJING_SMS_SDK_APP_ID = "1400006666"
    settings.LINGJING_SMS_TEMPLATE = "449739"
    settings.LINGJING_SMS_NOTICE_TEMPLATE = "550000"
    FakeProvider.reply = {"Response": {"SendStatusSet": [{"Code": "Ok", "PhoneNumber": ALICE_PHONE}],
                                       "RequestId": "r"}}


def test_console_writes_to_and_text_and_discloses_nothing(alice: Any) -> None:
    send_sms(ALICE_PHONE, NOTICE)
    assert [(m["to"], m["text"]) for m in sms()] == [(ALICE_PHONE, NOTICE)]
    assert not SharingRecord.objects.exists()
    with pytest.raises(ValueError, match="category"):
        send_sms(ALICE_PHONE, NOTICE, category="marketing")


def test_aliyun_sends_the_notice_template_with_the_text_and_logs_a_contract_disclosure(
    settings: Any, provider: str, alice: Any  # noqa: F811
) -> None:
    _aliyun(settings, provider)
    send_sms(ALICE_PHONE, NOTICE, flow="support.reply", reference="t-1")
    [req] = FakeProvider.requests
    params = {**req["query"], **req["form"]}
    assert params["TemplateCode"] == "SMS_NOTICE_1" and params["PhoneNumbers"] == "8613912340001"
    assert json.loads(params["TemplateParam"]) == {"text": NOTICE}
    row = SharingRecord.objects.get()
    assert row.person_id == alice.pk  # found by the number: the disclosure shows in alice's sharing log
    assert (row.recipient.slug, row.legal_basis, row.purpose, row.flow, row.reference) == (
        "aliyun-sms", "contract", "notify", "support.reply", "t-1")
    assert row.categories == ["identity.phone"] and row.status == RecordStatus.RELEASED
    assert sms() == []  # nothing on the console


def test_tencent_sends_the_notice_template_with_the_text(settings: Any, provider: str, alice: Any) -> None:  # noqa: F811
    _tencent(settings, provider)
    send_sms(ALICE_PHONE, NOTICE, category="security")
    [req] = FakeProvider.requests
    assert req["json"]["TemplateId"] == "550000" and req["json"]["TemplateParamSet"] == [NOTICE]
    row = SharingRecord.objects.get()
    assert (row.recipient.slug, row.legal_basis, row.purpose) == ("tencent-sms", "contract", "security")


def test_a_provider_without_a_notice_template_sends_and_discloses_nothing(
    settings: Any, provider: str, alice: Any  # noqa: F811
) -> None:
    _aliyun(settings, provider, notice_template="")
    with pytest.raises(SmsNoticeTemplateMissing):
        send_sms(ALICE_PHONE, NOTICE)
    assert FakeProvider.requests == [] and not SharingRecord.objects.exists()


def test_a_provider_failure_marks_the_disclosure_failed(settings: Any, provider: str, alice: Any) -> None:  # noqa: F811
    _aliyun(settings, provider)
    FakeProvider.reply = {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "limit", "RequestId": "r"}
    with pytest.raises(SmsDeliveryError):
        send_sms(ALICE_PHONE, NOTICE)
    assert SharingRecord.objects.get().status == RecordStatus.FAILED


def test_a_retired_provider_is_refused_before_anything_is_sent(settings: Any, provider: str, alice: Any) -> None:  # noqa: F811
    _aliyun(settings, provider)
    recipient = Recipient.objects.get(slug="aliyun-sms")
    recipient.active = False
    recipient.save()
    with pytest.raises(DisclosureRefused):
        send_sms(ALICE_PHONE, NOTICE)
    with pytest.raises(SmsUnavailable):  # codes too
        request_code(ALICE_PHONE, "login", ip="198.51.100.7")
    assert FakeProvider.requests == [] and not SharingRecord.objects.exists()


def test_one_time_codes_to_a_provider_pass_the_gate_for_known_and_unknown_numbers(
    settings: Any, provider: str, alice: Any  # noqa: F811
) -> None:
    _aliyun(settings, provider)
    request_code(ALICE_PHONE, "login", ip="198.51.100.8")
    request_code(BOB_PHONE, "register", ip="198.51.100.9")
    assert len(FakeProvider.requests) == 2
    rows = {row.person_id: row for row in SharingRecord.objects.all()}
    assert set(rows) == {alice.pk, None}  # bob has no account: a record without a person, same work
    for row in rows.values():
        assert (row.recipient.slug, row.legal_basis, row.purpose, row.flow) == (
            "aliyun-sms", "contract", "account", "accounts.code")


def test_one_time_codes_on_the_console_disclose_nothing(alice: Any) -> None:
    request_code(ALICE_PHONE, "login", ip="198.51.100.10")
    assert len(sms()) == 1 and not SharingRecord.objects.exists()


def test_the_proven_guardian_phone_helper(db: Any) -> None:
    import time

    request: Any = RequestFactory().get("/")
    request.session = {}
    assert guardian_proven_phone(request) is None
    request.session[GUARDIAN_PROVEN_KEY] = {"v": "+8613900139000", "t": time.time()}
    assert guardian_proven_phone(request) == "+8613900139000"
    request.session[GUARDIAN_PROVEN_KEY] = {"v": "+8613900139000", "t": time.time() - 601}
    assert guardian_proven_phone(request) is None  # ten minutes at most
    assert guardian_proven_phone(RequestFactory().get("/")) is None  # no session at all


def test_the_guardian_page_proves_the_number_and_links_to_the_childs_data(db: Any) -> None:
    from lingjing.accounts.tests.conftest import last_code

    guardian = "+8613900139001"
    browser = Client()
    assert "/children/guardian/" not in browser.get("/accounts/guardian/").content.decode()
    browser.post("/accounts/guardian/", {"action": "send_code", "phone": guardian})
    page = browser.post("/accounts/guardian/", {"action": "verify", "code": last_code(guardian)}, follow=True)
    assert 'href="/children/guardian/"' in page.content.decode()
    proven: Any = RequestFactory().get("/")
    proven.session = browser.session
    assert guardian_proven_phone(proven) == guardian
