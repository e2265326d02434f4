"""Staff roles: one Django group per role, each with a least-privilege permission list.

The table below is the only place where a role's permissions are written down. ``sync_roles`` runs after every
``migrate`` (``post_migrate``) and makes each group hold exactly the permissions listed for it that exist:

1. a role missing from the database is created (idempotent: a second run changes nothing);
2. each listed ``"app_label.codename"`` is looked up; one whose app or model is not installed yet is skipped
   silently, so an app adds its permissions here in the same change that adds its models;
3. permissions granted to the group by hand (in the console) but not listed are removed, so the code stays the
   truth about who may see what (C4.1: only authorised staff reach personal data).

Assigning a person to a role is an account change and goes through ``lingjing.accounts`` actions (audited).
A staff account without a role sees nothing in the console (``/console/``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Role:
    name: str  # the group's name: stable, English, used in code and tests
    label: str  # what staff see
    label_en: str
    permissions: tuple[str, ...]  # "app_label.codename"


# Read-only access is the default; a role gets change/add rights only where its daily work needs them.
ROLES: tuple[Role, ...] = (
    Role(
        "support_agent",
        "客服",
        "Customer service",
        (
            "accounts.view_user",
            "support.view_ticket",
            "support.change_ticket",
            "support.view_ticketmessage",
            "support.add_ticketmessage",
            "support.handle_ticket",
            "support.view_cannedreply",
            "support.add_cannedreply",
            "support.change_cannedreply",
            "notify.view_announcement",
            "notify.add_announcement",
            "notify.change_announcement",
            # Ask to open a child's data for a stated purpose; a privacy officer approves (children.access).
            "children.add_childaccessrequest",
            "secops.read_personal",  # decrypted data only after stating a purpose (secops.staff)
        ),
    ),
    Role(
        "privacy_officer",
        "隐私官",
        "Privacy officer",
        (
            "accounts.view_user",
            "privacy.view_rightsrequest",
            "privacy.change_rightsrequest",
            "privacy.view_erasurerun",
            "consent.view_purpose",
            "consent.view_consentrecord",
            "consent.view_policyversion",
            "consent.add_policyversion",
            "consent.publish_policyversion",
            "sharing.view_recipient",
            "sharing.view_sharingrecord",
            "sharing.view_legalrequest",
            "sharing.add_legalrequest",  # registers; a second officer decides (never the one who registered)
            "sharing.decide_legalrequest",
            "children.view_childaccessrequest",
            "children.add_childaccessrequest",  # asks; another officer approves (never their own request)
            "children.approve_childaccessrequest",
            "decisions.view_decision",
            "decisions.view_reviewrequest",
            "decisions.handle_reviewrequest",
            "security.view_incident",
            "secops.view_incident",
            "secops.view_incidentreport",
            "secops.read_personal",
        ),
    ),
    Role(
        "security_officer",
        "安全官",
        "Security officer",
        (
            "security.view_auditentry",
            "security.view_keyrotation",
            "security.view_shreddedsubject",
            "security.view_incident",
            "security.add_incident",
            "security.change_incident",
            "security.view_riskevent",
            "accounts.view_apitoken",
            "notify.view_announcement",
            "notify.add_announcement",
            "notify.change_announcement",
            "notify.view_delivery",
            "django_tasks_database.view_dbtaskresult",  # the label of the django_tasks_db package
            "secops.view_securityevent",
            "secops.view_incident",
            "secops.add_incident",
            "secops.change_incident",
            "secops.view_incidentreport",
            "secops.view_incidentnotice",
            "secops.notify_affected",
            "secops.submit_report",
            "secops.run_drill",
            "secops.read_personal",
            "secops.view_staffaccessgrant",
            "secops.view_trainingacknowledgement",
            "secops.view_retentionrun",
            "sharing.view_recipient",  # the authorities a legal request names
            "sharing.view_legalrequest",
            "sharing.add_legalrequest",
            "sharing.decide_legalrequest",
        ),
    ),
    Role(
        "content_moderator",
        "内容审核",
        "Content moderator",
        (
            "works.view_work",
            "works.change_work",
            "works.view_report",
            "works.change_report",
            "community.moderate_content",  # the /moderation/ pages: reports, removals, appeals, keywords
            "community.view_moderationcase",
            "community.view_report",
            "community.view_comment",
            "community.view_blockedterm",
            "community.add_blockedterm",
            "community.change_blockedterm",
            "decisions.view_decision",  # the decision under review
            "decisions.view_reviewrequest",
            "decisions.handle_reviewrequest",  # appeals of moderation decisions (another moderator decides)
        ),
    ),
    Role(
        "auditor",
        "审计员",
        "Auditor",
        (
            "admin.view_logentry",
            "security.view_auditentry",
            "security.view_keyrotation",
            "security.view_incident",
            "privacy.view_rightsrequest",
            "privacy.view_erasurerun",
            "sharing.view_sharingrecord",
            "sharing.view_legalrequest",
            "children.view_childaccesslog",
            "decisions.view_reviewrequest",
            "consent.view_consentrecord",
            "consent.view_policyversion",
            "secops.view_securityevent",
            "secops.view_incident",
            "secops.view_incidentreport",
            "secops.view_staffaccessgrant",
            "secops.view_trainingacknowledgement",
            "secops.view_retentionrun",
        ),
    ),
)

ROLE_NAMES: tuple[str, ...] = tuple(role.name for role in ROLES)


def role(name: str) -> Role:
    for candidate in ROLES:
        if candidate.name == name:
            return candidate
    raise KeyError(name)


def resolve_permissions(permission_model: Any, names: tuple[str, ...], *, using: str = "default") -> list[Any]:
    """The Permission rows for ``"app_label.codename"`` names; names that do not exist (yet) are left out."""
    wanted: dict[tuple[str, str], str] = {}
    for full in names:
        app_label, _, codename = full.partition(".")
        if not app_label or not codename:
            raise ValueError(f"permission {full!r} must be written app_label.codename")
        wanted[(app_label, codename)] = full
    rows = (
        permission_model.objects.using(using)
        .filter(content_type__app_label__in={a for a, _ in wanted}, codename__in={c for _, c in wanted})
        .select_related("content_type")
    )
    return [row for row in rows if (row.content_type.app_label, row.codename) in wanted]


def sync_roles(*, apps: Any = None, using: str = "default") -> dict[str, int]:
    """Create every role's group and give it exactly its listed permissions. Returns role -> permission count."""
    if apps is None:
        from django.apps import apps as global_apps

        apps = global_apps
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    counts: dict[str, int] = {}
    for entry in ROLES:
        group, _ = group_model.objects.using(using).get_or_create(name=entry.name)
        permissions = resolve_permissions(permission_model, entry.permissions, using=using)
        group.permissions.set(permissions)
        counts[entry.name] = len(permissions)
    return counts


def sync_roles_after_migrate(
    sender: Any, app_config: Any = None, using: str = "default", apps: Any = None, **kwargs: Any
) -> None:
    """``post_migrate`` receiver: runs once, after the last app's permissions have been created."""
    from django.apps import apps as global_apps

    with_models = [config for config in global_apps.get_app_configs() if config.models_module is not None]
    if app_config is None or not with_models or app_config.label != with_models[-1].label:
        return
    if apps is not None:
        try:
            apps.get_model("auth", "Group")
        except LookupError:  # auth not migrated in this (partial) plan
            return
    sync_roles(apps=apps, using=using)
