"""Comments, likes and follows: sanitised text, who may do what, audit rows, and the rights machinery's reach."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from lingjing.community.actions import do_follow, do_like_work, do_post_comment, do_report
from lingjing.community.models import Comment, Follow, InterestTag, Like, ModerationCase, Report
from lingjing.community.tests.conftest import api, client_for, grant, make_user, publish
from lingjing.community.text import sanitise_comment
from lingjing.security.audit_models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("raw", "clean"), [
    ("<script>alert(1)</script>好看", "好看"),
    ('<img src=x onerror="alert(1)">图', "图"),
    ('<a href="javascript:alert(1)">点我</a>', "<a rel=\"nofollow ugc noopener\">点我</a>"),
    ('<a href="https://example.com" onclick="x()">链接</a>',
     '<a href="https://example.com" rel="nofollow ugc noopener">链接</a>'),
    ("<b>粗</b> <i>斜</i> <style>p{}</style>", "<b>粗</b> <i>斜</i> "),
    ("第一行\n第二行", "第一行<br>第二行"),
    ("1 < 2 & 3 > 2", "1 &lt; 2 &amp; 3 &gt; 2"),
])
def test_comments_are_sanitised_with_nh3(raw: str, clean: str) -> None:
    assert sanitise_comment(raw) == clean


@pytest.mark.parametrize("raw", ["", "   ", "<script>x</script>", "字" * 1001])
def test_empty_or_long_comments_are_refused(raw: str) -> None:
    with pytest.raises(ValidationError):
        sanitise_comment(raw)


def test_comment_like_follow_through_the_api(alice: Any, bob: Any) -> None:
    work = publish(alice, "作品")
    client = client_for(bob)
    posted = api(client, "post", f"/works/{work.pk}/comments", {"body": "<b>好看</b><script>x</script>"})
    assert posted.status_code == 201 and posted.json()["body"] == "<b>好看</b>"
    listed = api(Client(), "get", f"/works/{work.pk}/comments").json()["items"]
    assert [c["author"]["nickname"] for c in listed] == ["bob"]
    assert api(client, "post", f"/works/{work.pk}/like").json() == {"liked": True, "likes": 1}
    assert api(client, "post", f"/works/{work.pk}/like").json() == {"liked": True, "likes": 1}  # idempotent
    assert api(client, "delete", f"/works/{work.pk}/like").json() == {"liked": False, "likes": 0}
    assert api(Client(), "post", f"/works/{work.pk}/like").status_code == 401
    events = set(AuditEntry.objects.filter(subject=f"u:{bob.pk}").values_list("event", flat=True))
    assert {"community.comment_posted", "community.work_liked", "community.work_unliked"} <= events
    comment_id = posted.json()["id"]
    assert api(client_for(make_user("eve")), "delete", f"/comments/{comment_id}").status_code == 403
    assert api(client_for(alice), "delete", f"/comments/{comment_id}").status_code == 204  # under her work


def test_drafts_take_no_comments_likes_or_reports(alice: Any, bob: Any) -> None:
    from lingjing.works.actions import do_create_work

    draft = do_create_work(alice, title="草稿", acting_user=alice)
    client = client_for(bob)
    assert api(client, "post", f"/works/{draft.pk}/comments", {"body": "hi"}).status_code == 404
    assert api(client, "post", f"/works/{draft.pk}/like").status_code == 404
    assert api(client, "post", "/reports", {"work_id": str(draft.pk), "reason": "spam"}).status_code == 404
    assert client.post(f"/community/works/{draft.pk}/comment", {"body": "hi"}).status_code == 404


def test_pages_post_comments_likes_follows_and_reports(alice: Any, bob: Any) -> None:
    work = publish(alice, "作品")
    client = client_for(bob)
    client.post(f"/community/works/{work.pk}/comment", {"body": "不错"})
    client.post(f"/community/works/{work.pk}/like", {"next": f"/works/{work.pk}"})
    client.post(f"/community/users/{alice.pk}/follow", {"next": "https://evil.example/"})
    client.post(f"/community/works/{work.pk}/report", {"reason": "other", "detail": "测试"})
    assert Comment.objects.filter(work=work, author=bob).count() == 1
    assert Like.objects.filter(work=work, user=bob).exists() and Follow.objects.filter(follower=bob).exists()
    assert Report.objects.get().detail == "测试" and ModerationCase.objects.count() == 1
    html = client.get(f"/works/{work.pk}").content.decode()
    assert "不错" in html and "已关注" in html and "取消点赞" in html


def test_the_rights_engines_export_and_erase_community_and_search_data(alice: Any, bob: Any) -> None:
    from lingjing.privacy.engines.erasure import erase_person
    from lingjing.privacy.engines.export import iter_person_data
    from lingjing.search.models import SearchHistory

    work = publish(alice, "作品", tags=["古风"])
    grant(bob, "personalised_recommendation")
    grant(bob, "search_history")
    do_post_comment(work, bob, "评论内容", acting_user=bob)
    do_like_work(bob, work, learn=True, acting_user=bob)
    do_follow(bob, alice, acting_user=bob)
    do_report(bob, work=work, reason="other", detail="举报说明", acting_user=bob)
    api(client_for(bob), "get", "/search?q=作品")
    exported = repr(list(iter_person_data(bob)))
    for text in ("评论内容", "古风", "举报说明", "作品"):
        assert text in exported, text
    erase_person(bob.pk)
    assert not Comment.objects.filter(author_id=bob.pk).exists()
    assert not Like.objects.filter(user_id=bob.pk).exists() and not Follow.objects.filter(follower_id=bob.pk).exists()
    assert not InterestTag.objects.filter(user_id=bob.pk).exists()
    assert not SearchHistory.objects.filter(user_id=bob.pk).exists()
    report = Report.objects.get()
    assert report.reporter_id is None and report.detail is None  # the case keeps the report, not the reporter
