"""One-time codes: who asked, when, and what became of each code. Never the code or its hash."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from ..models import OtpRecord
from .base import ReadOnlyAdminMixin, ScaleAdminMixin
from .display import mobile_column


@admin.register(OtpRecord)
class OtpRecordAdmin(ScaleAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    # code_hash and salt are listed nowhere: an admin page must not help anyone guess a code.
    list_display = ("created_at", "mobile", "purpose", "status", "attempts", "expires_at", "used_at", "ip")
    detail_fields = ("mobile", "purpose", "status", "attempts", "created_at", "expires_at", "used_at", "ip", "sms_log")
    list_filter = ("status",)
    exact_search_fields = ("mobile",)
    sortable_by = ("created_at",)

    def get_list_display(self, request: HttpRequest) -> tuple[Any, ...]:
        return tuple(mobile_column(request) if name == "mobile" else name for name in self.list_display)

    def get_fields(self, request: HttpRequest, obj: OtpRecord | None = None) -> list[Any]:
        return [mobile_column(request) if name == "mobile" else name for name in self.detail_fields]

    def get_readonly_fields(self, request: HttpRequest, obj: OtpRecord | None = None) -> list[Any]:
        return self.get_fields(request, obj)
