"""Demo accounts for ``lingjing demo``: one staff member per role, a superuser, and two members.

Idempotent: an account that exists (looked up by its phone number) is left as it is, apart from its roles.
Phones are in the reserved test range ``+861380000xxxx``; every demo account shares one password, printed.
"""

from __future__ import annotations

import datetime as dt
from typing import TextIO

from django.db import transaction

from lingjing.accounts.actions import STAFF_ROLES, do_register_user, do_set_roles
from lingjing.accounts.models import User
from lingjing.security.audit import AuditEvent, record

DEMO_PASSWORD = "lingjing-demo-2026"  # noqa: S105 - documented demo credential, printed on seeding

STAFF = [
    ("+8613800000000", "站长", []),  # superuser
    ("+8613800000001", "客服专员", ["support_agent"]),
    ("+8613800000002", "隐私官", ["privacy_officer"]),
    ("+8613800000003", "安全官", ["security_officer"]),
    ("+8613800000004", "内容审核员", ["content_moderator"]),
    ("+8613800000005", "审计员", ["auditor"]),
]
MEMBERS = [
    ("+8613800000101", "演示创作者"),
    ("+8613800000102", "演示观众"),
]


def _ensure(phone: str, nickname: str) -> tuple[User, bool]:
    user = User.objects.get_by_phone(phone)
    if user is not None:
        return user, False
    user = do_register_user(
        phone=phone, nickname=nickname, birth_date=dt.date(1990, 1, 1), password=DEMO_PASSWORD,
    )
    return user, True


def seed(stdout: TextIO) -> list[User]:
    users: list[User] = []
    created = 0
    for phone, nickname, roles in STAFF:
        user, new = _ensure(phone, nickname)
        created += new
        if phone.endswith("0000") and not user.is_superuser:
            with transaction.atomic(durable=True):
                User.objects.filter(pk=user.pk).update(is_superuser=True, is_staff=True)
                record(AuditEvent.USER_ROLE_CHANGED, subject=user.subject, obj=user, details={"superuser": True})
            user.refresh_from_db()
        if set(user.groups.values_list("name", flat=True)) != set(roles) or (roles and not user.is_staff):
            do_set_roles(user, roles, acting_user=None)
        users.append(user)
        stdout.write(f"  {nickname:<8} {phone}  {'superuser' if user.is_superuser else ', '.join(roles)}\n")
    for phone, nickname in MEMBERS:
        user, new = _ensure(phone, nickname)
        created += new
        users.append(user)
        stdout.write(f"  {nickname:<8} {phone}  member\n")
    stdout.write(f"accounts: {created} created, {len(users) - created} already there; password: {DEMO_PASSWORD}\n")
    assert set(STAFF_ROLES) == {r for _, _, rs in STAFF for r in rs}
    return users
