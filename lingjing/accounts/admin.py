"""The staff console's view of accounts: pseudonymous by default.

List pages show nickname, status and dates only; no sealed field is decrypted for a list. The change page shows
the phone number masked (``138****8000``). Staff look an account up by its exact phone number through the blind
index, never by scanning decrypted values. Accounts are changed through the product's actions, not here.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from lingjing.accounts.models import User
from lingjing.accounts.phone import InvalidPhone, normalise_phone
from lingjing.security.crypto import blind_index


@admin.register(User)
class UserAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("short_id", "nickname", "status", "is_staff", "date_joined")
    list_filter = ("status", "is_staff")
    search_fields = ("nickname",)
    ordering = ("-date_joined",)
    fields = ("short_id", "nickname", "masked_phone", "status", "is_staff", "groups", "date_joined", "last_login")
    readonly_fields = fields
    show_full_result_count = False

    @admin.display(description="编号")
    def short_id(self, obj: User) -> str:
        return str(obj.pk)[:8]

    @admin.display(description="手机号（已脱敏）")
    def masked_phone(self, obj: User) -> str:
        return obj.phone_masked

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        queryset = super().get_queryset(request)
        match = getattr(request, "resolver_match", None)
        if match is not None and str(match.url_name).endswith("changelist"):
            # Sealed columns stay out of list queries altogether.
            queryset = queryset.defer("phone", "birth_date", "totp_secret")
        return queryset

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[User], search_term: str
    ) -> tuple[QuerySet[User], bool]:
        term = search_term.strip()
        if term and any(ch.isdigit() for ch in term):
            try:
                return queryset.filter(phone_index=blind_index(normalise_phone(term))), False
            except InvalidPhone:
                pass
        return super().get_search_results(request, queryset, search_term)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
