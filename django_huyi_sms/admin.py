"""The admin: every send with its receipts and replies, read-only (a log must not be edited away)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .models import OptOut, SmsLog, SmsTemplate, StatusReceipt, UpstreamReply


class ReadOnlyAdminMixin:
    """Rows are written by sending.py and receipts.py only; the admin shows them."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class StatusReceiptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = StatusReceipt
    fields = ("code", "msg", "report_time", "received_at", "duplicate")
    readonly_fields = fields
    extra = 0
    can_delete = False


class UpstreamReplyInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = UpstreamReply
    fields = ("content", "reply_time", "is_opt_out")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(SmsLog)
class SmsLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "product", "shown_mobile", "status", "smsid", "parts", "provider_code", "purpose")
    list_filter = ("status", "product", "purpose")
    search_fields = ("=mobile", "=smsid")
    date_hierarchy = "created_at"
    inlines = [StatusReceiptInline, UpstreamReplyInline]
    show_full_result_count = False

    @admin.display(description=_("mobile"), ordering="mobile")
    def shown_mobile(self, obj: SmsLog) -> str:
        return obj.masked_mobile


@admin.register(StatusReceipt)
class StatusReceiptAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("received_at", "smsid", "code", "msg", "report_time", "log", "duplicate")
    list_filter = ("code", "duplicate")
    search_fields = ("=smsid", "=mobile")
    raw_id_fields = ("log",)


@admin.register(UpstreamReply)
class UpstreamReplyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("reply_time", "content", "smsid", "is_opt_out", "log")
    list_filter = ("is_opt_out",)
    search_fields = ("=mobile", "=smsid")
    exclude = ("fingerprint",)


@admin.register(OptOut)
class OptOutAdmin(admin.ModelAdmin):
    list_display = ("mobile", "reason", "created_at")
    list_filter = ("reason",)
    search_fields = ("=mobile",)
    raw_id_fields = ("reply",)


@admin.register(SmsTemplate)
class SmsTemplateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("templateid", "product", "content", "status", "review_msg", "created_at", "reviewed_at")
    list_filter = ("status", "product")
    search_fields = ("content", "=templateid")
