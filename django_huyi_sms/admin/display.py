"""How the admin draws a send's values: status badges, durations, excerpts."""

from __future__ import annotations

from datetime import timedelta

from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext

from .. import validation
from ..models import SmsLog, SmsTemplate

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

#: Characters of a message shown in the list.
EXCERPT_LENGTH = 40


def badge(status: str, label: str) -> SafeString:
    """A coloured pill with ``label``; the status value is kept in a class for tests and styling."""
    colour = STATUS_COLOURS.get(status, "#6c757d")
    return format_html(
        '<span class="huyi-badge huyi-status-{}" style="display:inline-block;padding:1px 8px;'
        'border-radius:9px;background:{};color:#fff;font-size:11px;white-space:nowrap">{}</span>',
        status,
        colour,
        label,
    )


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
