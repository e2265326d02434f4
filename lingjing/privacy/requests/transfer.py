"""Transfer of a person's data to a processor they name (PIPL art. 45(3); NDR art. 25; policy 五(六)).

What is sent: the copy package (``package.py``), limited to the data the person consented to or that was collected
for their contract (NDR art. 25(2)) and to the categories the recipient is registered for.

Who receives it, and how we know it is them (identity over HTTPS, certificates verified against the system's CAs
plus ``LINGJING_TRANSFER_CA_BUNDLE``):

* a **registered recipient**: in the sharing registry, registered for the ``rights`` purpose, with a transfer
  endpoint staff recorded (:class:`~lingjing.privacy.requests.models.PortabilityEndpoint`). Its identity is the
  registry entry plus the TLS certificate of that endpoint's host.
* an **endpoint the person names**: any HTTPS URL in China, proven by a token handshake. We show the person a
  one-time token; they give it to the receiving service (e.g. paste it into their account there). Before anything
  is sent we ``GET <endpoint>?challenge=<nonce>`` (header ``X-Lingjing-Transfer: handshake``) and the service must
  answer ``{"response": hex(HMAC-SHA256(token, "lingjing-transfer-handshake|" + nonce))}``: only the service the
  person gave the token to can. The recipient of record is the registry's ``user-designated`` entry (created on
  first use) and the person's transfer request is their separate consent to it (PIPL art. 23).

The push: ``POST <endpoint>`` with the zip as the body (streamed from disk), ``Content-Type: application/zip`` and
headers ``X-Lingjing-Transfer: package``, ``X-Lingjing-Request`` (the request reference), ``X-Lingjing-Content-
SHA256`` and ``X-Lingjing-Signature`` (HMAC-SHA256 of ``"lingjing-transfer-package|" + reference + "|" + sha256``
under the token, so the service can attach the package to the right account). A 2xx answer is delivery.

Before anything leaves, the disclosure gate (``sharing.gate.disclose``) is asked, so the transfer is checked like
every outward flow and written to the person's sharing log; a failed delivery is marked there too. The four
conditions of NDR art. 25 are recorded on the request: (1) identity verified (a fresh code), (2) consented or
contractual data only, (3) technically feasible (TLS, handshake and delivery succeeded), (4) no one else's rights
harmed (the package holds only the person's own rows, selected through the registry's subject paths).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError

USER_DESIGNATED = "user-designated"
HANDSHAKE_LABEL = "lingjing-transfer-handshake|"
PACKAGE_LABEL = "lingjing-transfer-package|"
CONSENTED_BASES = ("consent", "contract")


class TransferFailed(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def clean_endpoint(url: str) -> str:
    """An HTTPS URL without credentials or fragment; ValidationError otherwise."""
    value = (url or "").strip()
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        raise ValidationError("接收地址必须是 https:// 开头的网址", code="endpoint_https")
    if parts.username or parts.password or parts.fragment:
        raise ValidationError("接收地址不能包含用户名、密码或 # 片段", code="endpoint_form")
    if len(value) > 300:
        raise ValidationError("接收地址过长", code="endpoint_long")
    return value


def new_handshake_token() -> str:
    return secrets.token_urlsafe(24)


def handshake_response(token: str, nonce: str) -> str:
    return hmac.new(token.encode(), (HANDSHAKE_LABEL + nonce).encode(), hashlib.sha256).hexdigest()


def package_signature(token: str, reference: str, sha256: str) -> str:
    return hmac.new(token.encode(), f"{PACKAGE_LABEL}{reference}|{sha256}".encode(), hashlib.sha256).hexdigest()


def tls_context() -> ssl.SSLContext:
    """System CAs, plus the deployment's extra bundle; hostname checking on, TLS 1.2 at least."""
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if settings.LINGJING_TRANSFER_CA_BUNDLE:
        context.load_verify_locations(cafile=settings.LINGJING_TRANSFER_CA_BUNDLE)
    return context


