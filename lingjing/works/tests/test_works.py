from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import Http404

from lingjing.accounts.models import User
from lingjing.privacy.registry import RowErase, declaration_for, find_gaps
from lingjing.security.audit_models import AuditEntry
from lingjing.works.access import access_own_work, access_work
from lingjing.works.actions import do_create_work, do_delete_work, do_update_work
from lingjing.works.models import Work, WorkStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice() -> User:
    return User.objects.create_user("13800138001", nickname="alice")


@pytest.fixture
def bob() -> User:
    return User.objects.create_user("13800138002", nickname="bob")


def _events(work: Work) -> list[str]:
    return list(AuditEntry.objects.filter(object_id=str(work.pk)).order_by("seq").values_list("event", flat=True))


def test_create_seals_the_script_and_audits(alice: User) -> None:
    work = do_create_work(alice, title="  夜雨  茶馆 ", script="李明走进茶馆。", tags=["#古风", "古风", "悬疑"],
                          acting_user=alice)
    assert work.title == "夜雨 茶馆"
    assert work.tags == ["古风", "悬疑"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT script FROM works_work WHERE id = %s", [work.pk.hex if connection.vendor == "sqlite"
                                                                       else work.pk])
        raw = cursor.fetchone()[0]
    assert raw.startswith("ljx1$") and "李明" not in raw
    assert Work.objects.get(pk=work.pk).script == "李明走进茶馆。"
    assert _events(work) == ["work.created"]
    entry = AuditEntry.objects.get(object_id=str(work.pk))
    assert entry.subject == f"u:{alice.pk}" and entry.details["script_chars"] == 7


def test_update_records_changed_fields_only(alice: User) -> None:
    work = do_create_work(alice, title="A", script="x", acting_user=alice)
    do_update_work(work, title="A", script="y", acting_user=alice)
    do_update_work(work, title="A", script="y", acting_user=alice)  # no change: no audit row
    assert _events(work) == ["work.created", "work.updated"]
    assert AuditEntry.objects.filter(event="work.updated").get().details == {"fields": ["script"]}


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"title": "   "}, "title_required"),
    ({"title": "长" * 81}, "title_too_long"),
    ({"title": "ok", "tags": ["t" * 21]}, "tag_too_long"),
    ({"title": "ok", "tags": [str(i) for i in range(11)]}, "too_many_tags"),
])
def test_create_validates(alice: User, kwargs: dict[str, Any], code: str) -> None:
    with pytest.raises(ValidationError) as info:
        do_create_work(alice, acting_user=alice, **kwargs)
    assert info.value.code == code
    assert not Work.objects.exists()


def test_delete_removes_row_and_files(alice: User, django_capture_on_commit_callbacks: Any) -> None:
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from lingjing.works.files import work_media_prefix

    work = do_create_work(alice, title="A", acting_user=alice)
    path = default_storage.save(f"{work_media_prefix(work.pk)}/studio/images/a.png", ContentFile(b"png"))
    other = default_storage.save("works/other/keep.png", ContentFile(b"png"))
    work_id = work.pk
    with django_capture_on_commit_callbacks(execute=True):
        do_delete_work(work, acting_user=alice)
    assert not Work.objects.filter(pk=work_id).exists()
    assert AuditEntry.objects.filter(event="work.deleted", object_id=str(work_id)).exists()
    assert not default_storage.exists(path)
    assert default_storage.exists(other)


def test_access_persona_rules(alice: User, bob: User) -> None:
    draft = do_create_work(alice, title="草稿", acting_user=alice)
    assert access_work(alice, draft.pk, write=True) == draft
    with pytest.raises(Http404):
        access_work(bob, draft.pk)
    with pytest.raises(Http404):
        access_work(None, draft.pk)
    with pytest.raises(Http404):
        access_work(alice, "not-a-uuid")
    Work.objects.filter(pk=draft.pk).update(status=WorkStatus.PUBLISHED)
    assert access_work(bob, draft.pk) == Work.objects.get(pk=draft.pk)  # published: everyone reads
    with pytest.raises(Http404):
        access_work(bob, draft.pk, write=True)
    with pytest.raises(Http404):
        access_own_work(bob, draft.pk)  # the studio stays the author's
    Work.objects.filter(pk=draft.pk).update(status=WorkStatus.REMOVED)
    with pytest.raises(Http404):
        access_work(alice, draft.pk)


def test_registry_declares_work_for_anonymising_erasure() -> None:
    declaration = declaration_for(Work)
    assert declaration is not None
    assert declaration.subject == "author" and declaration.on_erase == RowErase.ANONYMISE
    assert declaration.fields["script"].category == "content.script"
    assert declaration.fields["status"].anonymised == WorkStatus.REMOVED
    assert Work._meta.get_field("author").null  # the link can be cut
    assert not [gap for gap in find_gaps() if gap.model.startswith(("works.", "studio."))]
