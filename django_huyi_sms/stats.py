"""Delivery statistics per day: how many sends, how many delivered, how fast.

Read-only queries, grouped by the send's calendar day in the current time
zone, that run the same on SQLite and PostgreSQL (no ``percentile_cont``):
the median is found with window functions over each day's delivery times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Window
from django.db.models.functions import RowNumber, TruncDate
from django.utils import timezone

from .models import SmsLog

__all__ = ["DayStats", "daily_stats", "time_to_delivery"]

_FINAL = (SmsLog.Status.DELIVERED, SmsLog.Status.UNDELIVERED, SmsLog.Status.FAILED)


@dataclass(frozen=True)
class DayStats:
    """One day of sends. ``delivery_rate`` is ``None`` while no send of the day has an outcome."""

    day: date
    sent: int = 0
    delivered: int = 0
    finished: int = 0
    median_delivery_seconds: float | None = None

    @property
    def delivery_rate(self) -> float | None:
        """Delivered ÷ sends with an outcome (delivered, undelivered or failed); pending ones are left out."""
        return self.delivered / self.finished if self.finished else None


def time_to_delivery(log: SmsLog) -> timedelta | None:
    """From the provider's acceptance to the delivery receipt of a delivered message; never below zero.

    The receipt's time is the provider's ``report_time``, to the whole second,
    and ``submitted_at`` is our clock's, to the microsecond: a receipt that
    comes within the second often reads a fraction of a second *before* the
    submission. That is no time at all, not a negative one. ``None`` while the
    message is not delivered.
    """
    if log.status != SmsLog.Status.DELIVERED or not log.submitted_at or not log.delivered_at:
        return None
    return max(log.delivered_at - log.submitted_at, timedelta(0))


def daily_stats(days: int = 30, *, today: date | None = None) -> list[DayStats]:
    """One :class:`DayStats` for each of the last ``days`` days, oldest first, today included.

    Two queries over the range: the counts, and the median time from
    submission to delivery receipt of each day's delivered messages.
    """
    today = today or timezone.localdate()
    first = today - timedelta(days=days - 1)
    tz = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.combine(first, time.min), tz)
    in_range = SmsLog.objects.filter(created_at__gte=start).annotate(day=TruncDate("created_at", tzinfo=tz))

    counts: dict[date, Any] = {
        row["day"]: row
        for row in in_range.order_by()
        .values("day")
        .annotate(
            sent=Count("pk"),
            delivered=Count("pk", filter=Q(status=SmsLog.Status.DELIVERED)),
            finished=Count("pk", filter=Q(status__in=_FINAL)),
        )
    }
    medians = _daily_medians(in_range)
    result = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        row = counts.get(day, {})
        result.append(
            DayStats(
                day=day,
                sent=row.get("sent", 0),
                delivered=row.get("delivered", 0),
                finished=row.get("finished", 0),
                median_delivery_seconds=medians.get(day),
            )
        )
    return result


def _daily_medians(in_range) -> dict[date, float]:
    """Median seconds from submission to receipt per day, from the middle one or two rows of each day.

    Each delivered row is numbered in order of its delay within its day
    (``ROW_NUMBER``) beside the day's count (``COUNT(*) OVER``); only the
    middle rows come back, so the work stays in the database whatever the volume.
    They are ranked by the raw delay and read through :func:`time_to_delivery`:
    raising a negative delay to zero keeps the order, so the middle rows are the same.
    """
    delay = ExpressionWrapper(F("delivered_at") - F("submitted_at"), output_field=DurationField())
    ranked = (
        in_range.filter(
            status=SmsLog.Status.DELIVERED, submitted_at__isnull=False, delivered_at__isnull=False
        )
        .annotate(delay=delay)
        .annotate(
            position=Window(RowNumber(), partition_by=[F("day")], order_by=[F("delay").asc(), F("pk").asc()]),
            day_count=Window(Count("pk"), partition_by=[F("day")]),
        )
        .order_by()
    )
    # The middle of n rows: row (n + 1) // 2, and also row n // 2 + 1 when n is even.
    middle = ranked.filter(
        Q(position=(F("day_count") + 1) / 2) | Q(position=F("day_count") / 2 + 1)
    ).only("status", "submitted_at", "delivered_at")
    delays: dict[date, list[float]] = {}
    for log in middle:
        taken = time_to_delivery(log)
        if taken is not None:  # always: only delivered rows with both times are ranked
            delays.setdefault(log.day, []).append(taken.total_seconds())
    return {day: sum(values) / len(values) for day, values in delays.items()}