def _client() -> httpx.Client:
    return httpx.Client(verify=tls_context(), timeout=settings.LINGJING_TRANSFER_TIMEOUT, follow_redirects=False,
                        trust_env=False)


def verify_endpoint(url: str, token: str) -> None:
    """The token handshake: raises :class:`TransferFailed` unless the endpoint proves it holds the token."""
    nonce = secrets.token_hex(16)
    separator = "&" if urlsplit(url).query else "?"
    try:
        with _client() as client:
            answer = client.get(url + separator + urlencode({"challenge": nonce}),
                                headers={"X-Lingjing-Transfer": "handshake"})
    except httpx.ConnectError as exc:
        raise TransferFailed("tls_failed" if "CERTIFICATE" in str(exc).upper() else "unreachable") from None
    except httpx.HTTPError:
        raise TransferFailed("unreachable") from None
    if answer.status_code != 200:
        raise TransferFailed("handshake_refused")
    try:
        response = json.loads(answer.content).get("response", "")
    except (ValueError, AttributeError):
        raise TransferFailed("handshake_invalid") from None
    if not isinstance(response, str) or not hmac.compare_digest(response, handshake_response(token, nonce)):
        raise TransferFailed("handshake_mismatch")


def _stream(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        yield from iter(lambda: handle.read(1 << 20), b"")


def push(url: str, path: Path, *, reference: str, sha256: str, token: str) -> None:
    headers = {
        "Content-Type": "application/zip",
        "X-Lingjing-Transfer": "package",
        "X-Lingjing-Request": reference,
        "X-Lingjing-Content-SHA256": sha256,
        "Content-Length": str(path.stat().st_size),
    }
    if token:
        headers["X-Lingjing-Signature"] = package_signature(token, reference, sha256)
    try:
        with _client() as client:
            answer = client.post(url, content=_stream(path), headers=headers)
    except httpx.ConnectError as exc:
        raise TransferFailed("tls_failed" if "CERTIFICATE" in str(exc).upper() else "unreachable") from None
    except httpx.HTTPError:
        raise TransferFailed("delivery_failed") from None
    if not 200 <= answer.status_code < 300:
        raise TransferFailed(f"recipient_{answer.status_code}")


def ensure_user_designated_recipient() -> Any:
    """The registry entry that stands for "a processor the person names" (created once, then staff's to keep)."""
    from lingjing.privacy.registry import CATEGORIES
    from lingjing.sharing.actions import do_save_recipient
    from lingjing.sharing.models import Recipient, RecipientRole

    existing = Recipient.objects.filter(slug=USER_DESIGNATED).first()
    if existing is not None:
        return existing
    return do_save_recipient(Recipient(
        slug=USER_DESIGNATED,
        legal_name="您指定的其他个人信息处理者（个人信息转移）",
        legal_name_en="A processor you name (data portability)",
        contact="由您在转移请求中指定的接收地址；我们通过 HTTPS 证书和一次性令牌核实接收方",
        country="CN",
        role=RecipientRole.CONTROLLER,
        legal_basis="consent",
        purposes=["rights"],
        categories=list(CATEGORIES),
        processing_zh="按您的要求，将您的个人信息副本直接传输给您指定的接收方（《个人信息保护法》第四十五条）",
        processing_en="Sends a copy of your personal data straight to the service you name (PIPL art. 45)",
    ), acting_user=None)


@dataclass
class Conditions:
    """NDR art. 25, as checked for one transfer."""

    identity_verified: bool = False
    consented_or_contract_only: bool = True
    technically_feasible: bool = False
    no_harm_to_others: bool = True

    def as_dict(self) -> dict[str, bool]:
        return {
            "identity_verified": self.identity_verified,
            "consented_or_contract_only": self.consented_or_contract_only,
            "technically_feasible": self.technically_feasible,
            "no_harm_to_others": self.no_harm_to_others,
        }


def run_transfer(request_id: str) -> str:
    """Carry out one transfer request (the ``push_transfer`` task). Answers the outcome code."""
    from django.utils import timezone

    from lingjing.privacy.actions import do_record_transfer_outcome
    from lingjing.privacy.requests.models import RequestStatus, RightsRequest, TransferMode
    from lingjing.privacy.requests.package import build_package, delete_package, local_path, package_name_for
    from lingjing.sharing.gate import DisclosureRefused, disclose, do_mark_failed
    from lingjing.sharing.models import Recipient

    req = RightsRequest.objects.select_related("user", "transfer").filter(pk=request_id).first()
    if req is None or req.status != RequestStatus.IN_PROGRESS or req.user is None:
        return "skipped"
    if req.fee_fen and req.fee_paid_at is None:
        return "awaiting_fee"
    target = req.transfer
    if target.status == "delivered":
        return "already_delivered"
    conditions = Conditions(identity_verified=req.verification in ("step_up", "sms_code", "guardian", "staff"))
    if not conditions.identity_verified:
        do_record_transfer_outcome(req, delivered=False, error="identity_unverified", conditions=conditions.as_dict())
        return "identity_unverified"
    user = req.user
    token = target.token or ""
    if target.mode == TransferMode.ENDPOINT:
        recipient = ensure_user_designated_recipient()
        url = target.endpoint or ""
        try:
            verify_endpoint(url, token)
        except TransferFailed as exc:
            do_record_transfer_outcome(req, delivered=False, error=exc.code, conditions=conditions.as_dict())
            return exc.code
    else:
        from lingjing.privacy.requests.models import PortabilityEndpoint

        endpoint = PortabilityEndpoint.objects.filter(recipient_slug=target.recipient_slug, active=True).first()
        recipient = Recipient.objects.filter(slug=target.recipient_slug, active=True).first()
        if endpoint is None or recipient is None:
            do_record_transfer_outcome(req, delivered=False, error="recipient_unavailable",
                                       conditions=conditions.as_dict())
            return "recipient_unavailable"
        url = endpoint.url
    _record_consent(req, recipient)
    allowed = set(recipient.categories)

    def keep(record: Any) -> bool:
        return record["basis"] in CONSENTED_BASES and record["category"] in allowed

    name = package_name_for(f"{req.pk}-transfer")
    path = local_path(name)
    try:
        info = build_package(user, path, record_filter=keep, title="个人信息转移副本", request_ref=req.reference)
        try:
            disclosure = disclose(user, recipient, info.categories or ["identity.account"], "rights",
                                  acting_user=None, flow="rights.transfer", reference=str(req.pk))
        except DisclosureRefused as exc:
            do_record_transfer_outcome(req, delivered=False, error=exc.code, conditions=conditions.as_dict())
            return exc.code
        try:
            push(url, path, reference=req.reference, sha256=info.sha256, token=token)
        except TransferFailed as exc:
            do_mark_failed(disclosure, error=exc.code)
            do_record_transfer_outcome(req, delivered=False, error=exc.code, conditions=conditions.as_dict())
            return exc.code
        conditions.technically_feasible = True
        do_record_transfer_outcome(req, delivered=True, bytes_sent=info.size,
                                   sharing_record_id=str(disclosure.record.pk),
                                   conditions={**conditions.as_dict(), "records": info.records,
                                               "at": timezone.now().isoformat()})
        return "delivered"
    finally:
        delete_package(name)


def _record_consent(req: Any, recipient: Any) -> None:
    """The transfer request is the person's separate consent to this recipient (PIPL art. 23): recorded in the
    consent app, to the notice in force, when the recipient needs consent and it is not yet in force."""
    from lingjing.sharing.consent_link import consent_in_force

    if not recipient.needs_consent or consent_in_force(req.user, recipient):
        return
    from lingjing.consent.actions import ConsentError, do_set_consent

    try:
        do_set_consent(req.user, recipient.consent_key, True, method="api" if req.channel == "api" else "settings",
                       acting_user=req.user)
    except ConsentError:
        return  # the purpose is retired: the gate refuses, and the request says why
