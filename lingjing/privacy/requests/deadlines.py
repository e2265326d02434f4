"""The answer deadline of a rights request.

1. A request is due at the end of the 15th working day after the (Asia/Shanghai) day it was received
   (``LINGJING_RIGHTS_DUE_WORKING_DAYS``; App认定方法 / GB/T 35273), counted on the mainland holiday calendar
   (``lingjing.core.workdays``: statutory holidays off, make-up weekend days on). The policy's 30 days is the outer
   bound; we promise the stricter one (L1).
2. The clock stops only while we wait for the requester (status ``awaiting_requester``: more information, a fee,
   a working transfer endpoint). On resuming, the working days spent waiting are added (``paused_days``), so the
   requester never loses time to our waiting and we never gain time from theirs beyond what they took.
3. A cancellation is carried out after the undo window the person chose to have; its deadline is the later of
   the usual one and two working days after the window ends.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from lingjing.core.workdays import deadline, working_days_between

GRACE_MARGIN_WORKING_DAYS = 2


def due_for(received_at: dt.datetime, *, paused_days: int = 0, grace_until: dt.datetime | None = None) -> dt.datetime:
    due = deadline(received_at, settings.LINGJING_RIGHTS_DUE_WORKING_DAYS + paused_days)
    if grace_until is not None:
        due = max(due, deadline(grace_until, GRACE_MARGIN_WORKING_DAYS))
    return due


def paused_working_days(paused_at: dt.datetime, resumed_at: dt.datetime) -> int:
    """Working days lost while waiting: the working days after the pause's day up to the resume's day."""
    start = timezone.localtime(paused_at).date()
    end = timezone.localtime(resumed_at).date()
    return max(0, working_days_between(start, end))


def outer_bound(received_at: dt.datetime) -> dt.datetime:
    """The policy's own promise (五(八): 三十天内答复), shown beside the stricter deadline."""
    return received_at + dt.timedelta(days=30)
