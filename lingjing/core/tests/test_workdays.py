"""Working days on the mainland calendar (lingjing.core.workdays): holidays and make-up workdays count right."""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo

import pytest
from django.utils import timezone

from lingjing.core.workdays import add_working_days, deadline, is_working_day, working_days_between

D = dt.date
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def test_national_day_week_and_its_make_up_days() -> None:
    assert not is_working_day(D(2025, 10, 1)) and not is_working_day(D(2025, 10, 8))  # 国庆、中秋
    assert is_working_day(D(2025, 9, 28))  # a Sunday made a working day
    assert is_working_day(D(2025, 10, 11))  # a Saturday made a working day
    assert not is_working_day(D(2025, 10, 12)) and is_working_day(D(2025, 10, 9))


def test_fifteen_working_days_across_national_day() -> None:
    # Fri 26 Sep 2025 + 15 working days: 28, 29, 30 Sep; 9, 10, 11, 13-17, 20-23 Oct → Thu 23 Oct.
    # Counting Monday to Friday alone would give Fri 17 Oct, six days too early.
    assert add_working_days(D(2025, 9, 26), 15) == D(2025, 10, 23)
    assert working_days_between(D(2025, 9, 26), D(2025, 10, 23)) == 15
    assert working_days_between(D(2025, 10, 23), D(2025, 9, 26)) == -15
    assert add_working_days(D(2025, 10, 23), -15) == D(2025, 9, 26)
    assert add_working_days(D(2025, 9, 26), 0) == D(2025, 9, 26)


def test_spring_festival() -> None:
    # 2026 春节: 15-23 Feb off, Sat 14 and Sat 28 Feb worked.
    assert is_working_day(D(2026, 2, 14)) and not is_working_day(D(2026, 2, 16))
    assert add_working_days(D(2026, 2, 13), 1) == D(2026, 2, 14)
    assert add_working_days(D(2026, 2, 14), 1) == D(2026, 2, 24)


def test_a_datetime_keeps_its_local_time_and_the_deadline_is_the_end_of_the_day() -> None:
    received = dt.datetime(2025, 9, 26, 23, 30, tzinfo=SHANGHAI)
    moved = add_working_days(received, 1)
    assert timezone.localtime(moved).date() == D(2025, 9, 28) and timezone.localtime(moved).hour == 23
    due = deadline(received, 15)
    assert timezone.localtime(due) == timezone.make_aware(dt.datetime.combine(D(2025, 10, 23), dt.time.max))


def test_years_without_published_holidays_fall_back_to_weekdays(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="lingjing.workdays"):
        assert is_working_day(D(2031, 1, 6)) and not is_working_day(D(2031, 1, 4))
    assert "upgrade chinese-calendar" in caplog.text
