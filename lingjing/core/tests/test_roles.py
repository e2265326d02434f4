"""Staff roles: groups made on migrate with exactly the permissions in the table; no role, no console."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.test import Client

from lingjing.core import roles
from lingjing.core.roles import ROLES, sync_roles

pytestmark = pytest.mark.django_db


def perm_names(group: Group) -> set[str]:
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


def existing(names: tuple[str, ...]) -> set[str]:
    return {f"{p.content_type.app_label}.{p.codename}" for p in roles.resolve_permissions(Permission, names)}


def test_each_role_exists_after_migrate_with_exactly_its_declared_permissions() -> None:
    assert {g.name for g in Group.objects.filter(name__in=roles.ROLE_NAMES)} == set(roles.ROLE_NAMES)
    for role in ROLES:
        group = Group.objects.get(name=role.name)
        assert perm_names(group) == existing(role.permissions), role.name
    # The tables reference real permissions, not only future ones.
    assert "accounts.view_user" in perm_names(Group.objects.get(name="support_agent"))
    assert "admin.view_logentry" in perm_names(Group.objects.get(name="auditor"))


def test_roles_are_read_mostly_and_nobody_may_delete() -> None:
    for role in ROLES:
        assert not any(name.split(".", 1)[1].startswith("delete_") for name in role.permissions), role.name
        assert not any(name.startswith(("auth.", "contenttypes.", "sessions.")) for name in role.permissions)


def test_sync_is_idempotent_and_removes_permissions_granted_by_hand() -> None:
    group = Group.objects.get(name="content_moderator")
    extra = Permission.objects.get(content_type__app_label="auth", codename="change_group")
    group.permissions.add(extra)
    first = sync_roles()
    second = sync_roles()
    assert first == second
    assert "auth.change_group" not in perm_names(group)
    assert Group.objects.filter(name__in=roles.ROLE_NAMES).count() == len(ROLES)


def test_unknown_permissions_are_skipped_and_malformed_ones_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    table = (roles.Role("auditor", "审计员", "Auditor", ("admin.view_logentry", "notyet.view_thing")),)
    monkeypatch.setattr(roles, "ROLES", table)
    assert sync_roles() == {"auditor": 1}
    with pytest.raises(ValueError, match="app_label.codename"):
        roles.resolve_permissions(Permission, ("view_logentry",))


def test_console_is_titled_and_a_staff_member_without_a_role_sees_nothing(make_user: Any) -> None:
    client = Client()
    client.force_login(make_user("无角色员工", staff=True))
    response = client.get("/console/")
    assert response.status_code == 200
    assert "灵境管理后台" in response.content.decode()
    assert response.context["app_list"] == []


def test_a_role_sees_only_models_its_permissions_cover(make_user: Any) -> None:
    for role in ROLES:
        user = make_user(role.label, staff=True)
        user.groups.add(Group.objects.get(name=role.name))
        client = Client()
        client.force_login(user)
        app_list = client.get("/console/").context["app_list"]
        for app in app_list:
            for entry in app["models"]:
                meta = entry["model"]._meta
                allowed = {f"{meta.app_label}.{action}_{meta.model_name}" for action in ("view", "change", "add")}
                assert allowed & set(role.permissions), (role.name, meta.label)


def test_a_superuser_sees_the_console_apps(make_user: Any) -> None:
    client = Client()
    client.force_login(make_user("管理员", superuser=True))
    app_list = client.get("/console/").context["app_list"]
    assert {app["app_label"] for app in app_list} >= {"auth"}
    assert admin.site.site_header == "灵境管理后台"
