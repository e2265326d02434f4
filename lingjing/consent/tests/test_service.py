from __future__ import annotations

from typing import Any

import pytest
from django.test import RequestFactory

from lingjing.consent.actions import do_set_consent
from lingjing.consent.models import ConsentRecord, Method
from lingjing.consent.policy import current_policy_version, record_policy_acceptance
from lingjing.consent.service import has_consent

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("+8613800000001", nickname="alice")


def test_withdrawing_search_history_consent_is_effective_at_once(alice: Any) -> None:
    assert not has_consent(alice, "search_history")
    do_set_consent(alice, "search_history", True, method=Method.SETTINGS, acting_user=alice)
    assert has_consent(alice, "search_history")
    do_set_consent(alice, "search_history", False, method=Method.SETTINGS, acting_user=alice)
    assert not has_consent(alice, "search_history")
    assert ConsentRecord.objects.filter(user=alice, purpose__key="search_history").count() == 2


def test_dnt_switches_off_analytics_for_the_request(alice: Any) -> None:
    do_set_consent(alice, "analytics", True, method=Method.SETTINGS, acting_user=alice)
    rf = RequestFactory()
    assert has_consent(alice, "analytics", rf.get("/"))
    assert not has_consent(alice, "analytics", rf.get("/", HTTP_DNT="1"))
    assert not has_consent(alice, "analytics", rf.get("/", HTTP_SEC_GPC="1"))


def test_first_policy_version_is_seeded_in_force_and_accepted(alice: Any) -> None:
    from django.db import transaction

    version = current_policy_version()
    assert version is not None and version.number == 1
    with transaction.atomic():
        record_policy_acceptance(alice)
    assert alice.policy_acceptances.filter(version=version).exists()
