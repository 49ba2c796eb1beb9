"""The site-wide cap on one-time codes: a ceiling per clock hour and per day, against SMS pumping.

The per-number limits (``OtpThrottle``) keep one phone from being bombed and the per-IP
limits (``ratelimits.py``) one address from asking too often. Neither stops a bot that
walks through number ranges from many addresses ("SMS pumping"): every number is new,
every address too, and every code is billed. ihuyi's anti-abuse note asks for a cap per
account per day as well; this is it: ``OTP["SITE_HOURLY_LIMIT"]`` and
``OTP["SITE_DAILY_LIMIT"]`` codes for the whole site (``None``: no cap, the default).

* Counted in the database (``SiteCodeCount``, one row per window), inside the
  transaction that records the code, by a conditional UPDATE: concurrent requests never
  count past the cap, and a request refused for any reason counts nothing.
* Every code request counts, whether or not its number gets an SMS (sign-in and reset
  for a number without an account): a refusal falls on every number alike, so it tells
  nobody which numbers have accounts.
* Past the cap a request is refused with :class:`~.exceptions.SiteLimitReached` until
  the window ends (429 with ``Retry-After`` on the API, a message on the pages), whatever
  the adapter's challenge says: a captcha is already asked of every request when the
  adapter has one, and captcha-solving services cost less than the SMS they unlock, so
  the cap is what bounds the bill.
* The first refusal of a full window logs a warning and mails ``ADMINS``; the others
  do not.
* A code whose send was refused or reached nobody is given back, as the per-number
  count is (``otp.py``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.utils import timezone

from . import alerts
from .conf import huyi_settings
from .exceptions import SiteLimitReached
from .models import SiteCodeCount

__all__ = ["Counted", "count", "give_back", "reporting_trips", "window_of"]

logger = logging.getLogger("django_huyi_sms.site_limits")

Window = SiteCodeCount.Window

_SETTING = {Window.DAY: "SITE_DAILY_LIMIT", Window.HOUR: "SITE_HOURLY_LIMIT"}
_ADJECTIVE = {Window.DAY: "daily", Window.HOUR: "hourly"}


@dataclass(frozen=True)
class Counted:
    """The windows one code request was counted in (their starts), for :func:`give_back`."""

    windows: tuple[tuple[str, datetime], ...] = ()


def window_of(window: str, now: datetime) -> tuple[datetime, datetime]:
    """The start and end of the ``"hour"`` or ``"day"`` that ``now`` is in.

    An hour is a clock hour; a day runs from midnight to midnight in the site's
    time zone, as ``OTP["DAILY_LIMIT"]`` counts days.
    """
    if window == Window.HOUR:
        start = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        return start, start + timedelta(hours=1)
    today = timezone.localdate(now)
    start = timezone.make_aware(datetime.combine(today, time.min))
    return start, timezone.make_aware(datetime.combine(today + timedelta(days=1), time.min))


def _caps() -> list[tuple[str, int]]:
    """The caps that are set, the day's first: once the day is full its hours are not counted."""
    otp = huyi_settings.OTP
    return [(window, otp[name]) for window, name in _SETTING.items() if otp[name] is not None]


def count(now: datetime) -> Counted:
    """Count one code request at ``now`` against the site's caps.

    Raises :class:`SiteLimitReached` (``retry_after``: seconds until the full
    window ends) when a cap is reached. Call it inside the transaction that
    records the code, after the per-number checks, and wrap that transaction in
    :func:`reporting_trips`: a refusal then rolls back whatever it counted.
    """
    counted = []
    for window, limit in _caps():
        started, ends = window_of(window, now)
        if not SiteCodeCount.take(window, started, limit):
            retry_after = max(1, math.ceil((ends - now).total_seconds()))
            raise SiteLimitReached(retry_after, window=window, started=started, limit=limit)
        counted.append((window, started))
    return Counted(tuple(counted))


def give_back(counted: Counted) -> None:
    """Take back what :func:`count` counted: the code's send was refused or reached nobody."""
    for window, started in counted.windows:
        SiteCodeCount.give_back(window, started)


@contextmanager
def reporting_trips() -> Iterator[None]:
    """Around the transaction that calls :func:`count`: tell operators, once a full window, that the cap refuses.

    Outside that transaction, so that its rollback does not take the mark back.
    """
    try:
        yield
    except SiteLimitReached as refusal:
        _report(refusal)
        raise


def _report(refusal: SiteLimitReached) -> None:
    if not SiteCodeCount.trip(refusal.window, refusal.started, timezone.now()):
        return  # this window's first refusal told them already
    window = Window(refusal.window)
    setting = _SETTING[window]
    _started, ends = window_of(window, refusal.started)
    ends_at = f"{timezone.localtime(ends):%Y-%m-%d %H:%M %Z}"
    logger.warning(
        "site-wide cap reached: %d codes this %s (OTP[%r]); code requests are refused until %s",
        refusal.limit,
        window,
        setting,
        ends_at,
    )
    alerts.tell_admins(
        f"SMS codes stopped: the site-wide {_ADJECTIVE[window]} cap of {refusal.limit} was reached",
        f"The site has sent {refusal.limit} one-time codes this {window} "
        f"(since {timezone.localtime(refusal.started):%Y-%m-%d %H:%M %Z}), as many as "
        f"HUYI_SMS['OTP'][{setting!r}] allows.\n\n"
        f"Until {ends_at}, every request for a code (sign-in, password reset, phone verification) "
        "is refused, for every number alike.\n\n"
        "If this is real demand, raise the cap. If it is not, somebody may be pumping SMS through "
        "the site (requests for many numbers, often in one range or one country): the one-time codes "
        "list in the admin shows the numbers and the addresses that asked.\n\n"
        "This mail is sent once for each hour or day in which the cap is reached.",
    )
