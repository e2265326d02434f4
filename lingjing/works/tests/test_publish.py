"""Publishing: the contract's work endpoints, the life cycle, who may publish, what the public sees, the filter."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied

from lingjing.community.tests.conftest import *  # noqa: F403
from lingjing.community.tests.conftest import api, client_for, make_user, publish
from lingjing.security.audit_models import AuditEntry
from lingjing.works.models import Work, WorkStatus
from lingjing.works.publishing import do_publish_work, do_unpublish_work

pytestmark = pytest.mark.django_db


def test_contract_create_read_patch_publish_delete(alice: Any, bob: Any) -> None:
    owner = client_for(alice)
    created = api(owner, "post", "/works", {"title": "夜雨茶馆", "script": "李明走进茶馆。"})
    assert created.status_code == 201
    body = created.json()
    assert set(body) == {"id", "title", "status"} and body["status"] == "draft" and body["title"] == "夜雨茶馆"
    path = f"/works/{body['id']}"

    assert api(client_for(bob), "get", path).status_code == 404  # a draft is not disclosed
    assert api(owner, "get", path).json()["status"] == "draft"
    patched = api(owner, "patch", path, {"title": "夜雨茶馆（修订）", "tags": ["古风"]}).json()
    assert patched["title"] == "夜雨茶馆（修订）" and patched["tags"] == ["古风"]
    assert api(client_for(bob), "patch", path, {"title": "x"}).status_code == 404

    published = api(owner, "post", f"{path}/publish")
    assert published.status_code == 200
    seen = api(client_for(bob), "get", path).json()
    assert {"id", "title", "status", "published_at", "author"} <= set(seen)
    assert seen["status"] == "published" and seen["published_at"]
    assert seen["author"] == {"id": str(alice.pk), "nickname": "alice", "avatar_url": None}
    from django.test import Client

    assert api(Client(), "get", path).status_code == 200  # no login needed

    assert api(client_for(bob), "delete", path).status_code == 404
    assert api(owner, "delete", path).status_code == 204
    assert not Work.objects.filter(pk=body["id"]).exists()


def test_publishing_records_time_and_audits_and_unpublish_hides(alice: Any, bob: Any) -> None:
    work = publish(alice, "星空列车")
    assert work.status == WorkStatus.PUBLISHED and work.published_at is not None
    entry = AuditEntry.objects.get(event="work.published", object_id=str(work.pk))
    assert entry.subject == f"u:{alice.pk}" and entry.details["previous"] == "draft"
    do_unpublish_work(work, acting_user=alice)
    assert api(client_for(bob), "get", f"/works/{work.pk}").status_code == 404
    assert client_for(bob).get(f"/works/{work.pk}").status_code == 404
    assert client_for(alice).get(f"/works/{work.pk}").status_code == 200
    assert AuditEntry.objects.filter(event="work.unpublished", object_id=str(work.pk)).count() == 1


def test_only_the_author_publishes_and_children_waiting_for_a_guardian_cannot(alice: Any, bob: Any) -> None:
    from lingjing.accounts.models import UserStatus
    from lingjing.works.actions import do_create_work

    work = do_create_work(alice, title="草稿", acting_user=alice)
    with pytest.raises(PermissionDenied):
        do_publish_work(work, acting_user=bob)
    assert api(client_for(bob), "post", f"/works/{work.pk}/publish").status_code == 404

    kid = make_user("kid", birth="2018-01-01")
    kid.status = UserStatus.PENDING_GUARDIAN
    kid.save(update_fields=["status"])
    kid_work = do_create_work(kid, title="我的画", acting_user=kid)
    answer = api(client_for(kid), "post", f"/works/{kid_work.pk}/publish")
    assert answer.status_code == 403
    assert "监护人" in answer.json()["error"]["message"]
    assert Work.objects.get(pk=kid_work.pk).status == WorkStatus.DRAFT


def test_the_public_page_shows_nickname_avatar_time_and_outputs(alice: Any, bob: Any) -> None:
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.utils import timezone

    from lingjing.studio.models import GeneratedAsset

    work = publish(alice, "孤独的剑客", tags=["武侠"])
    alice.avatar_thumb = "avatars/alice-256.png"
    alice.save(update_fields=["avatar_thumb"])
    path = default_storage.save(f"works/{work.pk}/studio/video/v1.mp4", ContentFile(b"\x00\x00\x00\x18ftypmp42"))
    video = GeneratedAsset.objects.create(work=work, author=alice, kind="video", slot="video", version=1, file=path,
                                          chosen_at=timezone.now())
    old = GeneratedAsset.objects.create(work=work, author=alice, kind="video", slot="video", version=0, file=path,
                                        chosen_at=timezone.now() - dt.timedelta(hours=1))
    page = client_for(bob).get(f"/works/{work.pk}")
    html = page.content.decode()
    assert page.status_code == 200
    assert "孤独的剑客" in html and "alice" in html and alice.avatar_url in html and "武侠" in html
    assert timezone.localtime(work.published_at).strftime("%Y-%m-%d %H:%M") in html
    assert f"/works/{work.pk}/files/{video.pk}" in html
    assert client_for(bob).get(f"/works/{work.pk}/files/{video.pk}").status_code == 200
    assert client_for(bob).get(f"/works/{work.pk}/files/{old.pk}").status_code == 404  # not the current version
    do_unpublish_work(work, acting_user=alice)
    assert client_for(bob).get(f"/works/{work.pk}/files/{video.pk}").status_code == 404


def test_the_keyword_filter_keeps_a_work_private_as_an_appealable_decision(alice: Any) -> None:
    from lingjing.decisions.models import Decision
    from lingjing.works.actions import do_create_work

    work = do_create_work(alice, title="兼职日结 加 V X 领取", acting_user=alice)
    answer = api(client_for(alice), "post", f"/works/{work.pk}/publish")
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "moderation_blocked"
    assert Work.objects.get(pk=work.pk).status == WorkStatus.DRAFT
    decision = Decision.objects.get(subject=alice, kind="moderation")
    assert decision.outcome == "work_publish_blocked" and decision.object_ref == f"work:{work.pk}"
    assert decision.inputs["rule"] == "keyword" and "兼职" not in str(decision.inputs)  # no content in inputs
    assert "申请人工复核" in decision.explanation_zh
    listing = client_for(alice).get("/privacy/decisions/").content.decode()
    assert "自动审核" in listing  # the author sees it where all their decisions are


def test_editing_a_published_title_is_screened_and_reindexed(alice: Any) -> None:
    from lingjing.search.service import match_work_ids
    from lingjing.works.actions import do_update_work

    work = publish(alice, "海岛日记")
    do_update_work(work, title="海岛日记 代开发票", acting_user=alice)
    assert Work.objects.get(pk=work.pk).status == WorkStatus.UNPUBLISHED
    assert match_work_ids("海岛") == []
