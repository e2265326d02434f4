"""The outward channels: email (Django's mail API), SMS (``lingjing.accounts.sms.send_sms``) and the push webhook.

Each sender takes one :class:`~lingjing.notify.models.Delivery` and either returns or raises:

* :class:`PermanentFailure` — retrying cannot help (the disclosure gate refused, the address is gone, the
  provider rejected the request as invalid, marketing consent was withdrawn meanwhile);
* any other exception — a transient failure (network, provider outage); ``delivery`` retries with back-off.

Before anything leaves the machine to a provider, the disclosure gate (``lingjing.sharing.gate.disclose``) is
asked and records the disclosure in the person's sharing log (``sharing.channels`` names the recipient behind
each channel; the console backends are local and disclose nothing). A send that fails after the gate released
the data is marked failed in the sharing log too.

Push: ``POST`` of a JSON object to ``LINGJING_PUSH_WEBHOOK_URL`` (a push gateway that maps the pseudonymous
``to`` to the person's devices), signed with HMAC-SHA256 under ``LINGJING_PUSH_WEBHOOK_SECRET``:
``X-Lingjing-Signature: sha256=<hex(HMAC(secret, timestamp + "." + body))>`` and ``X-Lingjing-Timestamp``.
The gateway is a recipient like any other (``LINGJING_PUSH_RECIPIENT``; ``self-hosted`` when it runs on our own
machines).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx
from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from lingjing.notify.models import Channel, Delivery

PUSH_TIMEOUT = 10.0


class PermanentFailure(Exception):
    """Retrying will not help. The message is a short code, never content or an address."""


def _person(delivery: Delivery) -> Any:
    if not delivery.subject_ref.startswith("u:"):
        return None
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(pk=delivery.subject_ref[2:]).first()


def _gate(delivery: Delivery, person: Any, recipient: str | None, category: str) -> Any:
    """Ask the disclosure gate; None when the channel is local."""
    if recipient is None:
        return None
    from lingjing.sharing.gate import DisclosureRefused, disclose

    try:
        return disclose(person, recipient, [category], "notify", flow=f"notify.{delivery.channel}",
                        reference=str(delivery.pk))
    except DisclosureRefused as exc:
        raise PermanentFailure(f"refused:{exc.code}") from None


def _mark_failed(disclosure: Any, error: str) -> None:
    if disclosure is not None:
        from lingjing.sharing.gate import do_mark_failed

        do_mark_failed(disclosure, error=error)


# --- email ------------------------------------------------------------------------------------------------


def _email_message(delivery: Delivery, person: Any, address: str) -> EmailMultiAlternatives:
    subject = f"【灵境】{delivery.title}" if not delivery.language.startswith("en") else f"[Lingjing] {delivery.title}"
    if person is None:
        return EmailMultiAlternatives(subject, delivery.body or "", to=[address])
    from lingjing.consent.email import build_tracked_email

    message = build_tracked_email(person, subject, delivery.body or "", "", delivery.category, to=address)
    if message is None:  # marketing consent withdrawn since the message was queued
        raise PermanentFailure("no_consent")
    return message


def send_email(delivery: Delivery) -> None:
    from lingjing.sharing.channels import email_recipient

    address = delivery.to_email or ""
    if not address:
        raise PermanentFailure("no_address")
    person = _person(delivery)
    message = _email_message(delivery, person, address)
    disclosure = _gate(delivery, person, email_recipient(), "identity.email")
    try:
        message.send()
    except Exception as exc:
        _mark_failed(disclosure, type(exc).__name__)
        raise


# --- SMS --------------------------------------------------------------------------------------------------


def send_sms(delivery: Delivery) -> None:
    """Through :func:`lingjing.accounts.sms.send_sms`, which asks the disclosure gate (SMS processor, contract)
    and sends the text on the configured backend (a provider's generic notice template)."""
    from lingjing.accounts.sms import SmsDeliveryError, SmsNoticeTemplateMissing
    from lingjing.accounts.sms import send_sms as send_text_sms
    from lingjing.consent.email import site_url
    from lingjing.sharing.gate import DisclosureRefused

    phone = delivery.to_phone or ""
    if not phone:
        raise PermanentFailure("no_phone")
    person = _person(delivery)
    prefix = "[Lingjing]" if delivery.language.startswith("en") else "【灵境】"
    link = f" {site_url()}{delivery.url}" if delivery.url.startswith("/") else ""
    try:
        send_text_sms(phone, f"{prefix}{delivery.title}{link}", category="notice", person=person,
                      flow=f"notify.{delivery.channel}", reference=str(delivery.pk))
    except SmsNoticeTemplateMissing:
        raise PermanentFailure("sms_notice_template_missing") from None
    except DisclosureRefused as exc:
        raise PermanentFailure(f"refused:{exc.code}") from None
    except SmsDeliveryError as exc:
        raise RuntimeError(str(exc)) from None


# --- push webhook -----------------------------------------------------------------------------------------


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def push_payload(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": str(delivery.pk),
        "to": delivery.subject_ref,
        "category": delivery.category,
        "template": delivery.template,
        "language": delivery.language,
        "title": delivery.title or "",
        "body": delivery.body or "",
        "url": delivery.url,
    }


def send_push(delivery: Delivery) -> None:
    url = settings.LINGJING_PUSH_WEBHOOK_URL
    if not url:
        raise PermanentFailure("push_not_configured")
    recipient = settings.LINGJING_PUSH_RECIPIENT
    person = _person(delivery)
    disclosure = _gate(delivery, person, None if recipient == "self-hosted" else recipient, "identity.account")
    body = json.dumps(push_payload(delivery), ensure_ascii=False, separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "X-Lingjing-Timestamp": timestamp,
        "X-Lingjing-Signature": sign(settings.LINGJING_PUSH_WEBHOOK_SECRET, timestamp, body),
        "X-Lingjing-Delivery": str(delivery.pk),
    }
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=PUSH_TIMEOUT)
    except httpx.HTTPError as exc:
        _mark_failed(disclosure, type(exc).__name__)
        raise RuntimeError(f"push: {type(exc).__name__}") from None
    if response.is_success:
        return
    _mark_failed(disclosure, f"http_{response.status_code}")
    if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
        raise PermanentFailure(f"push_http_{response.status_code}")
    raise RuntimeError(f"push: http {response.status_code}")


SENDERS = {Channel.EMAIL: send_email, Channel.SMS: send_sms, Channel.PUSH: send_push}


def send(delivery: Delivery) -> None:
    sender = SENDERS.get(Channel(delivery.channel)) if delivery.channel in Channel.values else None
    if sender is None:
        raise PermanentFailure(f"unknown_channel:{delivery.channel}")
    sender(delivery)
