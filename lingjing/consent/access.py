"""Access chokepoints of the consent app: a person reaches only their own receipts and notices."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import Http404

from lingjing.consent.models import ConsentReceipt, PolicyNotice


def access_receipt(user: Any, receipt_id: uuid.UUID | str, *, write: bool = False) -> ConsentReceipt:
    if write or user is None or not getattr(user, "is_authenticated", False):
        raise Http404
    receipt = ConsentReceipt.objects.filter(pk=receipt_id, user_id=user.pk).first()
    if receipt is None:
        raise Http404
    return receipt


def access_policy_notice(user: Any, notice_id: int, *, write: bool = False) -> PolicyNotice:
    if user is None or not getattr(user, "is_authenticated", False):
        raise Http404
    notice = PolicyNotice.objects.filter(pk=notice_id, user_id=user.pk).select_related("version").first()
    if notice is None:
        raise Http404
    return notice


def is_privacy_officer(user: Any) -> bool:
    """Who may publish policy versions and read the analytics reports (role ``privacy_officer``)."""
    return bool(getattr(user, "is_authenticated", False) and user.is_active
                and user.has_perm("consent.publish_policyversion"))
