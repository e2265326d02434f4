"""Staff console: the audit log, read-only for everyone (superusers included).

The log is append-only: nothing here can add, change or delete an entry. Sealed personal details are not shown;
people's own details reach them through their data export, not through the console.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from lingjing.security.audit_models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("seq_display", "at_display", "event", "actor", "subject", "object_display")
    list_filter = ("event",)
    search_fields = ("=actor", "=subject", "=object_id", "=event")
    date_hierarchy = "at"
    ordering = ("-seq",)
    fields = ("seq", "at", "event", "actor", "subject", "object_type", "object_id", "details", "detail_mac",
              "prev_hash", "hash")
    readonly_fields = fields
    show_full_result_count = False  # COUNT(*) over millions of rows on every page is not worth it
    list_per_page = 100
    actions = None

    @admin.display(description=_("序号"), ordering="seq")
    def seq_display(self, entry: AuditEntry) -> int:
        return entry.seq

    @admin.display(description=_("时间"), ordering="at")
    def at_display(self, entry: AuditEntry) -> Any:
        return entry.at

    @admin.display(description=_("对象"))
    def object_display(self, entry: AuditEntry) -> str:
        return f"{entry.object_type}:{entry.object_id}" if entry.object_type else "—"

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).defer("sealed")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
