"""Editing the storyboard and the character bible, and choosing between output versions (all audited)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from lingjing.accounts.models import User
from lingjing.security.audit_models import AuditEntry
from lingjing.studio import actions
from lingjing.studio.models import Character, GeneratedAsset, Shot
from lingjing.studio.runner import execute_job
from lingjing.studio.tests.conftest import SHORT_STORY
from lingjing.works.actions import do_create_work
from lingjing.works.models import Work

pytestmark = pytest.mark.django_db


@pytest.fixture
def work(alice: User) -> Work:
    work = do_create_work(alice, title="夜雨", script=SHORT_STORY, acting_user=alice)
    job, _ = actions.do_start_job(work, "storyboard", acting_user=alice)
    execute_job(job.pk)
    return work


def _texts(work: Work) -> list[str]:
    return ["|".join(line["text"] for line in s.lines) for s in Shot.objects.filter(work=work).order_by("position")]


def test_reorder_split_merge_delete(work: Work, alice: User) -> None:
    assert _texts(work) == ["李明走进了杭州的一家茶馆。|王芳抬起头", "你终于来了。", "路上耽搁了。"]
    shots = list(Shot.objects.filter(work=work).order_by("position"))
    actions.do_move_shot(shots[2], to_position=0, acting_user=alice)
    assert _texts(work)[0] == "路上耽搁了。"
    first = Shot.objects.get(pk=shots[0].pk)
    new = actions.do_split_shot(first, acting_user=alice)
    assert _texts(work) == ["路上耽搁了。", "李明走进了杭州的一家茶馆。", "王芳抬起头", "你终于来了。"]
    assert new.duration == round(5 / 4.5 + 2, 2)
    assert [c.name for c in new.characters.all()] == ["李明", "王芳"]
    actions.do_merge_shot_with_next(Shot.objects.get(pk=first.pk), acting_user=alice)
    assert _texts(work) == ["路上耽搁了。", "李明走进了杭州的一家茶馆。|王芳抬起头", "你终于来了。"]
    actions.do_delete_shot(Shot.objects.get(pk=first.pk), acting_user=alice)
    assert list(Shot.objects.filter(work=work).order_by("position").values_list("position", flat=True)) == [0, 1]
    events = list(AuditEntry.objects.filter(event__startswith="studio.shot").values_list("event", flat=True))
    assert events == ["studio.shots_reordered", "studio.shot_split", "studio.shots_merged", "studio.shot_deleted"]
    with pytest.raises(ValidationError):
        actions.do_merge_shot_with_next(Shot.objects.get(position=1, work=work), acting_user=alice)


def test_editing_a_shot_through_the_page(work: Work, alice: User) -> None:
    shot = Shot.objects.get(work=work, position=1)
    client = Client()
    client.force_login(alice)
    prefix = f"s{shot.pk.hex[:8]}"
    response = client.post(reverse("studio:edit_shot", args=[work.pk, shot.pk]), {
        f"{prefix}-description": "王芳站起身", f"{prefix}-lines": "王芳：你终于来了！\n旁白：雨更大了。",
        f"{prefix}-prompt": "特写，王芳，雨夜", f"{prefix}-shot_type": "extreme_close",
        f"{prefix}-camera_move": "push_in", f"{prefix}-duration": "",
    })
    assert response.status_code == 302
    shot.refresh_from_db()
    assert shot.lines == [{"text": "你终于来了！", "speaker": "王芳"}, {"text": "雨更大了。", "speaker": None}]
    assert (shot.shot_type, shot.camera_move, shot.prompt) == ("extreme_close", "push_in", "特写，王芳，雨夜")
    assert shot.duration == round(9 / 4.5 + 2, 2)  # recomputed from the new lines
    entry = AuditEntry.objects.filter(event="studio.shot_edited").get()
    assert "lines_json" in entry.details["fields"] and "王芳" not in str(entry.details)


def test_character_bible_is_kept_on_restoryboard(work: Work, alice: User) -> None:
    li = Character.objects.get(work=work, name="李明")
    actions.do_save_character(work, character=li, name="李明", static_features="短发，高个",
                              dynamic_features="灰色长衫", voice="cmn+m3", acting_user=alice)
    job, _ = actions.do_start_job(work, "storyboard", acting_user=alice)
    execute_job(job.pk)
    li = Character.objects.get(work=work, name="李明")
    assert (li.static_features, li.voice) == ("短发，高个", "cmn+m3")
    shot = Shot.objects.get(work=work, position=0)
    assert "李明（短发，高个，灰色长衫）" in (shot.prompt or "")
    with pytest.raises(ValidationError):
        actions.do_save_character(work, name="李明", acting_user=alice)  # duplicate name


def test_versions_choose_and_undo(work: Work, alice: User) -> None:
    for _ in range(2):
        job, _ = actions.do_start_job(work, "images", acting_user=alice)
        execute_job(job.pk)
    slot = f"shot:{Shot.objects.get(work=work, position=0).pk}:image"
    versions = list(GeneratedAsset.objects.filter(work=work, slot=slot).order_by("version"))
    assert [v.version for v in versions] == [1, 2]
    assert actions.chosen_outputs(work)[slot].version == 2
    assert actions.do_undo_choice(work, slot, acting_user=alice) == versions[0]
    assert actions.chosen_outputs(work)[slot].version == 1
    with pytest.raises(ValidationError):
        actions.do_undo_choice(work, slot, acting_user=alice)  # nothing earlier
    actions.do_choose_output(versions[1], acting_user=alice)
    assert actions.chosen_outputs(work)[slot].version == 2
    assert AuditEntry.objects.filter(event="studio.output_chosen").count() == 2


def test_reference_image_is_reencoded_and_private(work: Work, alice: User, bob: User) -> None:
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # camera make: metadata that must not survive
    Image.new("RGB", (40, 30), (200, 10, 10)).save(buffer, format="JPEG", exif=exif)
    li = Character.objects.get(work=work, name="李明")
    client = Client()
    client.force_login(alice)
    url = reverse("studio:add_reference", args=[work.pk, li.pk])
    upload = SimpleUploadedFile("ref.jpg", buffer.getvalue(), content_type="image/jpeg")
    assert client.post(url, {"image": upload}).status_code == 302
    li.refresh_from_db()
    assert len(li.reference_images) == 1 and li.reference_images[0].startswith(f"works/{work.pk}/studio/")
    response = client.get(reverse("studio:reference_file", args=[work.pk, li.pk, 0]))
    data = response.getvalue()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and b"SecretCam" not in data
    other = Client()
    other.force_login(bob)
    assert other.get(reverse("studio:reference_file", args=[work.pk, li.pk, 0])).status_code == 404
