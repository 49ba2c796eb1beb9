"""The admin's delivery dashboard: the last 30 days as three server-drawn charts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .. import stats
from ..models import DeliveryDashboard, SmsLog
from .charts import Point, bar_chart, line_chart

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

#: Days shown on the dashboard.
DAYS = 30


def render_dashboard(model_admin: ModelAdmin, request: HttpRequest) -> HttpResponse:
    """The dashboard page, for anyone who may view the sends."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    days = stats.daily_stats(DAYS)
    labels = [formats.date_format(day.day, "m-d") for day in days]
    labelled = list(zip(labels, days, strict=True))
    sent = [Point(label, day.sent) for label, day in labelled]
    rate = [Point(label, None if day.delivery_rate is None else day.delivery_rate * 100) for label, day in labelled]
    median = [Point(label, day.median_delivery_seconds) for label, day in labelled]
    total_sent = sum(day.sent for day in days)
    total_delivered = sum(day.delivered for day in days)
    total_finished = sum(day.finished for day in days)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": _("Delivery dashboard"),
        "subtitle": None,
        "days": DAYS,
        "day_rows": labelled,
        "total_sent": total_sent,
        "overall_rate": (total_delivered / total_finished * 100) if total_finished else None,
        "sends_chart": bar_chart(gettext("Sends per day"), sent, fmt=lambda v: f"{v:.0f}"),
        "rate_chart": line_chart(gettext("Delivery rate per day (%)"), rate, ceiling=100, fmt=lambda v: f"{v:.0f}%"),
        "median_chart": line_chart(
            gettext("Median time to delivery per day (seconds)"), median, fmt=lambda v: f"{v:.1f}s"
        ),
    }
    return TemplateResponse(request, "admin/huyi_sms/smslog/dashboard.html", context)


@admin.register(DeliveryDashboard)
class DeliveryDashboardAdmin(admin.ModelAdmin):
    """The dashboard's entry in the admin index, the app's index and the sidebar: a link, no list.

    The dashboard lives beside the sends (``smslog/dashboard/``); this entry leads there, for
    whoever may view the sends.
    """

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.admin_site.get_model_admin(SmsLog).has_view_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[Any]:
        opts = self.opts
        view = self.admin_site.admin_view(self.changelist_view)
        return [path("", view, name=f"{opts.app_label}_{opts.model_name}_changelist")]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return HttpResponseRedirect(reverse(f"{self.admin_site.name}:huyi_sms_smslog_dashboard"))
