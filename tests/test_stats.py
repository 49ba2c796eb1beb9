"""stats.daily_stats(): sends, delivery rate and median time to delivery per day, on any database."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from django_huyi_sms import stats
from django_huyi_sms.models import SmsLog

pytestmark = pytest.mark.django_db


def at(day, hour: int = 12) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour)))


def sent(day, status: str, delay: float | None = None, hour: int = 12) -> SmsLog:
    created = at(day, hour)
    log = SmsLog.objects.create(mobile="13800138000", content="【测试】通知", status=status)
    submitted = created + timedelta(seconds=1)
    delivered = submitted + timedelta(seconds=delay) if delay is not None else None
    SmsLog.objects.filter(pk=log.pk).update(created_at=created, submitted_at=submitted, delivered_at=delivered)
    return log


def test_counts_rate_and_median_per_day():
    today = timezone.localdate()
    yesterday = today - timedelta(days=1)
    for delay in (3, 1, 10):  # median 3
        sent(today, SmsLog.Status.DELIVERED, delay)
    sent(today, SmsLog.Status.UNDELIVERED)
    sent(today, SmsLog.Status.SUBMITTED)  # no outcome yet: not in the rate
    for delay in (2, 4, 6, 100):  # even count: median (4 + 6) / 2
        sent(yesterday, SmsLog.Status.DELIVERED, delay)
    sent(yesterday, SmsLog.Status.FAILED)

    days = stats.daily_stats(30, today=today)
    assert len(days) == 30 and days[-1].day == today and days[0].day == today - timedelta(days=29)
    last, before = days[-1], days[-2]
    assert (last.sent, last.delivered, last.finished) == (5, 3, 4)
    assert last.delivery_rate == pytest.approx(0.75)
    assert last.median_delivery_seconds == pytest.approx(3.0)
    assert (before.sent, before.delivered) == (5, 4)
    assert before.delivery_rate == pytest.approx(0.8)
    assert before.median_delivery_seconds == pytest.approx(5.0)
    empty = days[0]
    assert (empty.sent, empty.delivery_rate, empty.median_delivery_seconds) == (0, None, None)


def test_days_follow_the_local_calendar_and_older_sends_are_left_out():
    today = timezone.localdate()
    # 00:30 China time is the previous day in UTC: it still counts for today.
    sent(today, SmsLog.Status.DELIVERED, 2, hour=0)
    sent(today - timedelta(days=30), SmsLog.Status.DELIVERED, 2)
    days = stats.daily_stats(30, today=today)
    assert days[-1].sent == 1
    assert sum(day.sent for day in days) == 1


def test_a_single_delivery_is_its_own_median():
    today = timezone.localdate()
    sent(today, SmsLog.Status.DELIVERED, 7.5)
    assert stats.daily_stats(1, today=today)[0].median_delivery_seconds == pytest.approx(7.5)


def test_a_receipt_stamped_before_the_submission_counts_as_no_time_at_all():
    # The provider's report_time has whole seconds: a fast receipt often reads a fraction before submitted_at.
    today = timezone.localdate()
    yesterday = today - timedelta(days=1)
    for delay in (-0.3, -0.8, 2):  # middle row -0.3
        sent(today, SmsLog.Status.DELIVERED, delay)
    for delay in (-0.5, 1.0):  # even count: the mean of -0.5 and 1.0 taken as 0 and 1.0
        sent(yesterday, SmsLog.Status.DELIVERED, delay)
    days = stats.daily_stats(2, today=today)
    assert days[1].median_delivery_seconds == 0.0
    assert days[0].median_delivery_seconds == pytest.approx(0.5)


def test_time_to_delivery_is_never_below_zero():
    now = timezone.now()
    log = SmsLog(status=SmsLog.Status.DELIVERED, submitted_at=now, delivered_at=now - timedelta(seconds=0.3))
    assert stats.time_to_delivery(log) == timedelta(0)
    log.delivered_at = now + timedelta(seconds=4)
    assert stats.time_to_delivery(log) == timedelta(seconds=4)
    log.status = SmsLog.Status.UNDELIVERED  # no delivery, no time to it
    assert stats.time_to_delivery(log) is None
