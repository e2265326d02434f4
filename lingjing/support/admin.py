"""Console (``/console/``): agents keep the canned replies here. Tickets are not in the console: agents work them on
``/support/agent/``, where access follows the assignment and every read is audited."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.options import csrf_protect_m
from django.http import HttpRequest, HttpResponse

from lingjing.support.actions import do_save_canned_reply
from lingjing.support.models import CannedReply


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("title", "category", "active", "updated_at")
    list_filter = ("category", "active")
    search_fields = ("title",)
    fields = ("title", "category", "body_zh", "body_en", "active")

    @csrf_protect_m  # type: ignore[untyped-decorator]
    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # Saving is a durable, audited action: not inside the admin's own transaction.
        response: HttpResponse = self._changeform_view(  # type: ignore[attr-defined]
            request, object_id, form_url, extra_context
        )
        return response

    def save_model(self, request: HttpRequest, obj: CannedReply, form: Any, change: bool) -> None:
        do_save_canned_reply(obj, acting_user=request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
