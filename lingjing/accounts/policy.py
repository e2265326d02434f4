"""What an account may do, for other apps to ask: ``can_create(user)``, ``can_publish(user)``, ``is_child(user)``.

A child under 14 (policy 六) waits in ``pending_guardian`` until a guardian confirms: browsing works, creating and
publishing do not. An account in its cancellation grace period (``closing``) neither creates nor publishes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from lingjing.privacy import registry

CHILD_AGE = registry.CHILD_AGE


def parse_birth_date(value: str | dt.date | None) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None


def age_on(birth: dt.date, today: dt.date) -> int:
    return registry.age_on(birth, today)


def is_child_birth_date(birth: dt.date, today: dt.date | None = None) -> bool:
    return age_on(birth, today or timezone.localdate()) < CHILD_AGE


def is_child(user: Any) -> bool:
    """Under 14 today (the registry's rule: an unreadable birth date counts as a child). All personal data of
    such a user is sensitive (``registry.is_sensitive_for``)."""
    return registry.is_child(user)


def _active(user: Any) -> bool:
    from lingjing.accounts.models import UserStatus

    return bool(getattr(user, "is_authenticated", False)) and getattr(user, "status", None) == UserStatus.ACTIVE


def can_create(user: Any) -> bool:
    """May start creation projects (studio)."""
    return _active(user)


def can_publish(user: Any) -> bool:
    """May publish works to the public feed."""
    return _active(user)


def denial_reason(user: Any) -> str:
    """A Chinese sentence saying why creating/publishing is not possible, for pages and API errors."""
    from lingjing.accounts.models import UserStatus

    if not getattr(user, "is_authenticated", False):
        return "请先登录"
    status = getattr(user, "status", None)
    if status == UserStatus.PENDING_GUARDIAN:
        return "未满 14 周岁的用户需要监护人同意后才能创作和发布作品"
    if status == UserStatus.CLOSING:
        return "账号正在注销冷静期，暂不能创作和发布"
    return "账号当前不可用"
