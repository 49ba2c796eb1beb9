"""The verbs of a code's record and of a number's throttle, one at a time: what each promises
when another request has changed the row since it was read (the cases the flows rarely reach)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from django_huyi_sms import otp
from django_huyi_sms.exceptions import CodeExpired, DailyLimitReached, InvalidCode, ResendTooSoon, TooManyAttempts
from django_huyi_sms.models import OtpRecord, OtpThrottle

pytestmark = pytest.mark.django_db

MOBILE = "13800138000"


def a_record(**fields) -> OtpRecord:
    otp.request_code(MOBILE, purpose="verify_phone")
    record = OtpRecord.objects.get()
    if fields:
        OtpRecord.objects.filter(pk=record.pk).update(**fields)
        record.refresh_from_db()
    return record


# -- OtpThrottle ---------------------------------------------------------------------------------


def test_check_allowed_says_how_long_to_wait():
    now = timezone.now()
    throttle = OtpThrottle.objects.create(mobile=MOBILE)
    throttle.check_allowed(now)
    throttle.count(now)
    with pytest.raises(ResendTooSoon) as caught:
        throttle.check_allowed(now + timedelta(seconds=10.2))
    assert caught.value.retry_after == 50
    throttle.check_allowed(now + timedelta(seconds=60))


@override_settings(HUYI_SMS={"OTP": {"RESEND_INTERVAL": 0, "DAILY_LIMIT": 2}})
def test_count_keeps_a_tally_per_day():
    now = timezone.now()
    throttle = OtpThrottle.objects.create(mobile=MOBILE)
    throttle.count(now)
    throttle.count(now)
    with pytest.raises(DailyLimitReached) as caught:
        throttle.check_allowed(now)
    assert 0 < caught.value.retry_after <= 24 * 3600
    tomorrow = now + timedelta(days=1)
    throttle.check_allowed(tomorrow)
    throttle.count(tomorrow)
    assert OtpThrottle.objects.get().sent_today == 1


@override_settings(HUYI_SMS={"OTP": {"RESEND_INTERVAL": 0}})
def test_give_back_takes_back_only_its_own_code():
    """Another request counted a code meanwhile (its send left): that one still holds."""
    now = timezone.now()
    mine = OtpThrottle.objects.create(mobile=MOBILE)
    mine.count(now)
    theirs = OtpThrottle.objects.get()
    theirs.count(now + timedelta(seconds=1))
    mine.give_back()
    row = OtpThrottle.objects.get()
    assert (row.sent_today, row.last_sent_at) == (1, now + timedelta(seconds=1))


def test_give_back_clears_the_interval_it_started():
    now = timezone.now()
    throttle = OtpThrottle.objects.create(mobile=MOBILE)
    throttle.count(now)
    throttle.give_back()
    row = OtpThrottle.objects.get()
    assert (row.sent_today, row.last_sent_at) == (0, None)
    row.check_allowed(now)


def test_give_back_leaves_a_new_day_alone():
    yesterday = timezone.now() - timedelta(days=1)
    mine = OtpThrottle.objects.create(mobile=MOBILE)
    mine.count(yesterday)
    OtpThrottle.objects.get().count(timezone.now())  # the day turned: a fresh tally
    mine.give_back()
    assert OtpThrottle.objects.get().sent_today == 1


# -- OtpRecord -----------------------------------------------------------------------------------


def test_check_try_refuses_a_dead_code_before_an_expired_one():
    past = timezone.now() + timedelta(seconds=301)
    record = a_record()
    with pytest.raises(CodeExpired):
        record.check_try(past)
    record.attempts = 5
    with pytest.raises(TooManyAttempts):
        record.check_try(past)
    for status in ("used", "superseded", "failed"):
        record.status = status
        with pytest.raises(InvalidCode):
            record.check_try(timezone.now())


def test_count_wrong_try_counts_tries_made_through_a_stale_copy_and_kills_at_the_limit():
    record = a_record(attempts=3)
    stale = OtpRecord.objects.get(pk=record.pk)
    record.count_wrong_try()
    stale.count_wrong_try()  # read before the other try: the database adds, nothing is lost
    row = OtpRecord.objects.get()
    assert (row.attempts, row.status) == (5, "locked")


def test_count_wrong_try_does_not_bring_back_a_used_code():
    record = a_record()
    stale = OtpRecord.objects.get(pk=record.pk)
    record.use(timezone.now())
    stale.count_wrong_try()
    assert (OtpRecord.objects.get().status, OtpRecord.objects.get().attempts) == ("used", 0)


def test_use_lets_one_of_two_copies_through():
    record = a_record()
    other = OtpRecord.objects.get(pk=record.pk)
    record.use(timezone.now())
    with pytest.raises(InvalidCode):
        other.use(timezone.now())


def test_claim_is_won_once_and_never_on_a_dead_record():
    record = a_record(code_hash="")
    other = OtpRecord.objects.get(pk=record.pk)
    assert record.claim("a" * 64) and not other.claim("b" * 64)
    assert OtpRecord.objects.get().code_hash == "a" * 64
    OtpRecord.objects.update(code_hash="", status="superseded")
    assert not OtpRecord.objects.get().claim("c" * 64)


@override_settings(HUYI_SMS={"BACKEND": "django_huyi_sms.backends.locmem.LocmemBackend", "OTP": {"RESEND_INTERVAL": 0}})
def test_replace_earlier_supersedes_only_earlier_live_codes_of_the_same_purpose():
    otp.request_code(MOBILE, purpose="verify_phone")
    otp.request_code(MOBILE, purpose="login")
    first = OtpRecord.objects.get(purpose="verify_phone")
    otp.request_code(MOBILE, purpose="verify_phone")
    second = OtpRecord.objects.filter(purpose="verify_phone").latest("pk")
    # Each replaced the one before when it left; now put the first back, and replace from the first.
    OtpRecord.objects.filter(pk=first.pk).update(status="active")
    first.replace_earlier()
    assert OtpRecord.objects.get(pk=second.pk).status == "active"  # a later code is not "earlier"
    second.replace_earlier()
    assert dict(OtpRecord.objects.values_list("pk", "status")) == {
        first.pk: "superseded",
        second.pk: "active",
        OtpRecord.objects.get(purpose="login").pk: "active",
    }
