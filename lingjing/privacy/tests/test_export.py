"""The export engine: everything declared about one person, decrypted, grouped by category; nothing of anyone else."""

from __future__ import annotations

import json
import time
import tracemalloc
from collections import defaultdict
from datetime import date
from typing import Any

import pytest
from django.utils import timezone

from lingjing.accounts.models import User
from lingjing.privacy.engines import export_person, iter_person_data
from lingjing.privacy.registry import CATEGORIES, declaration_for, is_child, is_sensitive_for
from lingjing.privacy.tests.conftest import World, slow
from lingjing.privacy.tests.testapp.models import Bulk, Diary, Showcase, Visit


def _by_model(records: list[Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """model label -> object id -> field -> value"""
    out: dict[str, dict[str, dict[str, Any]]] = defaultdict(lambda: defaultdict(dict))
    for r in records:
        out[r["model"]][r["object_id"]][r["field"]] = r["value"]
    return out


def test_every_declared_field_of_every_row_is_exported_decrypted(world: World) -> None:
    alice = world.alice.user
    got = _by_model(list(iter_person_data(alice)))

    diary_fields = {n for n, pd in declaration_for(Diary).fields.items() if pd.export != "omit"}  # type: ignore[union-attr]
    diaries = Diary.objects.filter(owner=alice)
    assert set(got["privacy_testapp.Diary"]) == {str(d.pk) for d in diaries}
    for diary in diaries:
        row = got["privacy_testapp.Diary"][str(diary.pk)]
        expected = diary_fields - ({"attachment"} if not diary.attachment else set())
        assert set(row) == expected
        assert row["body"] == diary.body and row["body"].startswith("alice-日记正文-")  # sealed, decrypted
        assert row["title"] == diary.title
        assert row["written_at"] == timezone.localtime(diary.written_at).isoformat()
        if diary.attachment:
            assert row["attachment"] == diary.attachment.name  # export="file": the storage name

    user_row = got["accounts.User"][str(alice.pk)]
    assert user_row["phone"] == "+8613811112222"
    assert user_row["birth_date"] == "1990-05-06"
    assert user_row["nickname"] == "alice-昵称"
    assert "password" not in user_row and "phone_index" not in user_row  # export="omit"

    # subject_ref rows (a CharField holding u:<uuid>) and the sealed details of the person's audit entries
    assert sorted(v["ip"] for v in got["privacy_testapp.Visit"].values()) == ["10.5.97.1", "10.5.97.2", "10.5.97.3"]
    audit_details = [json.loads(v["sealed"]) for v in got["security.AuditEntry"].values() if "sealed" in v]
    assert {"nickname": "alice-审计细节"} in audit_details
    assert set(got["privacy_testapp.Showcase"]) == {str(s.pk) for s in Showcase.objects.filter(author=alice)}


def test_nothing_of_another_person_appears(world: World) -> None:
    records = list(iter_person_data(world.alice.user))
    text = json.dumps(records, ensure_ascii=False)
    for marker in world.alice.markers:
        if marker not in (world.alice.markers[1],):  # the national number is part of the exported phone
            assert marker in text, marker
    for marker in world.bob.markers:
        assert marker not in text, marker
    bob_diaries = Diary.objects.filter(owner=world.bob.user).values_list("pk", flat=True)
    bob_ids = {str(world.bob.user.pk)} | {str(pk) for pk in bob_diaries}
    assert not bob_ids & {r["object_id"] for r in records}


def test_export_person_groups_by_category_with_labels(world: World) -> None:
    grouped = export_person(world.alice.user)
    assert list(grouped)[:1] == ["identity.phone"]  # taxonomy order
    phone = grouped["identity.phone"]
    assert phone["label"] == "手机号码"
    assert [item["value"] for item in phone["items"]] == ["+8613811112222"]
    item = phone["items"][0]
    assert item["purposes"] == ["account", "security"] and item["purpose_labels"][0] == "注册与账号管理"
    assert item["basis"] == "contract" and item["retention"] == "账号存续期间"
    assert grouped["device.ip"]["label"] == "IP 地址"
    json.dumps(grouped, ensure_ascii=False)  # ready for the API and the copy package
    english = export_person(world.alice.user, lang="en")
    assert english["identity.phone"]["label"] == "Mobile phone number"


def test_every_datum_of_a_child_is_sensitive(world: World) -> None:
    today = timezone.localdate()
    child = User.objects.create_user("+8613700137003", nickname="小朋友", birth_date=f"{today.year - 10}-01-01")
    Bulk.objects.create(owner=child, text="child usage", n=1)
    records = list(iter_person_data(child))
    assert records and all(r["sensitive"] for r in records)
    adult = list(iter_person_data(world.alice.user))
    assert adult and all(r["sensitive"] == CATEGORIES[r["category"]].sensitive for r in adult)


def test_children_rule_is_exactly_under_fourteen() -> None:
    class P:
        birth_date: str | None = "2012-06-15"

    person = P()
    assert is_child(person, today=date(2026, 6, 14))
    assert not is_child(person, today=date(2026, 6, 15))  # the 14th birthday
    person.birth_date = None
    assert is_child(person)  # unknown age: the stricter handling
    person.birth_date = "1990-01-01"
    pd = declaration_for(Visit).fields["ip"]  # type: ignore[union-attr]
    assert not is_sensitive_for(pd, person)
    person.birth_date = "2020-01-01"
    assert is_sensitive_for(pd, person)


def _peak_while_consuming(user: User, *, materialise: bool) -> int:
    tracemalloc.start()
    try:
        if materialise:
            rows = list(Bulk.objects.filter(owner=user))
            assert rows
        else:
            count = sum(1 for _ in iter_person_data(user, chunk_size=200))
            assert count
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _bulk(user: User, n: int) -> None:
    Bulk.objects.bulk_create([Bulk(owner=user, text=f"row {i:06d} usage text", n=i) for i in range(n)], batch_size=2000)


@pytest.mark.django_db
def test_export_streams_with_flat_memory() -> None:
    small = User.objects.create_user("+8613700000001", birth_date="1990-01-01")
    large = User.objects.create_user("+8613700000002", birth_date="1990-01-01")
    _bulk(small, 500)
    _bulk(large, 3_000)
    _peak_while_consuming(small, materialise=False)  # warm-up: first-use imports and caches are not rows
    peak_small = _peak_while_consuming(small, materialise=False)
    peak_large = _peak_while_consuming(large, materialise=False)
    assert peak_large < peak_small * 1.5, (peak_small, peak_large)
    # The measure can fail: loading the same rows at once costs several times as much.
    assert _peak_while_consuming(large, materialise=True) > peak_large * 2


@slow
@pytest.mark.django_db
def test_export_of_100k_rows_stays_flat() -> None:
    user = User.objects.create_user("+8613700000003", birth_date="1990-01-01")
    _bulk(user, 100_000)
    started = time.perf_counter()
    count = sum(1 for _ in iter_person_data(user, chunk_size=2000))
    elapsed = time.perf_counter() - started
    tracemalloc.start()
    sum(1 for _ in iter_person_data(user, chunk_size=2000))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"exported {count:,} records in {elapsed:.1f} s; traced peak {peak / 1024 / 1024:.1f} MiB")
    assert count >= 100_000
    assert peak < 20 * 1024 * 1024, peak
