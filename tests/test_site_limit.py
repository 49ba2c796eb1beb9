"""The site-wide cap on one-time codes (``OTP["SITE_HOURLY_LIMIT"]``, ``OTP["SITE_DAILY_LIMIT"]``):
a ceiling against SMS pumping, counted in the database, the same refusal for every number."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from unittest import mock

import django
import pytest
from django.conf import settings
from django.core import mail
from django.core.checks import run_checks
from django.db import connection
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

import django_huyi_sms
from django_huyi_sms import otp, site_limits
from django_huyi_sms.exceptions import HuyiConnectionError, ResendTooSoon, SiteLimitReached
from django_huyi_sms.models import OtpRecord, OtpThrottle, SiteCodeCount, SmsLog

from .flow_helpers import MOBILE, OTHER_MOBILE, make_user, sms_count
from .test_admin_balance import closed_port_url

pytestmark = pytest.mark.django_db

ADMINS = ["ops@example.com"] if django.VERSION >= (6, 0) else [("Ops", "ops@example.com")]
NUMBERS = [f"1380013{n:04d}" for n in range(30)]


def capped(hourly=None, daily=None, **extra):
    """The test settings with the site-wide caps (and no per-IP limit, which would stop the test client first)."""
    otp_settings = {**settings.HUYI_SMS["OTP"], "SITE_HOURLY_LIMIT": hourly, "SITE_DAILY_LIMIT": daily}
    return override_settings(
        HUYI_SMS={**settings.HUYI_SMS, "OTP": otp_settings, "RATELIMITS": {"REQUEST_CODE": None}, **extra},
        ADMINS=ADMINS,
    )


@pytest.fixture
def later(monkeypatch):
    """``later(hours=1)``: from now on the clock reads that much later."""
    real_now = timezone.now

    def move(**delta):
        monkeypatch.setattr(timezone, "now", lambda: real_now() + timedelta(**delta))

    return move


def test_past_the_hourly_cap_every_code_request_is_refused_until_the_next_hour(later):
    with capped(hourly=3):
        for mobile in NUMBERS[:3]:
            otp.request_code(mobile)
        with pytest.raises(SiteLimitReached) as caught:
            otp.request_code(NUMBERS[3])
        # It ends with the clock hour.
        assert 0 < caught.value.retry_after <= 3600
        assert (time.time() + caught.value.retry_after) % 3600 < 3 or (time.time() + caught.value.retry_after) % 3600 > 3597
        assert caught.value.reason == "site_limit" and caught.value.window == "hour"
        # Refused before anything was written for that number: no code, no SMS, nothing counted.
        assert OtpRecord.objects.count() == 3 and len(django_huyi_sms.outbox) == 3
        assert not OtpThrottle.objects.filter(mobile=NUMBERS[3]).exists()
        assert SiteCodeCount.objects.get().count == 3
        later(hours=1)
        otp.request_code(NUMBERS[3])
    assert len(django_huyi_sms.outbox) == 4
    assert sorted(SiteCodeCount.objects.values_list("count", flat=True)) == [1, 3]


def test_past_the_daily_cap_codes_are_refused_until_midnight():
    with capped(daily=2, hourly=100):
        otp.request_code(NUMBERS[0])
        otp.request_code(NUMBERS[1])
        with pytest.raises(SiteLimitReached) as caught:
            otp.request_code(NUMBERS[2])
    assert caught.value.window == "day"
    ends = timezone.localtime() + timedelta(seconds=caught.value.retry_after)
    assert (ends.hour, ends.minute) in ((0, 0), (23, 59))
    # The day's cap is checked first: the hour's row is not counted past it.
    assert {row.window: row.count for row in SiteCodeCount.objects.all()} == {"day": 2, "hour": 2}


def test_a_request_the_numbers_own_limits_refuse_takes_nothing_from_the_site():
    with capped(hourly=2):
        otp.request_code(MOBILE)
        with pytest.raises(ResendTooSoon):
            otp.request_code(MOBILE)
        otp.request_code(OTHER_MOBILE)
    assert SiteCodeCount.objects.get().count == 2 and len(django_huyi_sms.outbox) == 2


def test_off_by_default():
    for mobile in NUMBERS[:5]:
        otp.request_code(mobile)
    assert not SiteCodeCount.objects.exists() and len(django_huyi_sms.outbox) == 5


def test_a_send_that_reached_nobody_is_given_back():
    ihuyi = {"ACCOUNT": "C1", "API_KEY": "k", "API_URL": closed_port_url(), "TIMEOUT": 2,
             "BACKEND": "django_huyi_sms.backends.ihuyi.IhuyiBackend"}
    with capped(hourly=1, **ihuyi):
        with pytest.raises(HuyiConnectionError):
            otp.request_code(MOBILE)
        assert SiteCodeCount.objects.get().count == 0
    with capped(hourly=1):
        otp.request_code(OTHER_MOBILE)  # the slot it took is free again
    assert SiteCodeCount.objects.get().count == 1


def test_the_api_answers_429_with_retry_after_and_the_same_for_every_number():
    make_user()  # MOBILE has an account, OTHER_MOBILE has none
    api = APIClient()
    url = reverse("huyi_sms:otp_request")
    with capped(hourly=2):
        known = api.post(url, {"mobile": MOBILE, "purpose": "password_reset"}, format="json")
        unknown = api.post(url, {"mobile": OTHER_MOBILE, "purpose": "password_reset"}, format="json")
        assert known.status_code == unknown.status_code == 200
        # Both counted, though only one SMS left: the cap cannot tell them apart either.
        assert SiteCodeCount.objects.get().count == 2 and sms_count(MOBILE) == 1 and sms_count(OTHER_MOBILE) == 0
        SiteCodeCount.objects.update(count=2)
        OtpThrottle.objects.update(last_sent_at=None, sent_for={})
        # One instant for both, so that a second ticking over between them cannot change retry_after.
        with mock.patch.object(site_limits.timezone, "now", return_value=timezone.now()):
            known = api.post(url, {"mobile": MOBILE, "purpose": "password_reset"}, format="json")
            unknown = api.post(url, {"mobile": OTHER_MOBILE, "purpose": "password_reset"}, format="json")
    assert known.status_code == unknown.status_code == 429
    assert known.json() == unknown.json()
    assert known.json()["code"] == "site_limit"
    assert known.json()["detail"] == "Too many codes are being sent right now; try again later."
    assert int(known["Retry-After"]) == known.json()["retry_after"] > 0


def test_the_sign_in_page_says_so_and_counts_down(client):
    make_user()
    with capped(hourly=1):
        client.post(reverse("huyi_sms:login"), {"mobile": OTHER_MOBILE, "send_code": "1"})
        response = client.post(reverse("huyi_sms:login"), {"mobile": MOBILE, "send_code": "1"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Too many codes are being sent right now; try again later." in page
    assert f'data-huyi-countdown="{response.context["resend_in"]}"' in page and response.context["resend_in"] > 0
    assert sms_count(MOBILE) == 0


def test_operators_are_mailed_once_per_full_window(later, django_capture_on_commit_callbacks, caplog):
    with capped(hourly=1):
        with django_capture_on_commit_callbacks(execute=True):
            otp.request_code(NUMBERS[0])
            for mobile in NUMBERS[1:4]:
                with pytest.raises(SiteLimitReached):
                    otp.request_code(mobile)
        assert len(mail.outbox) == 1
        later(hours=1)
        with django_capture_on_commit_callbacks(execute=True):
            otp.request_code(NUMBERS[4])
            with pytest.raises(SiteLimitReached):
                otp.request_code(NUMBERS[5])
    assert len(mail.outbox) == 2
    message = mail.outbox[0]
    assert message.subject == "[Django] SMS codes stopped: the site-wide hourly cap of 1 was reached"
    assert "SITE_HOURLY_LIMIT" in message.body and "pumping" in message.body
    assert all(mobile not in message.body for mobile in NUMBERS)
    assert caplog.text.count("site-wide cap reached") == 2


def test_a_queued_code_is_counted_in_the_request(dummy_queue, django_capture_on_commit_callbacks):
    with capped(hourly=1), django_capture_on_commit_callbacks(execute=True):
        otp.request_code(MOBILE)
        with pytest.raises(SiteLimitReached):
            otp.request_code(OTHER_MOBILE)
    assert len(dummy_queue.results) == 1 and OtpRecord.objects.count() == 1


@pytest.mark.parametrize("value", ["10", 0, -5, 2.5, True])
def test_a_cap_that_is_not_a_whole_number_above_0_is_reported(value):
    otp_settings = {**settings.HUYI_SMS["OTP"], "SITE_DAILY_LIMIT": value}
    with override_settings(HUYI_SMS={**settings.HUYI_SMS, "OTP": otp_settings}):
        errors = [message for message in run_checks() if message.id == "huyi_sms.E035"]
        assert len(errors) == 1 and "SITE_DAILY_LIMIT" in errors[0].msg
        # A cap that cannot be read stops code requests rather than run uncapped.
        with pytest.raises(django.core.exceptions.ImproperlyConfigured):
            otp.request_code(MOBILE)
    assert len(django_huyi_sms.outbox) == 0


def test_window_of_gives_clock_hours_and_local_days():
    now = timezone.make_aware(timezone.datetime(2026, 3, 9, 23, 40, 5))
    start, end = site_limits.window_of("hour", now)
    assert (timezone.localtime(start).hour, timezone.localtime(end).hour, start.minute) == (23, 0, 0)
    start, end = site_limits.window_of("day", now)
    assert timezone.localtime(start).isoformat() == "2026-03-09T00:00:00+08:00"
    assert timezone.localtime(end).isoformat() == "2026-03-10T00:00:00+08:00"


def test_a_window_row_a_concurrent_request_makes_meanwhile_is_counted_on(monkeypatch):
    """The first two codes of a window: one request's UPDATE finds no row, and before it looks again the
    other request has made it. It has room, so the code counts (it was refused as if full, once)."""
    from django.db.models.query import QuerySet

    started, _ends = site_limits.window_of("hour", timezone.now())
    real_exists = QuerySet.exists
    inserted = []

    def exists_after_a_concurrent_insert(queryset):
        if queryset.model is SiteCodeCount and not inserted:
            inserted.append(SiteCodeCount.objects.create(window="hour", started_at=started, count=1))
        return real_exists(queryset)

    monkeypatch.setattr(QuerySet, "exists", exists_after_a_concurrent_insert)
    assert SiteCodeCount.take("hour", started, 5) is True
    assert SiteCodeCount.objects.get().count == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_only")
def test_twenty_numbers_at_once_against_a_cap_of_five_send_five():
    def ask(gate, results, mobile):
        try:
            gate.wait(timeout=10)
            results.append(otp.request_code(mobile))
        except SiteLimitReached as refusal:
            results.append(refusal)
        finally:
            connection.close()

    def twenty_at_once(numbers):
        gate, results = threading.Barrier(20), []
        threads = [threading.Thread(target=ask, args=(gate, results, mobile)) for mobile in numbers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        return [type(result).__name__ for result in results]

    with capped(hourly=5, daily=8):
        results = twenty_at_once(NUMBERS[:20])  # the window's first codes: twenty INSERTs race
    assert sorted(results) == ["OtpRecord"] * 5 + ["SiteLimitReached"] * 15
    assert {row.window: row.count for row in SiteCodeCount.objects.all()} == {"hour": 5, "day": 5}
    with capped(hourly=10):
        results = twenty_at_once(NUMBERS[20:] + [f"1390013{n:04d}" for n in range(10)])  # twenty UPDATEs race
    assert sorted(results) == ["OtpRecord"] * 5 + ["SiteLimitReached"] * 15
    assert SiteCodeCount.objects.get(window="hour").count == 10
    assert SmsLog.objects.count() == 10 and len(django_huyi_sms.outbox) == 10
    assert len(mail.outbox) == 1  # the hour's window tripped once (raising its cap does not trip it again)


def deploy_warnings(huyi_sms, **django_settings):
    from django.core.checks import Tags

    with override_settings(HUYI_SMS=huyi_sms, DEBUG=False, **django_settings):
        return {m.id: m for m in run_checks(tags=[Tags.security], include_deployment_checks=True)}


LIVE = {"ACCOUNT": "C12345678", "API_KEY": "a-real-looking-key", "CALLBACK_TOKEN": "t",
        "BACKEND": "django_huyi_sms.backends.ihuyi.IhuyiBackend"}


def test_check_deploy_warns_of_a_live_site_without_a_cap():
    warning = deploy_warnings(LIVE, ADMINS=ADMINS)["huyi_sms.W035"]
    assert "SMS pumping" in warning.msg and "SITE_HOURLY_LIMIT" in warning.hint
    for caps in ({"SITE_DAILY_LIMIT": 3000}, {"SITE_HOURLY_LIMIT": 500}):
        assert "huyi_sms.W035" not in deploy_warnings({**LIVE, "OTP": caps}, ADMINS=ADMINS)
    # Plain check, and a developer's site, say nothing of it.
    with override_settings(HUYI_SMS=LIVE, DEBUG=False):
        assert "huyi_sms.W035" not in {m.id for m in run_checks()}
    with override_settings(HUYI_SMS=LIVE, DEBUG=True):
        assert "huyi_sms.W035" not in {m.id for m in run_checks(include_deployment_checks=True)}
