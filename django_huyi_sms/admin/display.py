"""How the admin draws a send's values: status badges, marks, times, durations, excerpts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.contrib import admin
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .. import purposes, validation
from ..models import Product, SmsLog, SmsTemplate
from ..provider import CHINA, TIME_FORMAT

# Colours that read on the admin's light and dark themes alike (white text on a saturated fill).
STATUS_COLOURS: dict[str, str] = {
    SmsLog.Status.QUEUED: "#6c757d",
    SmsLog.Status.SUBMITTED: "#0d6efd",
    SmsLog.Status.DELIVERED: "#198754",
    SmsLog.Status.UNDELIVERED: "#d63384",
    SmsLog.Status.FAILED: "#dc3545",
    # Amber, with dark text below: not a failure, a question the operator may have to answer.
    SmsLog.Status.UNKNOWN: "#b35c00",
    SmsTemplate.Status.PENDING: "#6c757d",
    SmsTemplate.Status.APPROVED: "#198754",
    SmsTemplate.Status.REJECTED: "#dc3545",
}

#: The products as a list column names them: a word or two, where the filter and the page give the whole name.
PRODUCT_SHORT_LABELS: dict[str, Any] = {
    Product.SMS: _("SMS"),
    Product.MARKETING: _("Marketing"),
    Product.VOICE: _("Voice code"),
    Product.VOICE_NOTICE: _("Voice notice"),
    Product.INTERNATIONAL: _("Intl. SMS"),
}

#: Characters of a message shown in the list.
EXCERPT_LENGTH = 40


def badge(status: str, label: str) -> SafeString:
    """A coloured pill with ``label``; the status value is kept in a class for tests and styling."""
    colour = STATUS_COLOURS.get(status, "#6c757d")
    return format_html(
        '<span class="huyi-badge huyi-status-{}" style="display:inline-block;padding:0 6px;'
        'border-radius:9px;background:{};color:#fff;font-size:11px;line-height:16px;white-space:nowrap">{}</span>',
        status,
        colour,
        label,
    )


def mark(value: bool, label: str) -> SafeString | str:
    """A neutral tag with ``label`` when ``value`` is true, nothing when false.

    For flags whose false is the ordinary case (a receipt that is no duplicate):
    Django's boolean icons would draw that case as a red cross, which reads as an error.
    """
    if not value:
        return ""
    return format_html(
        '<span class="huyi-mark" style="display:inline-block;padding:0 6px;border-radius:9px;'
        'border:1px solid var(--border-color,#ccc);font-size:11px;line-height:16px;white-space:nowrap">{}</span>',
        label,
    )


def mark_column(field: str, label: Any) -> Callable[[Any], SafeString | str]:
    """A list or read-only column that shows ``obj.<field>`` as a :func:`mark` headed ``label``."""

    @admin.display(description=label, ordering=field)
    def column(obj: Any) -> SafeString | str:
        return mark(bool(getattr(obj, field)), str(label))

    column.__name__ = field  # the cell's class: field-<field>
    return column


def short_product(product: str) -> str:
    return str(PRODUCT_SHORT_LABELS.get(product, product))


def _site_zone_label(label: Any) -> str:
    return gettext("%(label)s (%(zone)s)") % {"label": label, "zone": timezone.get_current_timezone_name()}


def in_site_zone(label: Any) -> str:
    """``label`` with the time zone the admin shows our own times in, e.g. ``created (Asia/Shanghai)``.

    Lazy: the zone is the one active when the page is drawn.
    """
    return lazy(_site_zone_label, str)(label)


def compact_time(value: datetime | None) -> SafeString | str:
    """A time of ours in the site's zone, short for a list (``12-07 22:39``, the year when not this one).

    The whole time, to the second, is in the title.
    """
    if value is None:
        return ""
    local = timezone.localtime(value)
    short = "%m-%d %H:%M" if local.year == timezone.localtime().year else "%Y-%m-%d %H:%M"
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        local.isoformat(),
        local.strftime(TIME_FORMAT),
        local.strftime(short),
    )


def site_time_column(field: str, label: Any) -> Callable[[Any], SafeString | str]:
    """A list column of ``obj.<field>`` as :func:`compact_time`, its header naming the site's zone."""

    @admin.display(description=in_site_zone(label), ordering=field)
    def column(obj: Any) -> SafeString | str:
        return compact_time(getattr(obj, field))

    column.__name__ = field
    return column


def china_time(value: datetime | None) -> str:
    """A time as the provider writes it: China time, ``2026-11-25 10:01:00``; ``""`` for none.

    The provider's own times (receipts, replies, a scheduled send) read the same here as in
    its console and its pushes, whatever the site's time zone.
    """
    return value.astimezone(CHINA).strftime(TIME_FORMAT) if value is not None else ""


def china_time_column(field: str, label: Any) -> Callable[[Any], str]:
    """A list or read-only column of ``obj.<field>``, a time the provider gave, in China time and labelled so."""

    @admin.display(description=label, ordering=field)
    def column(obj: Any) -> str:
        return china_time(getattr(obj, field))

    column.__name__ = field
    return column


@admin.display(description=_("purpose"), ordering="purpose")
def purpose(obj: Any) -> str:
    """The purpose column and field: the app's own purposes by their label."""
    return purposes.label(obj.purpose)


def provider_result(log: SmsLog) -> str:
    """What the provider answered a send: ``2 提交成功``, ``4085 …``; its message alone when no code came."""
    if log.provider_code is None:
        return log.provider_msg
    return f"{log.provider_code} {log.provider_msg}".strip()


def receipt_result(log: SmsLog) -> str:
    """What the delivery receipt said: ``DELIVRD 用户已成功收到短信``."""
    return f"{log.receipt_code} {log.receipt_msg}".strip()


def format_duration(value: timedelta | None) -> str:
    """``timedelta(seconds=65)`` → ``1 min 5 s``; ``None`` → ``""``."""
    if value is None:
        return ""
    seconds = value.total_seconds()
    if seconds < 60:
        return gettext("%(seconds).1f s") % {"seconds": seconds}
    minutes, seconds = divmod(round(seconds), 60)
    if minutes < 60:
        return gettext("%(minutes)d min %(seconds)d s") % {"minutes": minutes, "seconds": seconds}
    hours, minutes = divmod(minutes, 60)
    return gettext("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": minutes}


def excerpt(text: str, length: int = EXCERPT_LENGTH) -> str:
    return validation.excerpt(text, length)
