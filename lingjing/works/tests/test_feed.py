"""The public feed and work pages: contract shape, paging, no query per item, the recommendation switch."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from lingjing.community.tests.conftest import *  # noqa: F403
from lingjing.community.tests.conftest import api, client_for, grant, make_user, publish
from lingjing.works import feed as feeds
from lingjing.works.models import Work

pytestmark = pytest.mark.django_db


def _works(author: Any, n: int, *, tags: list[str] | None = None) -> list[Work]:
    return [publish(author, f"作品{i}号", tags=tags or []) for i in range(n)]


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return len(ctx.captured_queries)


def test_feed_contract_shape_and_paging_without_login(alice: Any) -> None:
    _works(alice, feeds.PAGE_SIZE + 3)
    first = api(Client(), "get", "/works").json()
    assert len(first["items"]) == feeds.PAGE_SIZE and first["next"] == 2
    item = first["items"][0]
    assert {"id", "title", "status", "published_at", "author"} <= set(item)
    assert set(item["author"]) >= {"nickname", "avatar_url"} and item["status"] == "published"
    assert item["title"] == f"作品{feeds.PAGE_SIZE + 2}号"  # newest first
    second = api(Client(), "get", "/works?page=2").json()
    assert len(second["items"]) == 3 and second["next"] is None
    assert not {i["id"] for i in first["items"]} & {i["id"] for i in second["items"]}


def test_drafts_and_removed_works_never_reach_the_feed(alice: Any, bob: Any) -> None:
    from django.db import transaction

    from lingjing.works.actions import do_create_work
    from lingjing.works.publishing import remove_work

    do_create_work(alice, title="草稿", acting_user=alice)
    shown = publish(alice, "公开")
    hidden = publish(alice, "被移除")
    with transaction.atomic():
        remove_work(hidden, acting_user=None)
    for feed in ("latest", "recommended"):
        ids = [i["id"] for i in api(client_for(bob), "get", f"/works?feed={feed}").json()["items"]]
        assert ids == [str(shown.pk)], feed
    assert client_for(alice).get(f"/works/{hidden.pk}").status_code == 404


LISTS = ["/api/v1/works", "/api/v1/works?feed=recommended", "/works/", "/works/?feed=recommended", "/",
         "/api/v1/search?q=作品", "/search?q=作品"]


def test_lists_cost_the_same_for_3_and_23_works(alice: Any, bob: Any) -> None:
    from django.core.cache import cache

    from lingjing.community.actions import do_like_work, do_post_comment

    client = client_for(bob)
    few = _works(alice, 3)
    small = {}
    for url in LISTS:
        client.get(url)  # warm (data keys, the recommendation pool)
        small[url] = _queries(client, url)
    for work in _works(alice, 20) + few:
        do_like_work(bob, work, acting_user=bob)
        do_post_comment(work, bob, "好看", acting_user=bob)
    cache.clear()
    for url in LISTS:
        client.get(url)
        assert _queries(client, url) <= small[url] + 1, url  # +1 at most: nothing grows with the items


def test_the_work_page_costs_the_same_for_many_shots_pages_and_comments(
    alice: Any, bob: Any, django_assert_max_num_queries: Any
) -> None:
    from lingjing.community.actions import do_post_comment
    from lingjing.studio.models import Episode, GeneratedAsset, Scene, Shot

    work = publish(alice, "长篇")
    episode = Episode.objects.create(work=work, author=alice, index=0, title="第一集")
    scene = Scene.objects.create(episode=episode, author=alice, index=0)
    now = timezone.now()
    first_page = None
    for n in range(12):
        shot = Shot(work=work, scene=scene, author=alice, position=n)
        shot.set_lines([{"text": f"台词{n}", "speaker": "李明"}])
        shot.save()
        GeneratedAsset.objects.create(work=work, author=alice, shot=shot, kind="image", slot=f"shot:{shot.pk}:image",
                                      version=1, file=f"works/{work.pk}/i{n}.png", chosen_at=now)
        page = GeneratedAsset.objects.create(work=work, author=alice, kind="page", slot=f"page:{n + 1}", version=1,
                                             file=f"works/{work.pk}/p{n}.png", meta={"page": n + 1}, chosen_at=now)
        first_page = page if n == 0 else first_page
    for n in range(15):
        do_post_comment(work, make_user(f"reader{n}"), f"评论{n}", acting_user=None)
    client = client_for(bob)
    client.get(f"/works/{work.pk}")
    with django_assert_max_num_queries(20):  # about 10 are the site shell (session, user, notices, banner)
        html = client.get(f"/works/{work.pk}").content.decode()
    assert "台词11" in html and "评论14" in html and html.count("/files/") >= 24
    card = api(Client(), "get", "/works").json()["items"][0]
    assert first_page is not None
    assert card["cover_url"] == f"/works/{work.pk}/files/{first_page.pk}"  # the first comic page is the cover


def test_recommended_feed_is_personalised_only_with_consent_and_one_click_turns_it_off(
    alice: Any, bob: Any
) -> None:
    from lingjing.community.actions import do_like_work
    from lingjing.decisions.models import Decision

    cats = _works(alice, 3, tags=["萌宠"])
    swords = _works(alice, 3, tags=["武侠"])
    client = client_for(bob)

    # Without consent: liking teaches nothing, and the feed is the same for everyone.
    api(client, "post", f"/works/{cats[0].pk}/like")
    assert api(client, "get", "/me/interests").json()["items"] == []
    anonymous = [i["id"] for i in api(Client(), "get", "/works?feed=recommended").json()["items"]]
    plain = api(client, "get", "/works?feed=recommended").json()
    assert plain["personalised"] is False

    grant(bob, "personalised_recommendation")
    for work in cats:
        do_like_work(bob, work, learn=True, acting_user=bob)
    assert [i["tag"] for i in api(client, "get", "/me/interests").json()["items"]] == ["萌宠"]
    personal = api(client, "get", "/works?feed=recommended").json()
    assert personal["personalised"] is True
    top = {i["id"] for i in personal["items"][:3]}
    assert top == {str(w.pk) for w in cats}
    decision = Decision.objects.get(subject=bob, kind="recommendation")
    assert decision.inputs == {"tags": ["萌宠"]} and "萌宠" in decision.explanation_zh

    # DNT / GPC switch it off for the request; so does the one-click choice, for good.
    assert api(client, "get", "/works?feed=recommended", HTTP_SEC_GPC="1").json()["personalised"] is False
    assert api(client, "get", "/works?feed=recommended", HTTP_DNT="1").json()["personalised"] is False
    response = client.post("/me/feed-mode", {"personalised": "0"})
    assert response.status_code == 302
    off = api(client, "get", "/works?feed=recommended").json()
    assert off["personalised"] is False and [i["id"] for i in off["items"]] == anonymous
    assert str(swords[0].pk) in {i["id"] for i in off["items"]}
    assert Decision.objects.filter(subject=bob, kind="recommendation").count() == 1  # no new profile decision


def test_withdrawing_consent_deletes_the_interest_tags_and_the_user_can_delete_them(
    alice: Any, bob: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from lingjing.community.actions import do_like_work
    from lingjing.community.models import InterestTag

    works = [publish(alice, "猫", tags=["萌宠"]), publish(alice, "剑", tags=["武侠", "古风"])]
    grant(bob, "personalised_recommendation")
    for work in works:
        do_like_work(bob, work, learn=True, acting_user=bob)
    client = client_for(bob)
    page = client.get("/me/interests").content.decode()
    assert "萌宠" in page and "武侠" in page and "古风" in page
    assert api(client, "delete", "/me/interests/武侠").json() == {"deleted": 1}
    client.post("/me/interests/delete", {"tag": "古风"})
    assert list(InterestTag.objects.filter(user=bob).values_list("tag", flat=True)) == ["萌宠"]
    with django_capture_on_commit_callbacks(execute=True):
        grant(bob, "personalised_recommendation", False)
    assert not InterestTag.objects.filter(user=bob).exists()


def test_following_feed(alice: Any, bob: Any, charlie: Any) -> None:
    mine = publish(alice, "关注我")
    publish(charlie, "没关注")
    client = client_for(bob)
    assert api(client, "get", "/works?feed=following").json()["items"] == []
    assert api(client, "post", f"/users/{alice.pk}/follow").json() == {"following": True, "followers": 1}
    assert [i["id"] for i in api(client, "get", "/works?feed=following").json()["items"]] == [str(mine.pk)]
    assert api(client, "post", f"/users/{bob.pk}/follow").status_code == 422  # not oneself


def test_home_page_shows_the_feed(alice: Any) -> None:
    publish(alice, "首页可见")
    html = Client().get("/").content.decode()
    assert "首页可见" in html and "非个性化推荐" in html


def test_openapi_lists_the_contract_paths() -> None:
    schema = json.loads(Client().get("/api/v1/openapi.json").content)
    for path in ("/api/v1/works", "/api/v1/works/{work_id}", "/api/v1/works/{work_id}/publish", "/api/v1/search"):
        assert path in schema["paths"], path


def test_pages_speak_english_when_chosen(alice: Any) -> None:
    from django.utils import translation

    work = publish(alice, "作品")
    client = Client()
    client.cookies["lj_lang"] = "en"
    with translation.override("zh-hans"):  # the middleware leaves English active in this thread: restore it after
        assert "Non-personalised" in client.get("/works/?feed=recommended").content.decode()
        assert "Write a comment" not in client.get(f"/works/{work.pk}").content.decode()  # signed out
        assert "Sign in to comment" in client.get(f"/works/{work.pk}").content.decode()
        assert "We do not keep your search terms" in client.get("/search?q=作品").content.decode()
