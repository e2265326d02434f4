"""SMS delivery behind one small interface, chosen by ``settings.LINGJING_SMS_BACKEND``.

* ``console`` (default): one JSON line per message in ``$LINGJING_DATA_DIR/outbox/sms.jsonl`` with ``to`` (E.164)
  and ``text`` (API-CONTRACT.md).
* ``aliyun``: Alibaba Cloud SMS (dysmsapi 2017-05-25) through its official SDK; the template receives ``{"code"}``.
* ``tencent``: Tencent Cloud SMS (2021-01-11) through its official SDK; the template receives ``[code, minutes]``.

Provider credentials come from the environment and are never logged. ``LINGJING_SMS_ENDPOINT`` points either SDK
at another endpoint (a private gateway, or the local fake server the tests run); ``http://`` selects plain HTTP.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from lingjing.core.outbox import append_jsonl

log = logging.getLogger("lingjing.sms")


class SmsDeliveryError(Exception):
    """The provider refused or could not be reached. The message holds no phone number or code."""


@dataclass(frozen=True)
class CodeMessage:
    to: str  # E.164
    code: str
    purpose: str
    text: str  # the full text, for backends that send free text (console); providers use their template
    ttl_minutes: int


class SmsBackend(Protocol):
    def send_code(self, message: CodeMessage) -> None: ...


class ConsoleSmsBackend:
    def send_code(self, message: CodeMessage) -> None:
        append_jsonl("sms.jsonl", {"to": message.to, "text": message.text, "purpose": message.purpose})


def _endpoint() -> tuple[str | None, str]:
    """(host[:port] or None, protocol) from ``LINGJING_SMS_ENDPOINT``."""
    raw = settings.LINGJING_SMS_ENDPOINT.strip()
    if not raw:
        return None, "https"
    if raw.startswith("http://"):
        return raw[len("http://"):].rstrip("/"), "http"
    if raw.startswith("https://"):
        return raw[len("https://"):].rstrip("/"), "https"
    return raw.rstrip("/"), "https"


def _require(*names: str) -> None:
    missing = [n for n in names if not getattr(settings, n, "")]
    if missing:
        raise ImproperlyConfigured(
            f"LINGJING_SMS_BACKEND={settings.LINGJING_SMS_BACKEND} needs {', '.join(missing)}"
        )


class AliyunSmsBackend:
    """Alibaba Cloud dysmsapi ``SendSms``."""

    def __init__(self) -> None:
        _require("LINGJING_SMS_ACCESS_KEY_ID", "LINGJING_SMS_ACCESS_KEY_SECRET", "LINGJING_SMS_SIGN_NAME",
                 "LINGJING_SMS_TEMPLATE")

    def _client(self) -> object:
        from alibabacloud_dysmsapi20170525.client import Client
        from alibabacloud_tea_openapi.utils_models import Config

        host, protocol = _endpoint()
        config = Config(
            access_key_id=settings.LINGJING_SMS_ACCESS_KEY_ID,
            access_key_secret=settings.LINGJING_SMS_ACCESS_KEY_SECRET,
            endpoint=host or "dysmsapi.aliyuncs.com",
            protocol=protocol,
            connect_timeout=5000,
            read_timeout=10000,
        )
        return Client(config)

    def send_code(self, message: CodeMessage) -> None:
        from alibabacloud_dysmsapi20170525 import models as ali

        request = ali.SendSmsRequest(
            # dysmsapi takes the country code without "+" (mainland numbers may also go without it)
            phone_numbers=message.to.lstrip("+"),
            sign_name=settings.LINGJING_SMS_SIGN_NAME,
            template_code=settings.LINGJING_SMS_TEMPLATE,
            template_param=json.dumps({"code": message.code}),
        )
        try:
            response = self._client().send_sms(request)  # type: ignore[attr-defined]
        except Exception as exc:
            log.warning("aliyun SMS request failed: %s", type(exc).__name__)
            raise SmsDeliveryError(f"aliyun: {type(exc).__name__}") from None
        body = getattr(response, "body", None)
        code = getattr(body, "code", None)
        if code != "OK":
            log.warning("aliyun SMS refused: %s", code)
            raise SmsDeliveryError(f"aliyun: {code}")


class TencentSmsBackend:
    """Tencent Cloud SMS ``SendSms`` (API 2021-01-11)."""

    def __init__(self) -> None:
        _require("LINGJING_SMS_ACCESS_KEY_ID", "LINGJING_SMS_ACCESS_KEY_SECRET", "LINGJING_SMS_SDK_APP_ID",
                 "LINGJING_SMS_TEMPLATE")

    def _client(self) -> object:
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.sms.v20210111 import sms_client

        host, protocol = _endpoint()
        http = HttpProfile(endpoint=host or "sms.tencentcloudapi.com", protocol=protocol, reqTimeout=10)
        cred = credential.Credential(settings.LINGJING_SMS_ACCESS_KEY_ID, settings.LINGJING_SMS_ACCESS_KEY_SECRET)
        return sms_client.SmsClient(cred, settings.LINGJING_SMS_REGION, ClientProfile(httpProfile=http))

    def send_code(self, message: CodeMessage) -> None:
        from tencentcloud.sms.v20210111 import models as tc

        request = tc.SendSmsRequest()
        request.PhoneNumberSet = [message.to]
        request.SmsSdkAppId = settings.LINGJING_SMS_SDK_APP_ID
        request.SignName = settings.LINGJING_SMS_SIGN_NAME
        request.TemplateId = settings.LINGJING_SMS_TEMPLATE
        request.TemplateParamSet = [message.code, str(message.ttl_minutes)]
        try:
            response = self._client().SendSms(request)  # type: ignore[attr-defined]
        except Exception as exc:
            log.warning("tencent SMS request failed: %s", type(exc).__name__)
            raise SmsDeliveryError(f"tencent: {type(exc).__name__}") from None
        statuses = list(getattr(response, "SendStatusSet", None) or [])
        code = getattr(statuses[0], "Code", None) if statuses else None
        if code != "Ok":
            log.warning("tencent SMS refused: %s", code)
            raise SmsDeliveryError(f"tencent: {code}")


BACKENDS: dict[str, type[ConsoleSmsBackend | AliyunSmsBackend | TencentSmsBackend]] = {
    "console": ConsoleSmsBackend,
    "aliyun": AliyunSmsBackend,
    "tencent": TencentSmsBackend,
}


def get_backend() -> SmsBackend:
    name = settings.LINGJING_SMS_BACKEND
    try:
        return BACKENDS[name]()
    except KeyError:
        raise ImproperlyConfigured(f"unknown LINGJING_SMS_BACKEND {name!r}") from None
