"""Retention of the accounts' short-lived rows."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from lingjing.accounts.models import SmsCode, UserSession


def purge_stale_codes(*, days: int = 1) -> int:
    """Delete SMS code rows older than ``days`` and session rows revoked more than 90 days ago."""
    now = timezone.now()
    with transaction.atomic():
        codes, _ = SmsCode.objects.filter(created_at__lt=now - dt.timedelta(days=days)).delete()
        sessions, _ = UserSession.objects.filter(revoked_at__lt=now - dt.timedelta(days=90)).delete()
    return codes + sessions
