"""Transfer to a processor the person names (PIPL art. 45(3); NDR art. 25), against a local HTTPS server whose
self-signed certificate the test trusts (and, in one test, does not)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import ipaddress
import json
import ssl
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from lingjing.privacy.actions import Requester, do_record_fee_paid, do_save_endpoint, submit_request
from lingjing.privacy.requests.models import RequestStatus, RightsRequest
from lingjing.privacy.requests.transfer import handshake_response, package_signature
from lingjing.privacy.tests.rights import make_officer, make_user

pytestmark = pytest.mark.django_db


def _certificate(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class Receiver:
    """What the receiving service saw."""

    def __init__(self) -> None:
        self.token = ""
        self.handshakes = 0
        self.packages: list[tuple[dict[str, str], bytes]] = []
        self.notices: list[dict[str, Any]] = []


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[str, Receiver, Path]]:
    state = Receiver()
    cert, key = _certificate(tmp_path)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            nonce = parse_qs(urlsplit(self.path).query).get("challenge", [""])[0]
            state.handshakes += 1
            body = json.dumps({"response": handshake_response(state.token, nonce)}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("X-Lingjing-Transfer") == "deletion":
                state.notices.append(json.loads(body))
            else:
                state.packages.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(201)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/lingjing-import", state, cert
    finally:
        server.shutdown()
        server.server_close()


def _transfer(user: Any, **params: Any) -> RightsRequest:
    req = submit_request(user, "transfer", requester=Requester(verification="step_up", acting_user=user),
                         params={"consent": True, "domestic": True, **params},
                         transfer_endpoint=params.get("endpoint", ""))
    return RightsRequest.objects.select_related("transfer").get(pk=req.pk)


def test_a_transfer_reaches_the_named_endpoint_after_the_token_handshake_over_verified_tls(
    receiver: tuple[str, Receiver, Path], settings: Any
) -> None:
    url, state, cert = receiver
    settings.LINGJING_TRANSFER_CA_BUNDLE = str(cert)
    alice = make_user("+8613900000001", "alice")
    bob = make_user("+8613900000002", "bob")
    req = submit_request(alice, "transfer", requester=Requester(verification="step_up", acting_user=alice),
                         params={"endpoint": url, "consent": True, "domestic": True}, transfer_endpoint=url)
    # The person gives the token to the receiving service before the push: done here by setting it.
    req = RightsRequest.objects.select_related("transfer").get(pk=req.pk)
    assert req.status == RequestStatus.AWAITING_REQUESTER  # the first push failed: the service did not know it
    assert req.transfer.last_error == "handshake_mismatch" and not state.packages
    state.token = req.transfer.token or ""
    from lingjing.privacy.actions import do_retry_transfer

    do_retry_transfer(req, acting_user=alice)
    req = RightsRequest.objects.select_related("transfer").get(pk=req.pk)
    assert req.status == RequestStatus.COMPLETED, (req.status, req.transfer.last_error)
    assert req.transfer.status == "delivered" and len(state.packages) == 1
    headers, body = state.packages[0]
    digest = hashlib.sha256(body).hexdigest()
    assert headers["x-lingjing-content-sha256"] == digest
    assert hmac.compare_digest(headers["x-lingjing-signature"], package_signature(state.token, req.reference, digest))
    data = json.loads(zipfile.ZipFile(io.BytesIO(body)).read("lingjing-copy/data.json"))
    assert {r["basis"] for r in data["records"]} <= {"consent", "contract"}  # NDR art. 25(2)
    assert any(r["value"] == alice.phone for r in data["records"])
    assert bob.phone not in body.decode("utf-8", errors="replace")
    conditions = req.result["conditions"]
    assert all(conditions[k] for k in ("identity_verified", "consented_or_contract_only", "technically_feasible",
                                       "no_harm_to_others"))
    from lingjing.sharing.models import SharingRecord

    record = SharingRecord.objects.get(person=alice, flow="rights.transfer")
    assert record.recipient.slug == "user-designated" and record.reference == str(req.pk)
    assert str(record.pk) == req.transfer.sharing_record_id


def test_an_endpoint_whose_certificate_is_not_trusted_receives_nothing(
    receiver: tuple[str, Receiver, Path], settings: Any
) -> None:
    url, state, _cert = receiver
    settings.LINGJING_TRANSFER_CA_BUNDLE = ""
    alice = make_user("+8613900000001", "alice")
    req = _transfer(alice, endpoint=url)
    assert req.status == RequestStatus.AWAITING_REQUESTER and req.transfer.last_error == "tls_failed"
    assert state.handshakes == 0 and not state.packages
    from lingjing.sharing.models import SharingRecord

    assert not SharingRecord.objects.filter(person=alice).exists()


def test_plain_http_endpoints_and_transfers_abroad_by_url_are_refused() -> None:
    from django.core.exceptions import ValidationError

    alice = make_user("+8613900000001", "alice")
    with pytest.raises(ValidationError):
        _transfer(alice, endpoint="http://127.0.0.1:9/x")
    with pytest.raises(ValidationError):
        submit_request(alice, "transfer", requester=Requester(verification="step_up", acting_user=alice),
                       params={"endpoint": "https://example.com/x", "consent": True},
                       transfer_endpoint="https://example.com/x")
    assert not RightsRequest.objects.filter(user=alice).exists()


def _registered(url: str) -> Any:
    from lingjing.sharing.actions import do_save_recipient
    from lingjing.sharing.models import Recipient, RecipientRole

    recipient = do_save_recipient(Recipient(
        slug="acme-anime", legal_name="某动漫平台有限公司", contact="privacy@acme.example", country="CN",
        role=RecipientRole.CONTROLLER, legal_basis="consent", purposes=["rights"],
        categories=["identity.phone", "profile.nickname", "content.work"],
    ), acting_user=None)
    officer = make_officer()
    do_save_endpoint(recipient.slug, url, acting_user=officer)
    return officer


def test_a_registered_recipient_gets_only_its_categories_and_transfers_beyond_the_free_count_cost_a_fee(
    receiver: tuple[str, Receiver, Path], settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    url, state, cert = receiver
    settings.LINGJING_TRANSFER_CA_BUNDLE = str(cert)
    settings.LINGJING_TRANSFER_FREE_PER_YEAR = 1
    officer = _registered(url)
    alice = make_user("+8613900000001", "alice")
    first = _transfer(alice, recipient="acme-anime")
    assert first.status == RequestStatus.COMPLETED and first.fee_fen == 0 and state.handshakes == 0
    data = json.loads(zipfile.ZipFile(io.BytesIO(state.packages[0][1])).read("lingjing-copy/data.json"))
    assert {r["category"] for r in data["records"]} <= {"identity.phone", "profile.nickname", "content.work"}
    second = _transfer(alice, recipient="acme-anime")
    assert second.fee_fen == settings.LINGJING_TRANSFER_FEE_FEN
    assert second.status == RequestStatus.AWAITING_REQUESTER and len(state.packages) == 1  # waits for the fee
    with django_capture_on_commit_callbacks(execute=True):
        do_record_fee_paid(second, acting_user=officer)
    second.refresh_from_db()
    assert second.status == RequestStatus.COMPLETED and len(state.packages) == 2
