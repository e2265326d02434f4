"""Per-process memos of small shared tables (core/memo.py) and their users: the policy versions behind the
acceptance gate and the banner, the announcements behind the banner."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from lingjing.core import memo as memos


def _counting_memo(seconds: float = 60.0, clock: list[float] | None = None) -> tuple[memos.ProcessMemo[int], list[int]]:
    calls: list[int] = []

    def load() -> int:
        calls.append(1)
        return len(calls)

    now = clock if clock is not None else [0.0]
    return memos.ProcessMemo(f"test.{id(calls)}", load, seconds, clock=lambda: now[0]), calls


@pytest.mark.django_db
def test_inside_a_transaction_the_loader_always_runs() -> None:
    memo, calls = _counting_memo()
    assert connection.in_atomic_block
    assert [memo.get(), memo.get()] == [1, 2]


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_value_is_kept_until_cleared_or_expired() -> None:
    clock = [1000.0]
    memo, calls = _counting_memo(seconds=5, clock=clock)
    assert [memo.get(), memo.get()] == [1, 1]
    clock[0] += 6
    assert memo.get() == 2
    memo.clear()
    assert memo.get() == 3
    memos.clear_all()
    assert memo.get() == 4


@pytest.mark.django_db(transaction=True)
def test_a_clear_inside_a_transaction_is_repeated_when_it_commits() -> None:
    memo, calls = _counting_memo()
    assert memo.get() == 1
    with transaction.atomic():
        memo.clear()
        memo._value = (float("inf"), 99)  # another request loaded the old rows before the commit
    assert memo.get() == 2


@pytest.mark.django_db(transaction=True)
def test_policy_versions_come_from_the_memo_and_effective_dates_pass_on_time() -> None:
    from lingjing.consent.models import PolicyVersion
    from lingjing.consent.policy import current_policy_version, latest_material_in_force, upcoming_policy_version

    current_policy_version()  # version 1, not material
    start = timezone.now()
    assert latest_material_in_force() is None
    version = PolicyVersion.objects.create(number=2, effective_at=start + dt.timedelta(days=7), material=True,
                                           body_zh="二", body_en="two")  # the save drops the memo
    assert upcoming_policy_version() == version and latest_material_in_force() is None
    with CaptureQueriesContext(connection) as ctx:
        upcoming_policy_version()
        with time_machine.travel(start + dt.timedelta(days=7, seconds=1), tick=False):
            assert latest_material_in_force() == version  # in force exactly on time, from the same rows
            assert upcoming_policy_version() is None
    assert ctx.captured_queries == []


@pytest.mark.django_db(transaction=True)
def test_the_banner_shows_a_saved_announcement_at_once_and_ends_it_on_time() -> None:
    from lingjing.notify.announcements import banner_announcements
    from lingjing.notify.models import Announcement

    assert banner_announcements() == []
    now = timezone.now()
    ann = Announcement.objects.create(title_zh="维护通知", title_en="Maintenance", body_zh="正文", body_en="Body",
                                      starts_at=now - dt.timedelta(minutes=1), ends_at=now + dt.timedelta(hours=1))
    with CaptureQueriesContext(connection) as ctx:
        assert [a.pk for a in banner_announcements()] == [ann.pk]
        assert banner_announcements(now + dt.timedelta(hours=2)) == []
    assert len(ctx.captured_queries) <= 1
    ann.banner = False
    ann.save()
    assert banner_announcements() == []
