"""Announcements: the banner on every page and the fan-out into every active person's inbox.

Fan-out (``run_fanout``), safe to run twice and to resume after a crash:

1. Claim: ``scheduled`` (and due) or ``running`` → ``running`` (``claim_announcement``); a future or finished
   announcement is left alone.
2. In chunks of ``CHUNK`` active people, ordered by id after ``fanout_cursor``: one inbox entry each (a unique
   constraint makes a repeated chunk a no-op), the cursor moved past the chunk and one audit row, in one durable
   transaction per chunk (``do_fan_out_chunk``).
3. ``done``. Service and security announcements ignore opt-outs: they are not advertising (policy 一(三)).

Scheduled announcements: the database queue runs the task at ``starts_at``; ``publish_due`` (called by
``lingjing notify run``) catches any whose task was lost, and is what publishes them where the queue cannot defer.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from lingjing.core.memo import ProcessMemo
from lingjing.notify.actions import claim_announcement, do_fan_out_chunk, finish_announcement
from lingjing.notify.models import Announcement, FanoutState

CHUNK = 500


def active_people() -> QuerySet[Any]:
    from lingjing.consent.notify import active_people as people

    return people()  # type: ignore[no-any-return]


def run_fanout(announcement_id: int) -> int:
    """Put the announcement into every active person's inbox; answers how many entries this run added."""
    ann = claim_announcement(announcement_id)
    if ann is None:
        return 0
    added = 0
    cursor = ann.fanout_cursor
    while True:
        people = active_people().order_by("pk")
        if cursor:
            people = people.filter(pk__gt=cursor)
        ids = list(people.values_list("pk", flat=True)[:CHUNK])
        if not ids:
            break
        added += do_fan_out_chunk(ann, ids)
        cursor = str(ids[-1])
    finish_announcement(ann)
    return added


def publish_due() -> list[int]:
    """Fan out every announcement whose time has come and that is not delivered yet."""
    due = list(
        Announcement.objects.filter(
            fanout_state__in=[FanoutState.SCHEDULED, FanoutState.RUNNING], starts_at__lte=timezone.now()
        ).values_list("pk", flat=True)
    )
    for pk in due:
        run_fanout(pk)
    return due


def _load_banner_rows() -> list[Announcement]:
    """Every banner announcement not ended yet, future ones included (the memo's rows)."""
    now = timezone.now()
    return list(Announcement.objects.filter(banner=True).filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
                .defer("body_zh", "body_en").order_by("-starts_at"))


# The banner is on every page; announcements change rarely. The rows are kept per process for a few seconds and
# "running now" decided at the request's time (core/memo.py): a saved announcement shows at once in this process
# and within BANNER_SECONDS in the others.
BANNER_SECONDS = 10.0
banner_memo = ProcessMemo("notify.banner", _load_banner_rows, BANNER_SECONDS)


def banner_announcements(now: Any = None) -> list[Announcement]:
    """What the banner shows now (the same as :func:`live_announcements`), from the per-process memo."""
    at = now or timezone.now()
    return [a for a in banner_memo.get() if a.starts_at <= at and (a.ends_at is None or a.ends_at > at)]


def live_announcements(now: Any = None) -> QuerySet[Announcement]:
    """What the banner shows now: started, not ended, with the banner switched on."""
    at = now or timezone.now()
    return Announcement.objects.filter(banner=True, starts_at__lte=at).filter(
        Q(ends_at__isnull=True) | Q(ends_at__gt=at)
    ).order_by("-starts_at")
