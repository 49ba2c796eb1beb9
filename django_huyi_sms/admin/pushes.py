"""What the provider pushed to us: delivery receipts, replies, and the opt-out list they feed."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .. import optouts, validation
from ..exceptions import HuyiError
from ..models import OptOut, StatusReceipt, UpstreamReply
from .base import (
    MaskedMobileMixin,
    OwnFiltersOnlyMixin,
    ReadableFormsMixin,
    ReadOnlyAdminMixin,
    ScaleAdminMixin,
    mask_raw_push,
    mobile_column,
)
from .display import china_time_column, mark_column, site_time_column

#: The provider's times in China time, as it pushed them; the flags as neutral marks (display.mark).
report_time = china_time_column("report_time", _("report time (China time)"))
reply_time = china_time_column("reply_time", _("reply time (China time)"))
duplicate = mark_column("duplicate", _("duplicate"))
opt_out = mark_column("is_opt_out", _("opt-out"))


def _raw_column(request: HttpRequest) -> Any:
    @admin.display(description=_("raw push"))
    def raw(obj: Any) -> str:
        shown = json.dumps(mask_raw_push(request, obj.raw), ensure_ascii=False, indent=2, sort_keys=True)
        return format_html("<pre style='margin:0'>{}</pre>", shown)

    return raw


class _PushAdminMixin(MaskedMobileMixin):
    """A push's page: the number masked, in its fields and in the raw push as it came."""

    def masked_columns(self, request: HttpRequest) -> dict[str, Any]:
        return {**super().masked_columns(request), "raw": _raw_column(request)}


@admin.register(StatusReceipt)
class StatusReceiptAdmin(OwnFiltersOnlyMixin, _PushAdminMixin, ScaleAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        site_time_column("received_at", _("received")),
        "smsid",
        "mobile",
        "code",
        "msg",
        report_time,
        "log",
        duplicate,
    )
    detail_fields = ("smsid", "mobile", "code", "msg", report_time, "received_at", "log", duplicate, "raw")
    list_filter = ("duplicate",)
    list_select_related = ("log",)
    exact_search_fields = ("smsid", "mobile")
    search_help_text = _("A whole mobile number or an smsid.")
    sortable_by = ("received_at",)


@admin.register(UpstreamReply)
class UpstreamReplyAdmin(OwnFiltersOnlyMixin, _PushAdminMixin, ScaleAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (reply_time, "mobile", "content", "smsid", opt_out, "log")
    detail_fields = ("mobile", "content", "smsid", reply_time, "received_at", opt_out, "log", "raw")
    list_filter = ("is_opt_out",)
    list_select_related = ("log",)
    exact_search_fields = ("mobile", "smsid")
    search_help_text = _("A whole mobile number or an smsid.")
    sortable_by = ("reply_time",)


class OptOutForm(forms.ModelForm):
    """Staff add a number by hand; it is normalised as a send would be."""

    class Meta:
        model = OptOut
        fields = ("mobile",)

    def clean_mobile(self) -> str:
        try:
            return validation.normalize_mobile(self.cleaned_data["mobile"])
        except HuyiError as error:
            raise forms.ValidationError(_("Not a valid mobile number."), code="invalid") from error


@admin.register(OptOut)
class OptOutAdmin(ReadableFormsMixin, OwnFiltersOnlyMixin, MaskedMobileMixin, ScaleAdminMixin, admin.ModelAdmin):
    """Numbers that get no marketing. Staff may add one (reason: added by staff) or remove one."""

    form = OptOutForm
    list_display = ("mobile", "reason", "created_at")
    list_filter = ("reason",)
    exact_search_fields = ("mobile",)
    search_help_text = _("A whole mobile number.")
    sortable_by = ("created_at",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_fields(self, request: HttpRequest, obj: OptOut | None = None) -> list[Any]:
        if obj is None:
            return ["mobile"]
        return [mobile_column(request), "reason", "reply", "created_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: OptOut | None = None) -> list[Any]:
        return [] if obj is None else self.get_fields(request, obj)

    def save_model(self, request: HttpRequest, obj: OptOut, form: forms.ModelForm, change: bool) -> None:
        # optouts.py owns the opt-out list; the admin only asks it.
        saved = optouts.opt_out(form.cleaned_data["mobile"], OptOut.Reason.MANUAL)
        obj.pk, obj.reason, obj.created_at = saved.pk, saved.reason, saved.created_at
        obj._state.adding = False
