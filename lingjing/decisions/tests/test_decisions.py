"""The automated-decision log: explanations, appeals, human review, and the refusal of solely automated
decisions (PIPL art. 24; policy 五(七))."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client

from lingjing.decisions.actions import do_request_review, do_resolve_review, do_set_automation_choice
from lingjing.decisions.models import Decision, DecisionStatus, ReviewRequest, ReviewStatus
from lingjing.decisions.service import AutomationRefused, allows_solely_automated, decision_reviewed, record_decision
from lingjing.security.audit_models import AuditEntry
from lingjing.sharing.tests.conftest import make_user

pytestmark = pytest.mark.django_db

EXPLANATION = "您的作品《雨夜》含有指向站外的推广链接（规则 spam-link），已被系统自动隐藏。"


@pytest.fixture
def alice(db: Any) -> Any:
    return make_user("alice")


@pytest.fixture
def bob(db: Any) -> Any:
    return make_user("bob")


@pytest.fixture
def reviewer(db: Any) -> Any:
    return make_user("reviewer", staff=True, perms=("decisions.handle_reviewrequest",))


def _moderation(user: Any, **extra: Any) -> Decision:
    return record_decision(
        user, "moderation", outcome="work_hidden", rule_version="mod-rules-3",
        explanation_zh=EXPLANATION, explanation_en="Your work links to outside promotion (rule spam-link).",
        inputs={"matched_rule": "spam-link", "links": 2}, significant=True, object_ref="work:123", **extra,
    )


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_moderation_decision_shows_its_explanation_and_accepts_an_appeal(alice: Any, reviewer: Any) -> None:
    decision = _moderation(alice)
    client = _client(alice)
    listing = client.get("/privacy/decisions/").content.decode()
    assert "内容审核" in listing and "推广链接" in listing
    page = client.get(f"/privacy/decisions/{decision.pk}/").content.decode()
    assert EXPLANATION in page and "mod-rules-3" in page and "spam-link" in page
    assert "仅由系统自动作出" in page
    response = client.post(f"/privacy/decisions/{decision.pk}/", {"reason": "链接是我自己的作品集，不是广告"})
    assert response.status_code == 302
    review = ReviewRequest.objects.get(decision=decision)
    assert review.origin == "appeal" and review.reason == "链接是我自己的作品集，不是广告"
    decision.refresh_from_db()
    assert decision.status == DecisionStatus.UNDER_REVIEW and decision.effective
    api = client.get(f"/api/v1/decisions/{decision.pk}").json()
    assert api["explanation"] == EXPLANATION and api["status"] == "under_review"


def test_staff_overturn_with_a_reason_the_person_reads(alice: Any, reviewer: Any) -> None:
    decision = _moderation(alice)
    review = do_request_review(decision, reason="误判", acting_user=alice)
    heard: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        heard.append(kwargs)

    decision_reviewed.connect(receiver, dispatch_uid="test-decisions-heard")
    try:
        staff = _client(reviewer)
        assert staff.get("/privacy/decisions/reviews/").status_code == 200
        from django.test import TestCase

        with TestCase.captureOnCommitCallbacks(execute=True):
            answer = staff.post(f"/privacy/decisions/reviews/{review.pk}/",
                                {"outcome": "overturn", "reason": "链接指向作者本人的作品集，不属于推广"})
        assert answer.status_code == 302
    finally:
        decision_reviewed.disconnect(dispatch_uid="test-decisions-heard")
    decision.refresh_from_db()
    assert decision.status == DecisionStatus.OVERTURNED and not decision.effective
    assert heard and heard[0]["upheld"] is False and heard[0]["object_ref"] == "work:123"
    assert "不属于推广" in _client(alice).get(f"/privacy/decisions/{decision.pk}/").content.decode()
    assert AuditEntry.objects.filter(event="decision.review_resolved", actor=f"u:{reviewer.pk}").exists()


def test_only_the_subject_appeals_once_and_only_reviewers_resolve(alice: Any, bob: Any, reviewer: Any) -> None:
    decision = _moderation(alice)
    with pytest.raises(PermissionDenied):
        do_request_review(decision, reason="不是我的", acting_user=bob)
    assert _client(bob).get(f"/privacy/decisions/{decision.pk}/").status_code == 404
    review = do_request_review(decision, reason="误判", acting_user=alice)
    with pytest.raises(ValidationError):
        do_request_review(decision, reason="再来一次", acting_user=alice)
    with pytest.raises(PermissionDenied):
        do_resolve_review(review, uphold=False, reason="自己撤销", acting_user=alice)
    assert _client(bob).get(f"/privacy/decisions/reviews/{review.pk}/").status_code == 403
    done = do_resolve_review(review, uphold=True, reason="确属推广", acting_user=reviewer)
    assert done.status == ReviewStatus.UPHELD
    with pytest.raises(ValidationError):
        do_request_review(decision, reason="再申请", acting_user=alice)


def test_refusing_solely_automated_decisions_sends_them_to_a_person(alice: Any, reviewer: Any) -> None:
    assert allows_solely_automated(alice, "moderation")
    client = _client(alice)
    client.post("/privacy/decisions/choices", {"kind": "moderation", "refuse": "1"})
    assert not allows_solely_automated(alice, "moderation")
    assert allows_solely_automated(alice, "risk")
    decision = _moderation(alice)
    assert decision.status == DecisionStatus.AWAITING_HUMAN and not decision.effective
    review = ReviewRequest.objects.get(decision=decision)
    assert review.origin == "refusal" and review.status == "open"
    do_resolve_review(review, uphold=True, reason="人工确认：确属推广链接", acting_user=reviewer)
    decision.refresh_from_db()
    assert decision.effective
    minor = record_decision(alice, "moderation", outcome="tag_suggested", rule_version="v1",
                            explanation_zh="系统建议了标签", significant=False)
    assert minor.status == DecisionStatus.IN_FORCE  # the right covers significant decisions only


def test_refusing_personalised_recommendation(alice: Any) -> None:
    do_set_automation_choice(alice, "recommendation", refuse=True, acting_user=alice)
    with pytest.raises(AutomationRefused):
        record_decision(alice, "recommendation", outcome="feed_profile", rule_version="rec-1",
                        explanation_zh="根据您的浏览记录推荐")
    api = _client(alice).get("/api/v1/decisions/choices").json()["items"]
    assert {"kind": "recommendation", "refuse": True} in api
    assert AuditEntry.objects.filter(event="decision.automation_choice", subject=f"u:{alice.pk}").exists()


def test_a_decision_needs_an_explanation_and_only_a_summary_of_inputs(alice: Any) -> None:
    with pytest.raises(ValidationError):
        record_decision(alice, "risk", outcome="login_blocked", rule_version="risk-2", explanation_zh=" ")
    with pytest.raises(ValidationError):
        record_decision(alice, "risk", outcome="login_blocked", rule_version="risk-2", explanation_zh="异常登录",
                        inputs={"raw": "x" * 5000})


def test_api_review_and_staff_resolution(alice: Any, reviewer: Any) -> None:
    decision = _moderation(alice)
    client = _client(alice)
    created = client.post(f"/api/v1/decisions/{decision.pk}/review", {"reason": "请人工看看"},
                          content_type="application/json")
    assert created.status_code == 201
    review_id = created.json()["id"]
    assert client.get("/api/v1/decisions/reviews").status_code == 403
    staff = _client(reviewer)
    assert [r["id"] for r in staff.get("/api/v1/decisions/reviews").json()] == [review_id]
    done = staff.post(f"/api/v1/decisions/reviews/{review_id}/resolve", {"uphold": False, "reason": "误判"},
                      content_type="application/json")
    assert done.status_code == 200 and done.json()["status"] == "overturned"
    items = client.get("/api/v1/decisions").json()["items"]
    assert items[0]["status"] == "overturned" and items[0]["effective"] is False


def test_the_list_page_costs_the_same_for_many_decisions(alice: Any) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = _client(alice)

    def cost() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/privacy/decisions/").status_code == 200
        return len(queries.captured_queries)

    _moderation(alice)
    record_decision(alice, "risk", outcome="login_challenged", rule_version="risk-2", explanation_zh="异地登录")
    few = cost()
    for n in range(10):
        record_decision(alice, "risk", outcome="login_challenged", rule_version="risk-2",
                        explanation_zh=f"第 {n} 次异地登录")
    assert cost() == few
    assert client.get("/privacy/decisions/").content.decode().count("详情与复核") == 12
