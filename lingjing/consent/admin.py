"""Staff console: purposes, consent records and policy versions, read-only.

Consents change only through the person (pages, API, unsubscribe links) and policy versions are published from
``/privacy/staff/policy`` (role ``privacy_officer``), both through actions that write the audit log; the console
shows, it never edits. The user agent of consent records is sealed and not shown.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from lingjing.consent.models import ConsentRecord, PolicyVersion, Purpose


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    actions = None

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Purpose)
class PurposeAdmin(ReadOnlyAdmin):
    list_display = ("key", "kind", "registry_purpose", "cookie_category", "honours_signals", "active")
    list_filter = ("kind", "active")


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ReadOnlyAdmin):
    list_display = ("at", "user_id", "purpose", "granted", "method", "notice_version", "ip_prefix")
    list_filter = ("method", "granted", "purpose")
    fields = ("at", "user", "purpose", "granted", "method", "notice_version", "ip_prefix", "receipt")
    readonly_fields = fields
    show_full_result_count = False


@admin.register(PolicyVersion)
class PolicyVersionAdmin(ReadOnlyAdmin):
    list_display = ("number", "published_at", "effective_at", "material", "notify_state")
    fields = ("number", "published_at", "effective_at", "material", "summary_zh", "summary_en", "published_by",
              "notify_state")
    readonly_fields = fields
