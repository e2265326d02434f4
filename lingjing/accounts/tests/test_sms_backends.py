"""The provider backends through their official SDKs, against a fake endpoint on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from django.core.exceptions import ImproperlyConfigured

from lingjing.accounts.codes import SmsUnavailable, request_code
from lingjing.accounts.sms import CodeMessage, SmsDeliveryError, get_backend
from lingjing.accounts.tests.conftest import ALICE_PHONE, sms


class FakeProvider(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]] = []
    reply: dict[str, Any] = {}

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        url = urlparse(self.path)
        FakeProvider.requests.append({
            "method": self.command, "path": url.path, "query": {k: v[0] for k, v in parse_qs(url.query).items()},
            "form": {k: v[0] for k, v in parse_qs(body).items()} if "json" not in self.headers.get(
                "Content-Type", "") else {},
            "json": json.loads(body) if "json" in self.headers.get("Content-Type", "") and body else None,
            "headers": dict(self.headers),
        })
        payload = json.dumps(FakeProvider.reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _handle  # noqa: N815

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def provider() -> Iterator[str]:
    FakeProvider.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeProvider)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _message() -> CodeMessage:
    return CodeMessage(to=ALICE_PHONE, code="042917", purpose="login", text="…", ttl_minutes=5)


def test_aliyun_sends_template_phone_sign_and_code(settings: Any, provider: str) -> None:
    settings.LINGJING_SMS_BACKEND = "aliyun"
    settings.LINGJING_SMS_ENDPOINT = provider
    settings.LINGJING_SMS_ACCESS_KEY_ID = "LTAI-test-id"
    settings.LINGJING_SMS_ACCESS_KEY_SECRET = "test-secret"  # noqa: S105
    settings.LINGJING_SMS_SIGN_NAME = "灵境"
    settings.LINGJING_SMS_TEMPLATE = "SMS_123456789"
    FakeProvider.reply = {"Code": "OK", "Message": "OK", "BizId": "1", "RequestId": "r"}
    get_backend().send_code(_message())
    [req] = FakeProvider.requests
    params = {**req["query"], **req["form"]}
    headers = {k.lower(): v for k, v in req["headers"].items()}
    assert headers["x-acs-action"] == "SendSms" and headers["x-acs-version"] == "2017-05-25"
    assert params["PhoneNumbers"] == "8613912340001"
    assert params["SignName"] == "灵境"
    assert params["TemplateCode"] == "SMS_123456789"
    assert json.loads(params["TemplateParam"]) == {"code": "042917"}
    assert headers["authorization"].startswith("ACS3-HMAC-SHA256 Credential=LTAI-test-id,")  # signed by the SDK
    assert "test-secret" not in json.dumps(req)


def test_aliyun_refusal_is_a_delivery_error(settings: Any, provider: str) -> None:
    settings.LINGJING_SMS_BACKEND = "aliyun"
    settings.LINGJING_SMS_ENDPOINT = provider
    settings.LINGJING_SMS_ACCESS_KEY_ID = "id"
    settings.LINGJING_SMS_ACCESS_KEY_SECRET = "secret"  # noqa: S105
    settings.LINGJING_SMS_TEMPLATE = "SMS_1"
    FakeProvider.reply = {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "limit", "RequestId": "r"}
    with pytest.raises(SmsDeliveryError) as err:
        get_backend().send_code(_message())
    assert "042917" not in str(err.value) and "13912340001" not in str(err.value)


def test_tencent_sends_template_phone_sign_and_code(settings: Any, provider: str) -> None:
    settings.LINGJING_SMS_BACKEND = "tencent"
    settings.LINGJING_SMS_ENDPOINT = provider
    settings.LINGJING_SMS_ACCESS_KEY_ID = "AKID-test"
    settings.LINGJING_SMS_ACCESS_KEY_SECRET = "tc-secret"  # noqa: S105
    settings.LINGJING_SMS_SDK_APP_ID = "1400006666"
    settings.LINGJING_SMS_SIGN_NAME = "灵境"
    settings.LINGJING_SMS_TEMPLATE = "449739"
    FakeProvider.reply = {"Response": {"SendStatusSet": [{"Code": "Ok", "Message": "send success",
                                                          "PhoneNumber": ALICE_PHONE}], "RequestId": "r"}}
    get_backend().send_code(_message())
    [req] = FakeProvider.requests
    body = req["json"]
    assert req["headers"]["X-TC-Action"] == "SendSms" and req["headers"]["X-TC-Version"] == "2021-01-11"
    assert body["PhoneNumberSet"] == [ALICE_PHONE]
    assert body["SmsSdkAppId"] == "1400006666"
    assert body["SignName"] == "灵境"
    assert body["TemplateId"] == "449739"
    assert body["TemplateParamSet"] == ["042917", "5"]
    assert req["headers"]["Authorization"].startswith("TC3-HMAC-SHA256 Credential=AKID-test/")
    assert "tc-secret" not in json.dumps(req)


@pytest.mark.django_db
def test_a_provider_failure_is_reported_and_nothing_reaches_the_console(settings: Any, provider: str) -> None:
    settings.LINGJING_SMS_BACKEND = "tencent"
    settings.LINGJING_SMS_ENDPOINT = provider
    settings.LINGJING_SMS_ACCESS_KEY_ID = "AKID"
    settings.LINGJING_SMS_ACCESS_KEY_SECRET = "s"  # noqa: S105
    settings.LINGJING_SMS_SDK_APP_ID = "1400006666"
    settings.LINGJING_SMS_TEMPLATE = "1"
    FakeProvider.reply = {"Response": {"SendStatusSet": [{"Code": "LimitExceeded.PhoneNumberDailyLimit"}],
                                       "RequestId": "r"}}
    with pytest.raises(SmsUnavailable):
        request_code(ALICE_PHONE, "login", ip="198.51.100.1")
    assert sms() == []


def test_provider_backends_need_their_settings(settings: Any) -> None:
    settings.LINGJING_SMS_BACKEND = "aliyun"
    settings.LINGJING_SMS_ACCESS_KEY_ID = ""
    with pytest.raises(ImproperlyConfigured, match="LINGJING_SMS_ACCESS_KEY_ID"):
        get_backend()
