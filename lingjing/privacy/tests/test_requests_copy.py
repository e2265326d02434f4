"""The copy (policy 五(六); PIPL art. 45): every declared datum of the person, decrypted, and nothing of anyone else;
a streamed zip with a Chinese index, JSON with its schema, CSV per category and the person's files; download behind
the session plus an expiring token; deleted after 7 days; one a day; free."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from lingjing.accounts.models import User
from lingjing.privacy.actions import DuplicateRequest, Requester, submit_request
from lingjing.privacy.registry import CATEGORIES, declarations
from lingjing.privacy.requests import downloads
from lingjing.privacy.requests.models import RequestStatus, RightsRequest
from lingjing.privacy.requests.package import ROOT, local_path
from lingjing.privacy.tests.rights import make_user, populate_everything

pytestmark = pytest.mark.django_db


def _copy(user: User) -> RightsRequest:
    req = submit_request(user, "copy", requester=Requester(verification="step_up", acting_user=user))
    return RightsRequest.objects.get(pk=req.pk)


def _entries(path: Any) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_a_copy_contains_every_declared_field_decrypted_and_nothing_of_anyone_else(settings: Any) -> None:
    settings.LINGJING_AUDIT_CHECKPOINT_EVERY = 10**9
    carol = make_user("+8613900000003", "carol")
    alice = make_user("+8613900000001", "alice")
    bob = make_user("+8613900000002", "bob")
    mine = populate_everything(alice, "ALICE", other=carol)
    theirs = populate_everything(bob, "BOBBY", other=carol)
    assert not mine.failures, "\n".join(mine.failures)
    assert not theirs.failures, "\n".join(theirs.failures)

    req = _copy(alice)
    assert req.status == RequestStatus.COMPLETED and req.package_name and req.fee_fen == 0
    entries = _entries(local_path(req.package_name))
    data = json.loads(entries[f"{ROOT}/data.json"])
    assert data["format"] == "lingjing.personal-data-copy" and data["subject"] == f"u:{alice.pk}"
    found: dict[tuple[str, str], list[Any]] = {}
    for record in data["records"]:
        found.setdefault((record["model"], record["field"]), []).append(record["value"])
    declared = {(d.label, name) for d in declarations() if d.subject or d.subject_ref
                for name, pd in d.fields.items() if pd.export != "omit"}
    assert declared <= set(mine.expected), sorted(declared - set(mine.expected))
    missing = [(key, value) for key, values in mine.expected.items() for value in values
               if value not in found.get(key, [])]
    assert not missing, missing[:10]

    everything = b"\n".join(entries.values()).decode("utf-8", errors="replace")
    leaked = [m for m in theirs.markers if m and m in everything]
    assert not leaked, leaked[:10]
    assert str(bob.pk) not in everything
    for name in mine.files:
        if name != alice.avatar_thumb:  # the thumbnail is a derived copy of the avatar (export="omit")
            assert f"{ROOT}/files/{name}" in entries, name


def test_the_package_is_browsable_documented_and_per_category(settings: Any) -> None:
    alice = make_user("+8613900000001", "alice")
    req = _copy(alice)
    entries = _entries(local_path(req.package_name))
    index = entries[f"{ROOT}/index.html"].decode()
    assert "个人信息副本" in index and 'lang="zh-hans"' in index and "categories/identity.phone.html" in index
    schema = json.loads(entries[f"{ROOT}/schema.json"])
    assert schema["properties"]["records"]["items"]["properties"]["category"]["enum"] == list(CATEGORIES)
    csv_text = entries[f"{ROOT}/csv/identity.phone.csv"].decode("utf-8-sig")
    assert alice.phone in csv_text and csv_text.splitlines()[0].startswith("model_label,")
    page = entries[f"{ROOT}/categories/profile.nickname.html"].decode()
    assert "alice" in page and "展示账户信息" in page  # the datum, with its purpose
    data = json.loads(entries[f"{ROOT}/data.json"])
    assert {r["category"] for r in data["records"]} == {c for c in CATEGORIES if f"{ROOT}/csv/{c}.csv" in entries}


def test_download_needs_the_session_and_the_token_and_expires_after_seven_days(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    alice = make_user("+8613900000001", "alice")
    bob = make_user("+8613900000002", "bob")
    req = _copy(alice)
    url = downloads.page_url(req)
    assert url is not None
    assert Client().get(url).status_code == 404  # no session
    as_bob = Client()
    as_bob.force_login(bob)
    assert as_bob.get(url).status_code == 404  # someone else's session
    as_alice = Client()
    as_alice.force_login(alice)
    assert as_alice.get(url.split("?")[0] + "?token=" + "0" * 40).status_code == 404  # wrong token
    response = as_alice.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert zipfile.ZipFile(io.BytesIO(body)).testzip() is None
    with time_machine.travel(timezone.now() + dt.timedelta(days=7, minutes=1), tick=False):
        assert as_alice.get(url).status_code == 404
        from lingjing.privacy.requests.due import run_due

        with django_capture_on_commit_callbacks(execute=True):
            assert run_due()["packages_deleted"] == 1
    req.refresh_from_db()
    assert req.package_deleted_at is not None and not local_path(req.package_name).exists()


def test_one_copy_a_day_and_copies_are_never_charged(settings: Any) -> None:
    settings.LINGJING_TRANSFER_FREE_PER_YEAR = 1
    alice = make_user("+8613900000001", "alice")
    first = _copy(alice)
    with pytest.raises(DuplicateRequest) as caught:
        _copy(alice)
    assert caught.value.code == "copy_daily_limit" and caught.value.existing.pk == first.pk
    for days in (1, 2, 3):
        with time_machine.travel(timezone.now() + dt.timedelta(days=days, hours=1), tick=False):
            assert _copy(alice).fee_fen == 0


def test_memory_stays_flat_while_the_copy_streams(settings: Any) -> None:
    """Five times the rows, about the same traced peak: nothing in the builder grows with the number of rows."""
    import tracemalloc

    from lingjing.privacy.requests.package import build_package
    from lingjing.privacy.tests.testapp.models import Bulk

    peaks = []
    for n, phone in ((1_000, "+8613900000011"), (5_000, "+8613900000012")):
        person = make_user(phone, f"p{n}")
        Bulk.objects.bulk_create([Bulk(owner=person, text=f"row-{i:06d}-" + "x" * 40, n=i) for i in range(n)])
        tracemalloc.start()
        info = build_package(person, local_path(f"rights/flat-{n}.zip"))
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert info.per_category["behaviour.usage"] == n
    assert peaks[1] < peaks[0] * 1.5 + 512 * 1024, peaks


def test_the_fast_reader_yields_exactly_the_engines_records(settings: Any) -> None:
    from lingjing.privacy.engines.export import iter_person_data
    from lingjing.privacy.requests.package import iter_records

    carol = make_user("+8613900000003", "carol")
    alice = make_user("+8613900000001", "alice")
    populated = populate_everything(alice, "ALICE", other=carol)
    assert not populated.failures
    engine = list(iter_person_data(alice, lang="zh"))
    assert len(engine) > 100
    assert list(iter_records(alice, lang="zh")) == engine
