"""has_consent: the one consent check (C1.4 consent part, C1.10, C5.4)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction
from django.test import RequestFactory

from lingjing.consent.actions import ConsentError, do_add_purpose, do_set_consent, do_set_consents, truncate_ip
from lingjing.consent.cookies import CONSENT_COOKIE, encode_choice
from lingjing.consent.models import ConsentReceipt, ConsentRecord, ConsentState, Method
from lingjing.consent.policy import current_policy_version, record_policy_acceptance
from lingjing.consent.service import has_consent
from lingjing.security.audit_models import AuditEntry

pytestmark = pytest.mark.django_db
rf = RequestFactory()


def test_withdrawing_search_history_consent_is_effective_at_once(alice: Any) -> None:
    assert not has_consent(alice, "search_history")  # opt-in: nothing without an answer
    do_set_consent(alice, "search_history", True, method=Method.SETTINGS, acting_user=alice)
    assert has_consent(alice, "search_history")
    do_set_consent(alice, "search_history", False, method=Method.SETTINGS, acting_user=alice)
    assert not has_consent(alice, "search_history")
    records = ConsentRecord.objects.filter(user=alice, purpose__key="search_history").order_by("at")
    assert [r.granted for r in records] == [True, False]
    events = list(AuditEntry.objects.filter(subject=f"u:{alice.pk}").values_list("event", flat=True))
    assert events[-2:] == ["consent.granted", "consent.withdrawn"]


def test_consent_is_per_person(alice: Any, bob: Any) -> None:
    do_set_consent(alice, "search_history", True, method=Method.SETTINGS, acting_user=alice)
    assert has_consent(alice, "search_history")
    assert not has_consent(bob, "search_history")


def test_unknown_or_retired_purpose_is_never_consented(alice: Any) -> None:
    assert not has_consent(alice, "selling_data")
    with pytest.raises(ConsentError):
        do_set_consent(alice, "selling_data", True, method=Method.API, acting_user=alice)
    do_set_consent(alice, "marketing", True, method=Method.API, acting_user=alice)
    from lingjing.consent.models import Purpose

    Purpose.objects.filter(key="marketing").update(active=False)
    assert not has_consent(alice, "marketing")


def test_dnt_and_gpc_switch_off_signal_purposes_for_the_request_only(alice: Any) -> None:
    do_set_consents(alice, {"analytics": True, "personalised_recommendation": True, "search_history": True},
                    method=Method.SETTINGS, acting_user=alice)
    for headers in ({"DNT": "1"}, {"Sec-GPC": "1"}):
        request = rf.get("/", headers=headers)
        assert not has_consent(alice, "analytics", request)
        assert not has_consent(alice, "personalised_recommendation", request)
        assert has_consent(alice, "search_history", request)  # not a tracking purpose
    assert has_consent(alice, "analytics", rf.get("/"))  # the stored choice is untouched
    assert has_consent(alice, "analytics", rf.get("/", HTTP_DNT="0"))


def test_visitor_without_account_follows_the_banner_for_cookie_purposes() -> None:
    from django.contrib.auth.models import AnonymousUser

    request = rf.get("/")
    assert not has_consent(AnonymousUser(), "analytics", request)
    request.COOKIES[CONSENT_COOKIE] = encode_choice({"analytics"}, Method.BANNER)
    assert has_consent(AnonymousUser(), "analytics", request)
    assert has_consent(None, "analytics", request)
    assert not has_consent(None, "search_history", request)  # needs an account
    request.COOKIES[CONSENT_COOKIE] = request.COOKIES[CONSENT_COOKIE][:-2] + "xx"  # forged cookie
    assert not has_consent(None, "analytics", request)


def test_record_keeps_notice_version_method_agent_and_truncated_ip(alice: Any) -> None:
    request = rf.get("/", HTTP_USER_AGENT="Mozilla/5.0 test", REMOTE_ADDR="203.0.113.77")
    receipt = do_set_consent(alice, "analytics", True, method=Method.BANNER, request=request, acting_user=alice)
    rec = ConsentRecord.objects.get(receipt=receipt)
    assert (rec.granted, rec.method, rec.notice_version) == (True, "banner", 1)
    assert rec.user_agent == "Mozilla/5.0 test"
    assert rec.ip_prefix == "203.0.113.0/24"
    version = current_policy_version()
    assert version is not None and receipt.policy_version == version.number
    assert receipt.controller["email"]
    assert receipt.purposes == [{"purpose": "analytics", "granted": True, "notice_version": 1}]


def test_ip_truncation() -> None:
    assert truncate_ip("198.51.100.200") == "198.51.100.0/24"
    assert truncate_ip("2001:db8:abcd:12:1:2:3:4") == "2001:db8:abcd::/48"
    assert truncate_ip("::ffff:192.0.2.9") == "192.0.2.0/24"
    assert truncate_ip("not an ip") == ""
    assert truncate_ip(None) == ""


def test_new_notice_version_is_recorded_with_later_consents(alice: Any) -> None:
    from lingjing.consent.actions import do_change_purpose_notice
    from lingjing.consent.models import Purpose

    do_set_consent(alice, "analytics", True, method=Method.SETTINGS, acting_user=alice)
    purpose = Purpose.objects.get(key="analytics")
    do_change_purpose_notice(purpose, title_zh="统计分析", title_en="Analytics", text_zh="新的说明",
                             text_en="New text", acting_user=None)
    do_set_consent(alice, "analytics", True, method=Method.SETTINGS, acting_user=alice)
    assert list(ConsentRecord.objects.filter(user=alice).order_by("at").values_list("notice_version", flat=True)) \
        == [1, 2]


def test_recipients_are_added_as_purposes(alice: Any) -> None:
    purpose = do_add_purpose("recipient-render-farm", kind="recipient", title_zh="向渲染服务商提供",
                             title_en="Render partner", text_zh="为生成视频向某渲染服务商提供作品脚本。",
                             text_en="Scripts sent to a render partner to make videos.", acting_user=None)
    assert purpose.current_notice() is not None
    assert not has_consent(alice, "recipient-render-farm")
    do_set_consent(alice, "recipient-render-farm", True, method=Method.SETTINGS, acting_user=alice)
    assert has_consent(alice, "recipient-render-farm")


def test_banner_choice_of_many_purposes_yields_one_receipt(alice: Any) -> None:
    receipt = do_set_consents(alice, {"analytics": True, "marketing": False}, method=Method.BANNER,
                              acting_user=alice)
    assert receipt is not None and len(receipt.purposes) == 2
    assert do_set_consents(alice, {"analytics": True}, method=Method.BANNER, acting_user=alice) is None
    assert ConsentReceipt.objects.filter(user=alice).count() == 1
    assert ConsentState.objects.filter(user=alice).count() == 2


def test_policy_acceptance_inside_the_callers_transaction(alice: Any) -> None:
    version = current_policy_version()
    assert version is not None and version.number == 1 and version.effective_at <= version.published_at
    with transaction.atomic():
        record_policy_acceptance(alice, method="register")
        record_policy_acceptance(alice, method="register")  # idempotent
    assert alice.policy_acceptances.filter(version=version).count() == 1
    with pytest.raises(ValueError), transaction.atomic():
        record_policy_acceptance(alice, method="telepathy")


def test_features_hear_of_a_withdrawal_after_commit(alice: Any, django_capture_on_commit_callbacks: Any) -> None:
    from lingjing.consent.events import consent_changed

    heard: list[tuple[Any, str, bool]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        heard.append((kwargs["user_id"], kwargs["purpose"], kwargs["granted"]))

    consent_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            do_set_consent(alice, "search_history", True, method=Method.SETTINGS, acting_user=alice)
        with django_capture_on_commit_callbacks(execute=False) as pending:
            do_set_consent(alice, "search_history", False, method=Method.SETTINGS, acting_user=alice)
        assert heard == [(alice.pk, "search_history", True)]  # not before the commit
        for callback in pending:
            callback()
        assert heard[-1] == (alice.pk, "search_history", False)
    finally:
        consent_changed.disconnect(receiver)
