"""The SMS channel sends through the accounts SMS service: a provider's notice template, behind the gate."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lingjing.accounts.tests.test_sms_backends import FakeProvider, provider  # noqa: F401  (fixture)
from lingjing.notify.models import Delivery
from lingjing.notify.service import notify
from lingjing.notify.tests.conftest import make_user
from lingjing.sharing.models import SharingRecord

pytestmark = pytest.mark.django_db

INCIDENT = {"what": "日志服务器被未经授权访问。", "impact": "昵称可能被获取。", "measures": "已更换密钥。",
            "advice": "不要透露验证码。", "remedies": "可通过客服申请协助。"}


def _aliyun(settings: Any, endpoint: str, notice_template: str) -> None:
    settings.LINGJING_SMS_BACKEND = "aliyun"
    settings.LINGJING_SMS_ENDPOINT = endpoint
    settings.LINGJING_SMS_ACCESS_KEY_ID = "LTAI-test-id"
    settings.LINGJING_SMS_ACCESS_KEY_SECRET = "test-secret"  # noqa: S105
    settings.LINGJING_SMS_TEMPLATE = "SMS_CODE_1"
    settings.LINGJING_SMS_NOTICE_TEMPLATE = notice_template
    FakeProvider.reply = {"Code": "OK", "Message": "OK", "BizId": "1", "RequestId": "r"}


def test_an_sms_notice_goes_through_the_notice_template_and_the_gate(
    settings: Any, provider: str, django_capture_on_commit_callbacks: Any  # noqa: F811
) -> None:
    _aliyun(settings, provider, "SMS_NOTICE_9")
    alice = make_user("alice")
    with django_capture_on_commit_callbacks(execute=True):
        notify(alice, "security", "security.incident", INCIDENT, channels=["sms"])
    delivery = Delivery.objects.get(subject_ref=f"u:{alice.pk}", channel="sms")
    assert delivery.status == "sent"
    [req] = FakeProvider.requests
    params = {**req["query"], **req["form"]}
    assert params["TemplateCode"] == "SMS_NOTICE_9"
    assert "个人信息安全事件告知" in json.loads(params["TemplateParam"])["text"]
    row = SharingRecord.objects.get(person=alice)
    assert (row.recipient.slug, row.legal_basis, row.purpose, row.flow, row.reference) == (
        "aliyun-sms", "contract", "notify", "notify.sms", str(delivery.pk))


def test_without_a_notice_template_the_sms_fails_for_good_and_nothing_is_disclosed(
    settings: Any, provider: str, django_capture_on_commit_callbacks: Any  # noqa: F811
) -> None:
    _aliyun(settings, provider, "")
    alice = make_user("alice")
    with django_capture_on_commit_callbacks(execute=True):
        notify(alice, "security", "security.incident", INCIDENT, channels=["sms"])
    delivery = Delivery.objects.get(subject_ref=f"u:{alice.pk}", channel="sms")
    assert delivery.status == "failed" and FakeProvider.requests == []
    assert not SharingRecord.objects.filter(person=alice).exists()
