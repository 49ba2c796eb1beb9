"""Sends as CSV, streamed row by row so that a large selection never sits in memory."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext

from .. import purposes
from ..models import SmsLog
from ..stats import time_to_delivery
from .base import shown_mobile

#: Rows fetched from the database at a time.
CHUNK_SIZE = 2000


# A cell starting with one of these is a formula to Excel: a message text must never run as one.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    if not value.startswith(_FORMULA_STARTS):
        return value
    try:
        float(value)  # a negative number is a number, not a formula
    except ValueError:
        return "'" + value
    return value


class _Echo:
    """A file-like object whose ``write`` hands the line back, for ``csv.writer`` (Django's streaming CSV recipe)."""

    def write(self, value: str) -> str:
        return value


def _local(value) -> str:
    return timezone.localtime(value).isoformat(sep=" ", timespec="seconds") if value else ""


def header() -> list[str]:
    return [
        gettext("id"),
        gettext("created"),
        gettext("product"),
        gettext("mobile"),
        gettext("status"),
        gettext("smsid"),
        gettext("billed parts"),
        gettext("provider code"),
        gettext("provider message"),
        gettext("receipt code"),
        gettext("receipt message"),
        gettext("submitted"),
        gettext("receipt time"),
        gettext("seconds to delivery"),
        gettext("purpose"),
        gettext("resent from"),
        gettext("content"),
    ]


def rows(request: HttpRequest, queryset: QuerySet[SmsLog]) -> Iterator[list[str]]:
    """The CSV rows of ``queryset``, masked as the admin's pages are for this user.

    A one-time code is already starred out of its row's content (``send_sms(redact=…)``).
    """
    for log in queryset.order_by("-created_at", "-id").iterator(chunk_size=CHUNK_SIZE):
        delay = time_to_delivery(log)
        yield [
            str(log.pk),
            _local(log.created_at),
            log.product,
            shown_mobile(request, log.mobile),
            log.status,
            log.smsid,
            str(log.parts),
            "" if log.provider_code is None else str(log.provider_code),
            log.provider_msg,
            log.receipt_code,
            log.receipt_msg,
            _local(log.submitted_at),
            _local(log.delivered_at),
            "" if delay is None else f"{delay.total_seconds():.1f}",
            purposes.label(log.purpose),
            str(log.resent_from_id or ""),
            log.content,
        ]


def csv_response(request: HttpRequest, queryset: QuerySet[SmsLog]) -> StreamingHttpResponse:
    """A streamed ``text/csv`` download of ``queryset`` (UTF-8 with a BOM, so Excel reads the Chinese)."""
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield "\ufeff" + writer.writerow(header())
        for row in rows(request, queryset):
            yield writer.writerow([_cell(value) for value in row])

    filename = timezone.localtime().strftime("sms-logs-%Y%m%d-%H%M%S.csv")
    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
