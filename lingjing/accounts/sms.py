"""SMS delivery behind one small interface, chosen by ``settings.LINGJING_SMS_BACKEND``.

* ``console`` (default): one JSON line per message in ``$LINGJING_DATA_DIR/outbox/sms.jsonl`` with ``to`` (E.164)
  and ``text`` (API-CONTRACT.md).
* ``aliyun``: Alibaba Cloud SMS (dysmsapi 2017-05-25) through its official SDK; the code template
  (``LINGJING_SMS_TEMPLATE``) receives ``{"code"}``, the notice template (``LINGJING_SMS_NOTICE_TEMPLATE``)
  receives ``{"text"}``.
* ``tencent``: Tencent Cloud SMS (2021-01-11) through its official SDK; the code template receives
  ``[code, minutes]``, the notice template ``[text]``.

Every message to a provider first passes the disclosure gate (:func:`gate_sms`): the provider is a processor
acting under contract (``aliyun-sms`` / ``tencent-sms`` in the sharing registry), so the basis is ``contract``,
never consent, and the person's sharing log gets a row. The console backend is local and discloses nothing.
Codes go out through :func:`lingjing.accounts.codes.request_code`, free text (service notices, policy changes,
security notices) through :func:`send_sms`.

Provider credentials come from the environment and are never logged. ``LINGJING_SMS_ENDPOINT`` points either SDK
at another endpoint (a private gateway, or the local fake server the tests run); ``http://`` selects plain HTTP.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from lingjing.core.outbox import append_jsonl

log = logging.getLogger("lingjing.sms")


class SmsDeliveryError(Exception):
    """The provider refused or could not be reached. The message holds no phone number or code."""


class SmsNoticeTemplateMissing(SmsDeliveryError):
    """A provider backend without ``LINGJING_SMS_NOTICE_TEMPLATE`` cannot send free text; retrying cannot help."""


# What a free-text SMS is about -> the purpose it is disclosed for (registered for the SMS processors).
SMS_CATEGORIES: dict[str, str] = {"notice": "notify", "security": "security", "account": "account"}


@dataclass(frozen=True)
class CodeMessage:
    to: str  # E.164
    code: str
    purpose: str
    text: str  # the full text, for backends that send free text (console); providers use their template
    ttl_minutes: int


class SmsBackend(Protocol):
    def send_code(self, message: CodeMessage) -> None: ...

    def send_text(self, to: str, text: str, *, category: str) -> None: ...


class ConsoleSmsBackend:
    def send_code(self, message: CodeMessage) -> None:
        append_jsonl("sms.jsonl", {"to": message.to, "text": message.text, "purpose": message.purpose})

    def send_text(self, to: str, text: str, *, category: str) -> None:
        append_jsonl("sms.jsonl", {"to": to, "text": text, "purpose": category})


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
        self._send(message.to, settings.LINGJING_SMS_TEMPLATE, {"code": message.code})

    def send_text(self, to: str, text: str, *, category: str) -> None:
        template = settings.LINGJING_SMS_NOTICE_TEMPLATE
        if not template:
            raise SmsNoticeTemplateMissing("aliyun: no notice template")
        self._send(to, template, {"text": text})

    def _send(self, to: str, template: str, params: dict[str, str]) -> None:
        from alibabacloud_dysmsapi20170525 import models as ali

        request = ali.SendSmsRequest(
            # dysmsapi takes the country code without "+" (mainland numbers may also go without it)
            phone_numbers=to.lstrip("+"),
            sign_name=settings.LINGJING_SMS_SIGN_NAME,
            template_code=template,
            template_param=json.dumps(params, ensure_ascii=False),
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
        self._send(message.to, settings.LINGJING_SMS_TEMPLATE, [message.code, str(message.ttl_minutes)])

    def send_text(self, to: str, text: str, *, category: str) -> None:
        template = settings.LINGJING_SMS_NOTICE_TEMPLATE
        if not template:
            raise SmsNoticeTemplateMissing("tencent: no notice template")
        self._send(to, template, [text])

    def _send(self, to: str, template: str, params: list[str]) -> None:
        from tencentcloud.sms.v20210111 import models as tc

        request = tc.SendSmsRequest()
        request.PhoneNumberSet = [to]
        request.SmsSdkAppId = settings.LINGJING_SMS_SDK_APP_ID
        request.SignName = settings.LINGJING_SMS_SIGN_NAME
        request.TemplateId = template
        request.TemplateParamSet = params
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


# --- through the disclosure gate --------------------------------------------------------------------------


def gate_sms(to: str, purpose: str, *, person: Any = None, flow: str, reference: str = "",
             acting_user: Any = None) -> Any:
    """Ask the disclosure gate before a number goes to the SMS provider; None for the local console backend.

    The provider is a processor under contract: the basis claimed is ``contract`` (a registry row changed to
    need consent makes the gate ask for it instead). ``person`` defaults to the account holding ``to``, if any,
    so the disclosure shows in their sharing log. Raises :class:`~lingjing.sharing.gate.DisclosureRefused`.
    """
    from lingjing.sharing.channels import sms_recipient
    from lingjing.sharing.gate import disclose

    recipient = sms_recipient()
    if recipient is None:
        return None
    if person is None:
        from lingjing.accounts.models import User
        from lingjing.security.crypto import blind_index

        person = User.objects.filter(phone_index=blind_index(to)).first()
    return disclose(person, recipient, ["identity.phone"], purpose, payload={"identity.phone": to},
                    legal_basis="contract", acting_user=acting_user, flow=flow, reference=reference)


def mark_failed(disclosure: Any, error: str) -> None:
    if disclosure is not None:
        from lingjing.sharing.gate import do_mark_failed

        do_mark_failed(disclosure, error=error)


def send_sms(to: str, text: str, *, category: str = "notice", person: Any = None, flow: str = "",
             reference: str = "", acting_user: Any = None) -> None:
    """Send one free-text SMS (a service notice, not a code) on the configured backend.

    ``category`` is what the message is about (``notice``, ``security``, ``account``: the disclosure's purpose).
    Raises :class:`SmsNoticeTemplateMissing` (provider without a notice template: nothing disclosed),
    :class:`~lingjing.sharing.gate.DisclosureRefused` (nothing sent) or :class:`SmsDeliveryError` (the provider
    failed; the disclosure is marked failed in the sharing log).
    """
    if category not in SMS_CATEGORIES:
        raise ValueError(f"unknown SMS category {category!r}")
    backend = get_backend()
    if not isinstance(backend, ConsoleSmsBackend) and not settings.LINGJING_SMS_NOTICE_TEMPLATE:
        raise SmsNoticeTemplateMissing(f"{settings.LINGJING_SMS_BACKEND}: no notice template")
    disclosure = gate_sms(to, SMS_CATEGORIES[category], person=person, flow=flow or f"sms.{category}",
                          reference=reference, acting_user=acting_user)
    try:
        backend.send_text(to, text, category=category)
    except SmsDeliveryError as exc:
        mark_failed(disclosure, str(exc))
        raise
