"""Console (``/console/``): staff publish announcements (now or scheduled) and read the delivery log.

Saving an announcement goes through ``do_save_announcement`` (checked, audited, fan-out scheduled after commit).
Nothing is deleted: an announcement is ended by setting its end time. The delivery log shows status, attempts and
errors only; the sealed addresses and texts are not shown here.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.options import csrf_protect_m
from django.http import HttpRequest, HttpResponse

from lingjing.notify.actions import announcement_problems, do_save_announcement
from lingjing.notify.models import Announcement, Delivery


class AnnouncementForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Announcement
        fields = ("kind", "title_zh", "title_en", "body_zh", "body_en", "starts_at", "ends_at", "banner")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        candidate = self.instance
        for name, value in data.items():
            setattr(candidate, name, value)
        for name, messages in announcement_problems(candidate).items():
            for message in messages:
                self.add_error(name if name in self.fields else None, message)
        return data


@admin.register(Announcement)
class AnnouncementAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = AnnouncementForm
    list_display = ("title_zh", "kind", "starts_at", "ends_at", "banner", "fanout_state", "recipients")
    list_filter = ("kind", "fanout_state", "banner")
    readonly_fields = ("fanout_state", "recipients", "fanned_out_at", "created_at")

    @csrf_protect_m  # type: ignore[untyped-decorator]
    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # Saving is a durable action (its fan-out is scheduled after commit): not inside the admin's transaction.
        response: HttpResponse = self._changeform_view(  # type: ignore[attr-defined]
            request, object_id, form_url, extra_context
        )
        return response

    def save_model(self, request: HttpRequest, obj: Announcement, form: Any, change: bool) -> None:
        do_save_announcement(obj, acting_user=request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("created_at", "channel", "category", "template", "status", "attempts", "last_error",
                    "next_retry_at", "sent_at")
    list_filter = ("status", "channel", "category")
    fields = ("subject_ref", "channel", "category", "template", "language", "status", "attempts", "last_error",
              "next_retry_at", "created_at", "sent_at", "claimed_at")
    readonly_fields = fields
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
