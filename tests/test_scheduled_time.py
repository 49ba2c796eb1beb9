"""A scheduled marketing send's ``stime``: always written in China time, whatever the datetime given."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from django_huyi_sms.client import IhuyiClient


def marketing_client(provider):
    return IhuyiClient("M1", "marketing-key", provider.url, product="marketing")


@pytest.mark.parametrize(
    "stime",
    [
        datetime(2030, 1, 1, 12, 0, tzinfo=UTC),
        datetime(2030, 1, 1, 20, 0, tzinfo=timezone(timedelta(hours=8))),
        datetime(2030, 1, 1, 3, 0, tzinfo=timezone(timedelta(hours=-9))),
    ],
)
def test_an_aware_stime_is_sent_in_china_time(fake_provider, stime):
    marketing_client(fake_provider).submit(["13800138000", "13900139000"], "周末五折【商城】回T退订", stime=stime)
    assert fake_provider.requests[0].form["stime"] == "2030-01-01 20:00:00"


@pytest.fixture
def machine_in_new_york():
    """A naive datetime is this machine's local time, as Python reads it: pretend the machine is in New York."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def test_a_naive_stime_is_the_machines_local_time(fake_provider, machine_in_new_york):
    # 07:00 in New York in January (UTC-5) is 12:00 UTC, 20:00 in China.
    marketing_client(fake_provider).submit("13800138000", "周末五折【商城】回T退订", stime=datetime(2030, 1, 1, 7, 0))
    assert fake_provider.requests[0].form["stime"] == "2030-01-01 20:00:00"


def test_without_stime_none_is_sent(fake_provider):
    marketing_client(fake_provider).submit("13800138000", "周末五折【商城】回T退订")
    assert "stime" not in fake_provider.requests[0].form
