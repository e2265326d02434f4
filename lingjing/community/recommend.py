"""Personalised recommendation, with its switches (PIPL art. 24; NDR art. 42; policy 一(五)).

The recommended feed uses a person's behaviour only when *all* of these hold for the request:

1. ``has_consent(user, "personalised_recommendation", request)`` — consent given, and no DNT/GPC signal on this
   request (the consent service honours both);
2. ``allows_solely_automated(user, "recommendation")`` — the person did not refuse automated recommendation;
3. their feed choice (:class:`FeedPreference`, one click on the feed) is "personalised".

Otherwise the feed is the non-personalised one: recent works ranked by likes, comments and age, the same for
everyone. The behaviour used is the person's own likes and comments on this platform, turned into interest tags
(the works' tags); the tags are shown on ``/me/interests`` where each can be deleted, and are deleted when the
consent is withdrawn. Each time the profile used for the feed changes, an automated decision is recorded with
its explanation (the tags it used), which the person can read and have reviewed.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from lingjing.community.actions import decayed
from lingjing.community.models import FeedPreference, InterestTag

RULE_VERSION = "rec-tags-1"
PROFILE_TAGS = 8  # the strongest tags used for ranking and shown in the explanation
PURPOSE = "personalised_recommendation"


def consents(user: Any, request: HttpRequest | None) -> bool:
    """Consent + no DNT/GPC + automation not refused: may behaviour be learnt and used at all?"""
    from lingjing.consent.service import has_consent
    from lingjing.decisions.service import allows_solely_automated

    if not getattr(user, "is_authenticated", False):
        return False
    return has_consent(user, PURPOSE, request) and allows_solely_automated(user, "recommendation")


def prefers_personalised(user: Any) -> bool:
    pref = FeedPreference.objects.filter(user_id=user.pk).only("personalised").first()
    return True if pref is None else pref.personalised


def personalisation_allowed(user: Any, request: HttpRequest | None) -> bool:
    return consents(user, request) and prefers_personalised(user)


def interests(user: Any) -> list[tuple[str, float, Any]]:
    """Every interest tag kept about the person: (tag, current weight, last updated), strongest first."""
    now = timezone.now()
    rows = InterestTag.objects.filter(user_id=user.pk).values_list("tag", "weight", "updated_at")
    return sorted(((tag, round(decayed(w, at, now), 3), at) for tag, w, at in rows), key=lambda t: (-t[1], t[0]))


def interest_profile(user: Any, *, limit: int = PROFILE_TAGS) -> list[tuple[str, float]]:
    """The strongest interest tags used for ranking, with their current (decayed) weights."""
    return [(tag, w) for tag, w, _ in interests(user)[:limit] if w > 0.05]


def note_recommendation(user: Any, profile: list[tuple[str, float]]) -> Any:
    """Record the automated decision "your feed is personalised with these tags" when the set of tags differs
    from the last one recorded. Returns the decision, or None when nothing new was recorded."""
    from lingjing.decisions.models import Decision
    from lingjing.decisions.service import AutomationRefused, record_decision

    tags = [tag for tag, _ in profile]
    last = (Decision.objects.filter(subject_id=user.pk, kind="recommendation", outcome="feed_personalised")
            .order_by("-made_at").values_list("inputs", flat=True).first())
    if last is not None and last.get("tags") == tags:
        return None
    try:
        return record_decision(
            user, "recommendation", outcome="feed_personalised", rule_version=RULE_VERSION,
            explanation_zh="“推荐”页根据您的兴趣标签排序作品：" + "、".join(tags) + "。兴趣标签来自您的点赞和评论，"
                           "可在“我的兴趣标签”中查看和删除；也可一键切换为不针对个人特征的推荐。",
            explanation_en="The recommended feed is ordered with your interest tags: " + ", ".join(tags) + ". They "
                           "come from your likes and comments; you can see and delete them under My interests, or "
                           "switch to recommendations that do not use your personal traits in one click.",
            inputs={"tags": tags}, significant=False, object_ref="feed",
        )
    except AutomationRefused:
        return None
