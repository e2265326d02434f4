"""Working days on the mainland calendar: statutory holidays (法定节假日) and make-up workdays (调休).

Deadlines counted in working days (complaints and rights requests: 15 working days, App认定方法 / GB/T 35273)
follow the State Council's yearly holiday notice, which the ``chinese-calendar`` package tracks. A make-up
Saturday or Sunday counts as a working day; a weekday inside a holiday does not.

The package only knows the years the State Council has published. For a date beyond its range (next year's
notice usually appears in November), the rule falls back to Monday–Friday and logs a warning once per year: the
deadline may then be a day or two early around holidays, never later than promised. Upgrading the pinned
``chinese-calendar`` after each notice keeps this from happening.

Counting: ``add_working_days(start, n)`` is the n-th working day *after* ``start`` (the day a request arrives does
not count, whatever time it arrives). :func:`deadline` turns that into the end of that day in Asia/Shanghai.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import overload

import chinese_calendar  # type: ignore[import-untyped]
from django.utils import timezone

log = logging.getLogger("lingjing.workdays")
_warned_years: set[int] = set()


def is_working_day(day: dt.date) -> bool:
    """True on a mainland working day (including make-up weekend days), False on weekends and holidays."""
    if isinstance(day, dt.datetime):
        day = timezone.localtime(day).date() if timezone.is_aware(day) else day.date()
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        if day.year not in _warned_years:
            _warned_years.add(day.year)
            log.warning("no holiday calendar for %s: counting Monday-Friday; upgrade chinese-calendar", day.year)
        return day.weekday() < 5


@overload
def add_working_days(start: dt.datetime, n: int) -> dt.datetime: ...
@overload
def add_working_days(start: dt.date, n: int) -> dt.date: ...


def add_working_days(start: dt.date, n: int) -> dt.date:
    """The ``n``-th working day after ``start`` (before it when ``n`` is negative; ``start`` itself for 0).

    A datetime keeps its local time of day on the day found (an aware datetime is read in Asia/Shanghai).
    """
    if isinstance(start, dt.datetime):
        local = timezone.localtime(start) if timezone.is_aware(start) else start
        day = add_working_days(local.date(), n)
        return local.replace(year=day.year, month=day.month, day=day.day)
    step = 1 if n >= 0 else -1
    remaining = abs(n)
    day = start
    while remaining:
        day += dt.timedelta(days=step)
        if is_working_day(day):
            remaining -= 1
    return day


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days after ``start`` up to and including ``end`` (negative when ``end`` is before ``start``)."""
    if end < start:
        return -working_days_between(end, start)
    count = 0
    day = start
    while day < end:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            count += 1
    return count


def deadline(received: dt.datetime, n: int) -> dt.datetime:
    """End of the ``n``-th working day after the (local) day ``received`` falls on: 23:59:59.999999 Asia/Shanghai."""
    local_day = timezone.localtime(received).date()
    due_day = add_working_days(local_day, n)
    end = dt.datetime.combine(due_day, dt.time.max)
    return timezone.make_aware(end, timezone.get_default_timezone())
