"""Console views of security operations: read-only. Incidents are handled on their own pages (``/secops/``);
the security log shows pseudonyms only, and a staff member's reason for reading someone's data stays sealed."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from lingjing.secops.models import (
    Incident,
    IncidentNotice,
    IncidentReport,
    RetentionRun,
    SecurityEvent,
    StaffAccessGrant,
    TrainingAcknowledgement,
)


class ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    actions = None
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SecurityEvent)
class SecurityEventAdmin(ReadOnly):
    list_display = ("at", "kind", "outcome", "score", "detail", "channel", "actor_key", "net_key")
    list_filter = ("kind", "outcome", "channel")
    search_fields = ("=actor_key", "=ip_key", "=net_key", "=device_key")
    date_hierarchy = "at"
    list_per_page = 100


@admin.register(Incident)
class IncidentAdmin(ReadOnly):
    list_display = ("ref", "title", "kind", "level", "drill", "status", "discovered_at", "affected_count", "page")
    list_filter = ("drill", "status", "level", "kind")
    search_fields = ("=ref", "title")

    @admin.display(description="处置页面")
    def page(self, obj: Incident) -> str:
        return format_html('<a href="{}">打开</a>', reverse("secops:incident", args=[obj.pk]))


@admin.register(IncidentReport)
class IncidentReportAdmin(ReadOnly):
    list_display = ("incident", "stage", "due_at", "drafted_at", "submitted_at")
    list_filter = ("stage",)


@admin.register(IncidentNotice)
class IncidentNoticeAdmin(ReadOnly):
    list_display = ("incident", "channel", "status", "error", "created_at", "sent_at")
    list_filter = ("channel", "status")


@admin.register(StaffAccessGrant)
class StaffAccessGrantAdmin(ReadOnly):
    list_display = ("granted_at", "staff", "subject", "purpose", "reference", "expires_at", "reads", "revoked_at")
    list_filter = ("purpose",)
    fields = ("granted_at", "staff", "subject", "purpose", "reference", "expires_at", "fields_viewed", "reads",
              "revoked_at")

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).defer("reason")


@admin.register(TrainingAcknowledgement)
class TrainingAcknowledgementAdmin(ReadOnly):
    list_display = ("staff", "version", "acknowledged_at")
    list_filter = ("version",)


@admin.register(RetentionRun)
class RetentionRunAdmin(ReadOnly):
    list_display = ("started_at", "finished_at", "dry_run", "total")
