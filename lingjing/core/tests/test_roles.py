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


# --- the staff flows each role must be able to run (and no more) ---------------------------------------------


def _in_role(make_user: Any, role_name: str, nickname: str) -> Any:
    from lingjing.accounts.models import User

    user = make_user(nickname, staff=True)
    user.groups.add(Group.objects.get(name=role_name))
    return User.objects.get(pk=user.pk)  # fresh: no cached permissions


def test_no_role_lists_a_permission_of_an_app_that_does_not_exist() -> None:
    from django.apps import apps

    labels = {config.label for config in apps.get_app_configs()}
    for role in ROLES:
        unknown = {name for name in role.permissions if name.split(".", 1)[0] not in labels}
        assert not unknown, (role.name, unknown)


def test_child_access_privacy_officers_ask_and_approve_support_agents_only_ask(make_user: Any) -> None:
    import datetime as dt

    from django.core.exceptions import PermissionDenied
    from django.utils import timezone

    from lingjing.accounts.models import User
    from lingjing.children.access import access_child_record
    from lingjing.children.actions import do_decide_child_access, do_request_child_access

    birth = dt.date(timezone.localdate().year - 9, 1, 1).isoformat()
    child = User.objects.create_user("+8613912340001", nickname="小明", birth_date=birth)
    first = _in_role(make_user, "privacy_officer", "隐私官甲")
    second = _in_role(make_user, "privacy_officer", "隐私官乙")
    agent = _in_role(make_user, "support_agent", "客服甲")

    asked = do_request_child_access(child, purpose="核实监护人投诉", hours=2, acting_user=first)
    with pytest.raises(PermissionDenied):  # two different people
        do_decide_child_access(asked, approve=True, note="自批", acting_user=first)
    do_decide_child_access(asked, approve=True, note="同意", acting_user=second)
    opened, _grant = access_child_record(first, child.pk)
    assert opened.pk == child.pk

    by_agent = do_request_child_access(child, purpose="处理家长工单", hours=1, acting_user=agent)
    with pytest.raises(PermissionDenied):  # customer service asks, never approves
        do_decide_child_access(by_agent, approve=True, note="同意", acting_user=agent)
    client = Client()
    client.force_login(agent)
    assert client.get(f"/children/staff/requests/{by_agent.pk}/").status_code == 200
    do_decide_child_access(by_agent, approve=False, note="理由不足", acting_user=second)


def test_legal_requests_one_officer_registers_another_decides(make_user: Any) -> None:
    from django.core.exceptions import PermissionDenied

    from lingjing.sharing.actions import do_decide_legal_request, do_register_legal_request, do_save_recipient
    from lingjing.sharing.models import LegalRequestStatus, Recipient, RecipientKind, RecipientRole

    police = do_save_recipient(Recipient(
        slug="roles-police", legal_name="某市公安局", contact="0571-00000000", country="CN",
        kind=RecipientKind.AUTHORITY, role=RecipientRole.CONTROLLER, legal_basis="legal_duty",
        purposes=["compliance"], categories=["identity.phone"],
    ), acting_user=None)
    person = make_user("被调取人")
    security = _in_role(make_user, "security_officer", "安全官甲")
    privacy = _in_role(make_user, "privacy_officer", "隐私官甲")
    moderator = _in_role(make_user, "content_moderator", "审核员甲")

    def register(by: Any) -> Any:
        return do_register_legal_request(
            authority=police, reference_no="调证字〔2026〕1号", document_kind="调取证据通知书",
            legal_basis_text="《刑事诉讼法》第五十四条", categories=["identity.phone"], people=[person], acting_user=by,
        )

    with pytest.raises(PermissionDenied):
        register(moderator)
    req = register(security)
    with pytest.raises(PermissionDenied):
        do_decide_legal_request(req, approve=True, note="自批", acting_user=security)
    done = do_decide_legal_request(req, approve=False, note="手续不全", acting_user=privacy)
    assert done.status == LegalRequestStatus.REJECTED
    again = register(privacy)
    assert do_decide_legal_request(again, approve=False, note="手续不全", acting_user=security).decided_by == security


def test_decision_reviews_are_open_to_moderators_and_privacy_officers_only(make_user: Any) -> None:
    from django.core.exceptions import PermissionDenied

    from lingjing.decisions.access import open_reviews

    for name in ("content_moderator", "privacy_officer"):
        assert list(open_reviews(_in_role(make_user, name, name))) == []
    for name in ("support_agent", "security_officer", "auditor"):
        with pytest.raises(PermissionDenied):
            open_reviews(_in_role(make_user, name, name))


def test_the_placeholder_announcement_permission_is_gone() -> None:
    listed = {name for role in ROLES for name in role.permissions}
    assert not {name for name in listed if name.startswith("notices.")}
    assert "notify.view_announcement" in role_permissions("support_agent")


def role_permissions(name: str) -> tuple[str, ...]:
    return roles.role(name).permissions
