"""The sends list (``SmsLog``): every message with its receipts and replies, the balance, two actions."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib import admin, messages
from django.contrib.admin import DateFieldListFilter, helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import escape, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from .. import balances, sending
from ..exceptions import HuyiError
from ..models import SmsLog, StatusReceipt, UpstreamReply
from ..stats import time_to_delivery
from . import dashboard, export, template_sends
from .base import (
    MaskedMobileMixin,
    OwnFiltersOnlyMixin,
    ReadableFormsMixin,
    ReadOnlyAdminMixin,
    ScaleAdminMixin,
    mobile_column,
    shown_mobile,
)
from .bulk import BulkSendFilter
from .display import (
    china_time_column,
    excerpt,
    format_duration,
    in_site_zone,
    mark_column,
    product_tag,
    provider_result,
    purpose,
    receipt_result,
    site_time_column,
    status_badge,
)
from .filters import PurposeListFilter
from .pushes import duplicate, opt_out, reply_time, report_time

#: At most this many messages are resent by one click (each one is an HTTP call to the provider).
MAX_RESEND = 200


receipt_time = china_time_column("delivered_at", _("receipt time (China time)"))


class StatusReceiptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = StatusReceipt
    # Names and columns (display functions), as Django takes them; its type stubs say names only.
    fields: ClassVar[Any] = ("code", "msg", report_time, "received_at", duplicate)
    readonly_fields: ClassVar[Any] = fields
    extra = 0
    can_delete = False
    show_change_link = False


class UpstreamReplyInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = UpstreamReply
    fields: ClassVar[Any] = ("content", reply_time, "received_at", opt_out)
    readonly_fields: ClassVar[Any] = fields
    extra = 0
    can_delete = False


@admin.register(SmsLog)
class SmsLogAdmin(
    ReadableFormsMixin, OwnFiltersOnlyMixin, MaskedMobileMixin, ScaleAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin
):
    """Read-only: a log must not be edited or deleted away. Resending makes a new, linked row.

    A one-time code's message is shown as stored: ``otp.py`` sends it with the
    code starred out of the row (``send_sms(redact=[code])``), so no page or
    export here has a code to hide.
    """

    # Five columns that fit beside the admin's sidebar and filters at 1280 px, none wrapping past
    # two lines: the outcome column carries what the operator needs of a result (why it failed,
    # how fast it arrived); parts, the provider's reply and each time are on the message's page.
    list_display = (
        site_time_column("created_at", _("created")),
        "outcome",
        "product_label",
        "mobile",  # replaced per request by a masked column: see MaskedMobileMixin
        "content_excerpt",
    )
    list_filter = (
        "status",
        "product",
        ("purpose", PurposeListFilter),
        ("created_at", DateFieldListFilter),
        BulkSendFilter,
    )
    exact_search_fields = ("mobile", "smsid")
    search_help_text = _("A whole mobile number or an smsid.")
    # Only orders an index serves: any other would sort the whole table.
    sortable_by = ("created_at",)
    inlines = (StatusReceiptInline, UpstreamReplyInline)
    actions = ("resend_selected", "export_csv")
    change_list_template = "admin/huyi_sms/smslog/change_list.html"

    # -- the list ---------------------------------------------------------------------

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj: SmsLog) -> SafeString:
        return status_badge(obj)

    @admin.display(description=_("status"), ordering="status")
    def outcome(self, obj: SmsLog) -> SafeString:
        """The status badge, and under it in a line what explains it (the whole of it in the title)."""
        detail = self.outcome_detail(obj)
        if not detail:
            return status_badge(obj)
        detail = escape(detail)
        return SafeString(f'{status_badge(obj)}<span class="huyi-outcome-detail" title="{detail}">{detail}</span>')

    @staticmethod
    def outcome_detail(obj: SmsLog) -> str:
        """Delivered: how long it took; undelivered: the receipt's code; failed or unknown: the provider's answer."""
        Status = SmsLog.Status
        if obj.status == Status.DELIVERED:
            delay = time_to_delivery(obj)
            return gettext("in %(duration)s") % {"duration": format_duration(delay)} if delay is not None else ""
        if obj.status == Status.UNDELIVERED:
            return receipt_result(obj)
        if obj.status in (Status.FAILED, Status.UNKNOWN):
            return provider_result(obj)
        return ""

    @admin.display(description=_("product"), ordering="product")
    def product_label(self, obj: SmsLog) -> SafeString:
        return product_tag(obj)

    @admin.display(description=_("content"))
    def content_excerpt(self, obj: SmsLog) -> SafeString:
        return SafeString(f'<span class="huyi-excerpt">{escape(excerpt(obj.content))}</span>')

    @admin.display(description=_("time to delivery"))
    def delivery_time(self, obj: SmsLog) -> str:
        return format_duration(time_to_delivery(obj))

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra_context = {
            **(extra_context or {}),
            "balances": balances.current_balances(),
            "dashboard_url": reverse(f"{self.admin_site.name}:huyi_sms_smslog_dashboard"),
            "send_template_url": (
                reverse(f"{self.admin_site.name}:huyi_sms_smslog_send_template")
                if self.has_resend_permission(request)
                else ""
            ),
        }
        return super().changelist_view(request, extra_context)

    # -- one send ---------------------------------------------------------------------

    def get_fieldsets(self, request: HttpRequest, obj: SmsLog | None = None) -> Any:
        mobile = mobile_column(request)
        return [
            (
                None,
                {
                    "fields": (
                        "status_badge",
                        "product",
                        mobile,
                        "full_content",
                        "templateid",
                        "template_variables",
                        "parts",
                        purpose,
                        mark_column("carries_code", _("carries a code")),
                        "user",
                    )
                },
            ),
            (
                _("Submit result"),
                {
                    "fields": ("smsid", "provider_code", "provider_msg", "created_at", "submitted_at", "bulk", "batch"),
                    "description": in_site_zone(_("Times are in the site's time zone")),
                },
            ),
            (
                _("Delivery"),
                {"fields": ("receipt_code", "receipt_msg", receipt_time, "delivery_time")},
            ),
            (_("Resends"), {"fields": ("resent_from", "resent_as")}),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: SmsLog | None = None) -> list[Any]:
        fields: list[Any] = []
        for _name, options in self.get_fieldsets(request, obj):
            fields.extend(options["fields"])
        return fields

    @admin.display(description=_("content"))
    def full_content(self, obj: SmsLog) -> str:
        return obj.content

    @admin.display(description=_("template variables"))
    def template_variables(self, obj: SmsLog) -> str:
        # A variable cannot hold "|" (it separates them on the wire), so the list reads back unambiguously.
        return " | ".join(obj.variables or ())

    @admin.display(description=_("resent as"))
    def resent_as(self, obj: SmsLog) -> str:
        resends = obj.resends.order_by("pk").only("pk", "status")
        return format_html_join(
            ", ",
            '<a href="{}">#{}</a> {}',
            (
                (reverse(f"{self.admin_site.name}:huyi_sms_smslog_change", args=[log.pk]), log.pk, status_badge(log))
                for log in resends
            ),
        )

    # -- actions ----------------------------------------------------------------------

    def has_resend_permission(self, request: HttpRequest) -> bool:
        # Resending makes a new send: the same right as adding one.
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.add_{opts.model_name}")

    @admin.action(description=_("Resend the selected failed messages"), permissions=["resend"])
    def resend_selected(self, request: HttpRequest, queryset: QuerySet[SmsLog]) -> HttpResponse | None:
        """Resend the failed and undelivered rows of the selection (the others are left alone).

        Rows whose outcome is unknown may be on the phone already: they are resent only after
        the operator confirms on a page that says so.
        """
        confirmed = request.POST.get("confirm_unknown") == "yes"
        statuses = (*sending.RESENDABLE_STATUSES, SmsLog.Status.UNKNOWN)
        candidates = list(queryset.filter(status__in=statuses).order_by("pk")[: MAX_RESEND + 1])
        if len(candidates) > MAX_RESEND:
            candidates = candidates[:MAX_RESEND]
            self.message_user(
                request,
                gettext("Only the first %(count)d failed messages were resent; select the rest again.")
                % {"count": MAX_RESEND},
                messages.WARNING,
            )
        unknown = [log for log in candidates if log.status == SmsLog.Status.UNKNOWN]
        if unknown and not confirmed:
            return self._confirm_unknown(request, candidates, unknown)
        resent = refused = 0
        for log in candidates:
            try:
                new_log = sending.resend(log, confirm_unknown=confirmed)
            except (sending.NotResendable, HuyiError):
                refused += 1
                continue
            resent += 1
            if new_log.status in (SmsLog.Status.FAILED, SmsLog.Status.UNKNOWN):
                self.message_user(
                    request,
                    gettext("Resend of #%(pk)s did not go through (%(status)s): %(code)s %(msg)s")
                    % {
                        "pk": log.pk,
                        "status": new_log.get_status_display(),
                        "code": new_log.provider_code if new_log.provider_code is not None else "",
                        "msg": new_log.provider_msg,
                    },
                    messages.WARNING,
                )
        if resent:
            self.message_user(
                request,
                ngettext("%(count)d message resent.", "%(count)d messages resent.", resent) % {"count": resent},
                messages.SUCCESS,
            )
        if refused:
            self.message_user(
                request,
                ngettext(
                    "%(count)d message not resent: it was resent already, or carried a one-time code.",
                    "%(count)d messages not resent: they were resent already, or carried a one-time code.",
                    refused,
                )
                % {"count": refused},
                messages.WARNING,
            )
        if not candidates:
            self.message_user(request, gettext("None of the selected messages failed."), messages.WARNING)
        return None

    def _confirm_unknown(
        self, request: HttpRequest, candidates: list[SmsLog], unknown: list[SmsLog]
    ) -> TemplateResponse:
        """The page that asks before resending messages that may have been delivered."""
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Resend messages whose outcome is unknown?"),
            "opts": self.opts,
            "unknown": [(log, shown_mobile(request, log.mobile)) for log in unknown],
            # Sent back with the confirmation: every row of the selection that may be resent.
            "selected": [log.pk for log in candidates],
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/huyi_sms/smslog/resend_unknown.html", context)

    @admin.action(description=_("Export the selected messages as CSV"))
    def export_csv(self, request: HttpRequest, queryset: QuerySet[SmsLog]) -> StreamingHttpResponse:
        return export.csv_response(request, queryset)

    # -- the dashboard ----------------------------------------------------------------

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view(self.dashboard_view)
        send = self.admin_site.admin_view(self.send_template_view)
        return [
            path("dashboard/", view, name="huyi_sms_smslog_dashboard"),
            path("send-template/", send, name="huyi_sms_smslog_send_template"),
            *super().get_urls(),
        ]

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        return dashboard.render_dashboard(self, request)

    def send_template_view(self, request: HttpRequest) -> HttpResponse:
        return template_sends.send_from_template(self, request)
