"""Legal requests from authorities: the basis is recorded, a second member of staff decides, the gate sends."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.utils import timezone

from lingjing.sharing.actions import do_decide_legal_request, do_register_legal_request, do_save_recipient
from lingjing.sharing.models import LegalRequestStatus, Recipient, RecipientKind, RecipientRole, SharingRecord
from lingjing.sharing.tests.conftest import make_user

pytestmark = pytest.mark.django_db

LEGAL_PERMS = ("sharing.view_legalrequest", "sharing.add_legalrequest", "sharing.decide_legalrequest")


@pytest.fixture
def police(db: Any) -> Recipient:
    return do_save_recipient(Recipient(
        slug="hz-police-xihu", legal_name="杭州市公安局西湖区分局", contact="0571-00000000", country="CN",
        kind=RecipientKind.AUTHORITY, role=RecipientRole.CONTROLLER, legal_basis="legal_duty",
        purposes=["compliance"], categories=["identity.phone", "profile.nickname", "content.work"],
    ), acting_user=None)


@pytest.fixture
def officer(db: Any) -> Any:
    return make_user("officer1", staff=True, perms=LEGAL_PERMS)


@pytest.fixture
def second(db: Any) -> Any:
    return make_user("officer2", staff=True, perms=LEGAL_PERMS)


def _register(police: Recipient, officer: Any, person: Any, days: int = 0) -> Any:
    return do_register_legal_request(
        authority=police, reference_no="西公（刑）调证字〔2025〕123号", document_kind="调取证据通知书",
        legal_basis_text="《中华人民共和国刑事诉讼法》第五十四条", categories=["identity.phone", "profile.nickname"],
        people=[person], confidential_days=days, acting_user=officer,
    )


def test_the_registering_officer_cannot_approve_their_own_request(police: Any, officer: Any, alice: Any) -> None:
    req = _register(police, officer, alice)
    with pytest.raises(PermissionDenied):
        do_decide_legal_request(req, approve=True, note="同意", acting_user=officer)
    assert not SharingRecord.objects.exists()


def test_a_second_officer_approves_and_the_data_goes_through_the_gate(
    police: Any, officer: Any, second: Any, alice: Any, settings: Any
) -> None:
    req = _register(police, officer, alice)
    done = do_decide_legal_request(req, approve=True, note="手续齐全，同意提供", acting_user=second)
    assert done.status == LegalRequestStatus.DISCLOSED and done.decided_by == second
    row = SharingRecord.objects.get(person=alice)
    assert (row.legal_basis, row.flow, row.reference) == ("legal_duty", "legal_request", str(req.pk))
    assert sorted(row.categories) == ["identity.phone", "profile.nickname"]
    package = json.loads((Path(settings.EXPORTS_DIR) / "legal" / done.package_name).read_text())
    data = package["subjects"][0]["data"]
    assert [item["value"] for item in data["identity.phone"]] == [alice.phone]
    assert "identity.birth_date" not in data  # only the categories asked for


def test_rejection_sends_nothing(police: Any, officer: Any, second: Any, alice: Any) -> None:
    req = _register(police, officer, alice)
    done = do_decide_legal_request(req, approve=False, note="文书不全", acting_user=second)
    assert done.status == LegalRequestStatus.REJECTED
    assert not SharingRecord.objects.exists()
    with pytest.raises(ValidationError):
        do_decide_legal_request(req, approve=True, note="再批", acting_user=second)


def test_the_legal_basis_is_required(police: Any, officer: Any, alice: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        do_register_legal_request(authority=police, reference_no="X", document_kind="通知书", legal_basis_text=" ",
                                  categories=["identity.phone"], people=[alice], acting_user=officer)
    assert "legal_basis_text" in caught.value.message_dict


def test_a_confidential_request_shows_in_the_persons_log_only_later(
    police: Any, officer: Any, second: Any, alice: Any
) -> None:
    req = _register(police, officer, alice, days=30)
    do_decide_legal_request(req, approve=True, note="同意", acting_user=second)
    client = Client()
    client.force_login(alice)
    assert client.get("/api/v1/sharing/records").json()["items"] == []
    with time_machine.travel(timezone.now() + dt.timedelta(days=31)):
        client.force_login(alice)
        items = client.get("/api/v1/sharing/records").json()["items"]
    assert [i["recipient"]["slug"] for i in items] == ["hz-police-xihu"]


def test_staff_pages_register_and_decide(police: Any, officer: Any, second: Any, alice: Any) -> None:
    client = Client()
    client.force_login(officer)
    page = client.post("/privacy/sharing/legal/", {
        "authority": police.pk, "reference_no": "A-1", "document_kind": "调取证据通知书",
        "legal_basis_text": "《刑事诉讼法》第五十四条", "purpose": "compliance", "categories": ["identity.phone"],
        "people": alice.phone, "confidential_days": 0,
    })
    assert page.status_code == 302
    url = page["Location"]
    assert client.post(url, {"decision": "approve", "note": "自批"}).status_code == 403
    other = Client()
    other.force_login(second)
    assert other.post(url, {"decision": "approve", "note": "同意"}).status_code == 302
    assert SharingRecord.objects.filter(person=alice, legal_basis="legal_duty").count() == 1
    nobody = Client()
    nobody.force_login(alice)
    assert nobody.get(url).status_code == 404
