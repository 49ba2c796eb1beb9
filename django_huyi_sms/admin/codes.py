"""One-time codes: who asked, when, and what became of each code. Never the code or its hash."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from .. import purposes
from ..models import OtpRecord
from .base import MaskedMobileMixin, OwnFiltersOnlyMixin, ReadOnlyAdminMixin, ScaleAdminMixin
from .display import purpose


@admin.register(OtpRecord)
class OtpRecordAdmin(OwnFiltersOnlyMixin, MaskedMobileMixin, ScaleAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    # code_hash and salt are listed nowhere: an admin page must not help anyone guess a code.
    list_display = ("created_at", "mobile", purpose, "channel", "status", "attempts", "expires_at", "used_at", "ip")
    detail_fields = (
        "mobile",
        purpose,
        "channel",
        "status",
        "attempts",
        "created_at",
        "expires_at",
        "used_at",
        "ip",
        "sms_log",
    )
    list_filter = ("status",)
    exact_search_fields = ("mobile",)
    sortable_by = ("created_at",)

    def object_label(self, request: HttpRequest, obj: OtpRecord) -> str:
        # str() names the purpose by its key, after the number: the page names it as its field does.
        label = super().object_label(request, obj)
        return label.replace(f" {obj.purpose} (", f" {purposes.label(obj.purpose)} (", 1)
