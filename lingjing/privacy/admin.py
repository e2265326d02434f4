"""Staff console: rights requests, erasure runs and sagas, deletion notices and transfer endpoints, read-only.

The work happens on the privacy officers' desk (``/privacy/requests/staff/``) through actions that write the audit
log; the console lists, never edits, and shows no sealed text (the requester's words open on the desk after a
fresh verification).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from lingjing.privacy.models import ErasureRun, ErasureSaga, PortabilityEndpoint, Propagation, RightsRequest


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    actions = None

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RightsRequest)
class RightsRequestAdmin(ReadOnlyAdmin):
    list_display = ("reference", "type", "status", "requester_kind", "channel", "received_at", "due_at", "closed_at",
                    "refusal_ground")
    list_filter = ("type", "status", "requester_kind", "channel")
    fields = ("reference", "type", "status", "status_reason", "requester_kind", "channel", "verification",
              "received_at", "due_at", "paused_days", "closed_at", "assigned_to", "decided_by", "refusal_ground",
              "fee_fen", "fee_paid_at", "grace_until", "package_size", "package_expires_at", "package_deleted_at")
    readonly_fields = fields


@admin.register(ErasureRun)
class ErasureRunAdmin(ReadOnlyAdmin):
    list_display = ("pk", "subject", "status", "step_label", "chunks_done", "rows_done", "started_at", "finished_at")
    list_filter = ("status",)


@admin.register(ErasureSaga)
class ErasureSagaAdmin(ReadOnlyAdmin):
    list_display = ("pk", "request_id", "status", "step", "attempts", "error", "started_at", "finished_at")
    list_filter = ("status",)


@admin.register(Propagation)
class PropagationAdmin(ReadOnlyAdmin):
    list_display = ("request_id", "recipient_slug", "status", "channel", "attempts", "sent_at", "last_error")
    list_filter = ("status", "channel")


@admin.register(PortabilityEndpoint)
class PortabilityEndpointAdmin(ReadOnlyAdmin):
    list_display = ("recipient_slug", "url", "active", "updated_at")
