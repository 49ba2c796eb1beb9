"""Bulk sends (``BulkSend``): each one's progress and its recipients' results on one page."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin import DateFieldListFilter, SimpleListFilter
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..models import BulkSend, SmsLog
from .base import OwnFiltersOnlyMixin, ReadOnlyAdminMixin, ScaleAdminMixin, shown_mobile
from .display import STATUS_COLOURS, badge, china_time, excerpt, provider_result, receipt_result

#: Recipients shown on one page of a bulk send.
RECIPIENTS_PER_PAGE = 100
#: Bulk sends offered by the sends list's filter (the newest; any other is one click away on its own page).
FILTER_CHOICES = 20

Status = SmsLog.Status


@admin.register(BulkSend)
class BulkSendAdmin(OwnFiltersOnlyMixin, ScaleAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only, as every log: a bulk send is made by ``send_bulk()`` or ``huyi_send_bulk``."""

    list_display = (
        "created_at",
        "product",
        "content_excerpt",
        "recipients",
        "progress_summary",
        "opted_out",
        "scheduled_for",
    )
    # The product is the channel a bulk send goes out on (marketing, notices …).
    list_filter = ("product", ("created_at", DateFieldListFilter))
    sortable_by = ("created_at",)
    fields = (
        "product",
        "full_content",
        "parts",
        "scheduled_for",
        "recipients",
        "batching",
        "opted_out",
        "duplicates",
        "created_at",
    )
    readonly_fields = fields
    change_form_template = "admin/huyi_sms/bulksend/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[BulkSend]:
        # The list's progress column: one grouped query for the page, not one per row.
        return (
            super()
            .get_queryset(request)
            .annotate(
                waiting=Count("logs", filter=Q(logs__status=Status.QUEUED)),
                not_sent=Count("logs", filter=Q(logs__status__in=(Status.FAILED, Status.UNDELIVERED))),
            )
        )

    @admin.display(description=_("content"))
    def content_excerpt(self, obj: BulkSend) -> str:
        return excerpt(obj.content)

    @admin.display(description=_("content"))
    def full_content(self, obj: BulkSend) -> str:
        return obj.content

    @admin.display(description=_("scheduled for (China time)"))
    def scheduled_for(self, obj: BulkSend) -> str:
        if obj.scheduled_at is None:
            return gettext("at once")
        return china_time(obj.scheduled_at)

    @admin.display(description=_("batches"))
    def batching(self, obj: BulkSend) -> str:
        return gettext("%(batches)d of up to %(size)d numbers, one request each") % {
            "batches": obj.batches,
            "size": obj.batch_size,
        }

    @admin.display(description=_("progress"))
    def progress_summary(self, obj: BulkSend) -> str:
        waiting, not_sent = getattr(obj, "waiting", 0), getattr(obj, "not_sent", 0)
        if not obj.recipients:
            return gettext("nothing to send")
        if waiting:
            return gettext("%(left)d of %(total)d left the queue") % {
                "left": obj.recipients - waiting,
                "total": obj.recipients,
            }
        if not_sent:
            return gettext("done; %(count)d failed or undelivered") % {"count": not_sent}
        return gettext("done")

    # -- one bulk send: its progress and its recipients ----------------------------------------

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        obj = self.get_object(request, object_id)
        if obj is not None and self.has_view_permission(request, obj):
            extra_context = {**(extra_context or {}), **recipients_context(request, obj, self.admin_site.name)}
        return super().change_view(request, object_id, form_url, extra_context)


def recipients_context(request: HttpRequest, bulk: BulkSend, site_name: str) -> dict[str, Any]:
    """The progress bar, the status and batch filters and a page of recipients, for the bulk's page.

    The filters come from the address (``status``, ``batch``, ``p``); a value that is not one of
    theirs is ignored, as a list ignores a page number that is not one.
    """
    counts = bulk.progress()
    status = request.GET.get("status", "")
    status = status if status in counts else ""
    batch = _batch(request.GET.get("batch", ""), bulk.batches)
    rows = bulk.logs.order_by("batch", "pk")
    if status:
        rows = rows.filter(status=status)
    if batch is not None:
        rows = rows.filter(batch=batch)
    page = Paginator(rows, RECIPIENTS_PER_PAGE).get_page(request.GET.get("p"))
    total = sum(counts.values())
    return {
        "progress_bar": _progress_bar(counts, total),
        "status_links": [
            (label, count, _query(request, status=value, p=None), value == status)
            for value, label, count in [("", gettext("All"), total)]
            + [(value, label, counts[value]) for value, label in Status.choices]
        ],
        "batch_filter": batch,
        "batch_choices": range(bulk.batches),
        "filter_status": status,
        "recipients_page": page,
        "recipients": [
            {
                "log": log,
                "mobile": shown_mobile(request, log.mobile),
                "status": badge(log.status, log.get_status_display()),
                "url": reverse(f"{site_name}:huyi_sms_smslog_change", args=[log.pk]),
                "result": provider_result(log),
                "receipt": receipt_result(log),
                "receipt_time": china_time(log.delivered_at),
            }
            for log in page.object_list
        ],
        "page_links": {
            "previous": _query(request, p=page.previous_page_number()) if page.has_previous() else "",
            "next": _query(request, p=page.next_page_number()) if page.has_next() else "",
        },
        "sends_list_url": reverse(f"{site_name}:huyi_sms_smslog_changelist") + f"?bulk={bulk.pk}",
    }


def _batch(value: str, batches: int) -> int | None:
    value = value.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 9:
        return None
    number = int(value)
    return number if number < batches else None


def _query(request: HttpRequest, **changes: Any) -> str:
    """This page's address with ``changes`` made (``None`` removes a parameter)."""
    query: QueryDict = request.GET.copy()
    for name, value in changes.items():
        query.pop(name, None)
        if value not in (None, ""):
            query[name] = str(value)
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"


def _progress_bar(counts: dict[str, int], total: int) -> SafeString:
    """One bar, a coloured segment per status in proportion, with the counts beside it."""
    if not total:
        return format_html("<p>{}</p>", gettext("Nobody to send to: every number opted out."))
    segments = format_html_join(
        "",
        '<span class="huyi-progress-{}" title="{}: {}" '
        'style="display:inline-block;height:100%;width:{}%;background:{}"></span>',
        (
            (status, label, counts[status], f"{100 * counts[status] / total:.3f}", STATUS_COLOURS[status])
            for status, label in Status.choices
            if counts[status]
        ),
    )
    return format_html(
        '<div class="huyi-progress" style="display:flex;height:14px;border-radius:7px;overflow:hidden;'
        'background:var(--hairline-color,#eee);max-width:40em">{}</div>',
        segments,
    )


class BulkSendFilter(SimpleListFilter):
    """The sends list narrowed to one bulk send's recipients, or to the messages sent one by one."""

    title = _("bulk send")
    parameter_name = "bulk"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        newest = BulkSend.objects.order_by("-created_at", "-id")[:FILTER_CHOICES]
        return [("none", gettext("Not part of a bulk send")), *((str(bulk.pk), str(bulk)) for bulk in newest)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[SmsLog]) -> QuerySet[SmsLog]:
        value = self.value()
        if value == "none":
            return queryset.filter(bulk__isnull=True)
        if value and value.isascii() and value.isdigit() and len(value) <= 18:  # a key fits 64 bits
            return queryset.filter(bulk_id=int(value))
        if value:
            return queryset.none()  # not a bulk send: no message is part of it
        return queryset
