"""Moderation: report → queue → decision → the author sees it → appeal → another moderator → content restored;
automated filter decisions, and the refusal of solely automated ones."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from lingjing.community.actions import do_decide_case, do_post_comment, do_report
from lingjing.community.models import CaseStatus, Comment, CommentStatus, ModerationCase
from lingjing.community.tests.conftest import api, client_for, publish
from lingjing.decisions.models import Decision, DecisionStatus, ReviewRequest
from lingjing.works.models import Work, WorkStatus

pytestmark = pytest.mark.django_db


def test_report_queue_decision_appeal_and_restore(
    alice: Any, bob: Any, charlie: Any, mona: Any, otto: Any, django_capture_on_commit_callbacks: Any
) -> None:
    work = publish(alice, "有争议的作品")
    # two people report it: one case in the queue
    assert api(client_for(bob), "post", "/reports", {"work_id": str(work.pk), "reason": "abuse",
                                                      "detail": "人身攻击"}).status_code == 201
    do_report(charlie, work=work, reason="spam", acting_user=charlie)
    do_report(charlie, work=work, reason="spam", acting_user=charlie)  # twice: harmless
    case = ModerationCase.objects.get()
    assert case.status == CaseStatus.OPEN and case.report_count == 2 and case.target_author_id == alice.pk

    # the queue is for moderators only
    assert client_for(bob).get("/moderation/").status_code == 403
    queue = client_for(mona).get("/moderation/").content.decode()
    assert "有争议的作品" in queue
    assert "人身攻击" in client_for(mona).get(f"/moderation/cases/{case.pk}").content.decode()

    # mona removes it with a reason; the work disappears for everyone
    response = client_for(mona).post(f"/moderation/cases/{case.pk}", {"remove": "1", "resolution": "含有人身攻击"})
    assert response.status_code == 302
    assert Work.objects.get(pk=work.pk).status == WorkStatus.REMOVED
    assert Client().get(f"/works/{work.pk}").status_code == 404
    assert api(Client(), "get", "/search?q=争议").json()["items"] == []

    # alice sees the decision with its explanation, and appeals
    decision = Decision.objects.get(subject=alice, kind="moderation")
    assert decision.outcome == "work_removed" and not decision.solely_automated and decision.significant
    assert "含有人身攻击" in decision.explanation_zh
    page = client_for(alice).get(f"/privacy/decisions/{decision.pk}/").content.decode()
    assert "含有人身攻击" in page
    client_for(alice).post(f"/privacy/decisions/{decision.pk}/", {"reason": "这是讽刺作品，并非攻击"})
    review = ReviewRequest.objects.get(decision=decision)
    assert Decision.objects.get(pk=decision.pk).status == DecisionStatus.UNDER_REVIEW

    # the moderator who decided may not review; another one overturns and the work comes back
    appeals = client_for(mona).get("/moderation/appeals/").content.decode()
    assert "这是讽刺作品" in appeals
    client_for(mona).post(f"/moderation/appeals/{review.pk}", {"uphold": "0", "reason": "同意"})
    assert Work.objects.get(pk=work.pk).status == WorkStatus.REMOVED
    with django_capture_on_commit_callbacks(execute=True):
        client_for(otto).post(f"/moderation/appeals/{review.pk}", {"uphold": "0", "reason": "属于讽刺，不构成攻击"})
    assert Decision.objects.get(pk=decision.pk).status == DecisionStatus.OVERTURNED
    assert Work.objects.get(pk=work.pk).status == WorkStatus.PUBLISHED
    assert [i["id"] for i in api(Client(), "get", "/search?q=争议").json()["items"]] == [str(work.pk)]


def test_a_dismissed_case_changes_nothing_and_moderators_never_judge_their_own_content(
    alice: Any, bob: Any, mona: Any
) -> None:
    work = publish(alice, "正常作品")
    do_report(bob, work=work, reason="other", acting_user=bob)
    case = ModerationCase.objects.get()
    do_decide_case(case, remove=False, resolution="未发现违规", acting_user=mona)
    assert Work.objects.get(pk=work.pk).status == WorkStatus.PUBLISHED
    assert not Decision.objects.filter(subject=alice).exists()
    own = publish(mona, "审核员的作品")
    do_report(bob, work=own, reason="spam", acting_user=bob)
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        do_decide_case(ModerationCase.objects.get(work=own), remove=True, resolution="x", acting_user=mona)
    with pytest.raises(PermissionDenied):
        do_decide_case(ModerationCase.objects.get(work=own), remove=True, resolution="x", acting_user=bob)


def test_reported_comments_are_removed_and_the_commenter_is_told(alice: Any, bob: Any, charlie: Any,
                                                                  mona: Any) -> None:
    work = publish(alice, "评论区")
    comment = do_post_comment(work, bob, "难听的话", acting_user=bob)
    answer = api(client_for(charlie), "post", "/reports",
                 {"work_id": str(work.pk), "comment_id": str(comment.pk), "reason": "abuse"})
    assert answer.status_code == 201
    case = ModerationCase.objects.get(comment=comment)
    do_decide_case(case, remove=True, resolution="辱骂", acting_user=mona)
    assert Comment.objects.get(pk=comment.pk).status == CommentStatus.REMOVED
    assert "难听的话" not in Client().get(f"/works/{work.pk}").content.decode()
    assert Decision.objects.get(subject=bob).outcome == "comment_removed"


def test_the_filter_hides_spam_as_an_automated_decision_that_a_review_can_overturn(
    alice: Any, bob: Any, otto: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from lingjing.decisions.actions import do_request_review, do_resolve_review

    work = publish(alice, "热门作品")
    spam = do_post_comment(work, bob, "私聊 代 开 发 票，价格优惠", acting_user=bob)
    assert spam.status == CommentStatus.HIDDEN
    decision = Decision.objects.get(subject=bob, kind="moderation")
    assert decision.solely_automated and decision.outcome == "comment_hidden" and decision.inputs["rule"] == "keyword"
    public = api(Client(), "get", f"/works/{work.pk}/comments").json()["items"]
    assert public == []
    own = api(client_for(bob), "get", f"/works/{work.pk}/comments").json()["items"]
    assert [c["status"] for c in own] == ["hidden"]  # the author still sees it, marked

    review = do_request_review(decision, reason="这是正常的讨论", acting_user=bob)
    with django_capture_on_commit_callbacks(execute=True):
        do_resolve_review(review, uphold=False, reason="误判", acting_user=otto)
    assert Comment.objects.get(pk=spam.pk).status == CommentStatus.VISIBLE


def test_spam_rules_links_repeats_and_floods(alice: Any, bob: Any) -> None:
    work = publish(alice, "热门作品")
    links = " ".join(f"https://ads{i}.example/x" for i in range(4))
    assert do_post_comment(work, bob, links, acting_user=bob).status == CommentStatus.HIDDEN
    assert do_post_comment(work, bob, "第一次说", acting_user=bob).status == CommentStatus.VISIBLE
    assert do_post_comment(work, bob, "第一次说", acting_user=bob).status == CommentStatus.HIDDEN
    rules = list(Decision.objects.filter(subject=bob).order_by("made_at").values_list("inputs", flat=True))
    assert [r["rule"] for r in rules] == ["links", "repeat"]


def test_refusing_automated_moderation_leaves_content_up_until_a_person_decides(
    alice: Any, bob: Any, otto: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from lingjing.decisions.actions import do_resolve_review, do_set_automation_choice

    do_set_automation_choice(bob, "moderation", refuse=True, acting_user=bob)
    work = publish(alice, "热门作品")
    comment = do_post_comment(work, bob, "加微信领取福利", acting_user=bob)
    assert comment.status == CommentStatus.VISIBLE  # not solely by automation
    decision = Decision.objects.get(subject=bob, kind="moderation")
    assert decision.status == DecisionStatus.AWAITING_HUMAN
    review = ReviewRequest.objects.get(decision=decision)
    assert "加微信" not in str(decision.inputs)
    assert str(review.pk) in client_for(otto).get("/moderation/appeals/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        do_resolve_review(review, uphold=True, reason="确属广告", acting_user=otto)
    assert Comment.objects.get(pk=comment.pk).status == CommentStatus.HIDDEN


def test_moderators_manage_the_keyword_list(alice: Any, bob: Any, mona: Any) -> None:
    work = publish(alice, "热门作品")
    client_for(mona).post("/moderation/terms", {"term": "违禁 词语", "active": "1"})
    assert client_for(bob).post("/moderation/terms", {"term": "别的词"}).status_code == 403
    assert do_post_comment(work, bob, "这里有违禁词语！", acting_user=bob).status == CommentStatus.HIDDEN
    client_for(mona).post("/moderation/terms", {"term": "违禁词语", "active": "0"})
    assert do_post_comment(work, bob, "这里还是违禁词语？", acting_user=bob).status == CommentStatus.VISIBLE
