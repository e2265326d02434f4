"""Console (``/console/``): staff keep the recipient registry here; everything else is read-only.

Saving a recipient goes through ``do_save_recipient`` (validated, audited, consent notice re-published). Nothing
is deleted: a recipient that no longer receives data is switched off (``active``), its records stay.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.options import csrf_protect_m
from django.http import HttpRequest, HttpResponse

from lingjing.privacy.registry import CATEGORIES, PURPOSES
from lingjing.sharing.actions import do_save_recipient, recipient_problems
from lingjing.sharing.models import CrossBorderTally, LegalRequest, Recipient, SharingRecord, SuccessorReport


class RecipientForm(forms.ModelForm):  # type: ignore[type-arg]
    purposes = forms.MultipleChoiceField(
        label="处理目的", choices=[(k, v.zh) for k, v in PURPOSES.items()], widget=forms.CheckboxSelectMultiple
    )
    categories = forms.MultipleChoiceField(
        label="个人信息种类", choices=[(k, c.label.zh) for k, c in CATEGORIES.items()],
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Recipient
        fields = (
            "slug", "legal_name", "legal_name_en", "contact", "country", "kind", "role", "affiliate", "purposes",
            "categories", "legal_basis", "processing_zh", "processing_en", "rights_zh", "rights_en",
            "contract_reference", "deidentify", "transfer_mechanism", "mechanism_reference", "mechanism_valid_until",
            "active",
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        candidate = self.instance
        for name, value in data.items():
            setattr(candidate, name, value)
        problems = recipient_problems(candidate)
        for name, messages in problems.items():
            target = name if name in self.fields else None
            for message in messages:
                self.add_error(target, message)
        return data


@admin.register(Recipient)
class RecipientAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = RecipientForm
    list_display = ("legal_name", "slug", "country", "kind", "role", "affiliate", "legal_basis", "transfer_mechanism",
                    "active")
    list_filter = ("kind", "role", "affiliate", "country", "active", "transfer_mechanism")
    search_fields = ("legal_name", "slug")

    @csrf_protect_m  # type: ignore[untyped-decorator]
    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # The stock view wraps the form in a transaction; saving is a durable action with its own (and the consent
        # notice is published after it commits), so it must not run inside another.
        response: HttpResponse = self._changeform_view(  # type: ignore[attr-defined]
            request, object_id, form_url, extra_context
        )
        return response

    def save_model(self, request: HttpRequest, obj: Recipient, form: Any, change: bool) -> None:
        do_save_recipient(obj, acting_user=request.user)  # the form ran the same checks (recipient_problems)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SharingRecord)
class SharingRecordAdmin(ReadOnlyAdmin):
    list_display = ("at", "recipient", "purpose", "legal_basis", "cross_border", "child", "status", "flow")
    list_filter = ("cross_border", "child", "legal_basis", "status", "recipient")
    list_select_related = ("recipient",)
    date_hierarchy = "at"


@admin.register(LegalRequest)
class LegalRequestAdmin(ReadOnlyAdmin):
    list_display = ("reference_no", "authority", "status", "requested_by", "decided_by", "received_at")
    list_filter = ("status",)


@admin.register(CrossBorderTally)
class CrossBorderTallyAdmin(ReadOnlyAdmin):
    list_display = ("year", "recipient", "people", "sensitive_people", "records", "sensitive_records")
    list_filter = ("year",)


@admin.register(SuccessorReport)
class SuccessorReportAdmin(ReadOnlyAdmin):
    list_display = ("successor", "generated_at", "digest", "accepted_at", "accepted_by_name")
    exclude = ("document",)
