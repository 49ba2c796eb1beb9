"""The verbs of a code's record and of a number's throttle, one at a time: what each promises
when another request has changed the row since it was read (the cases the flows rarely reach)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from django_huyi_sms import models, otp
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


@pytest.fixture(params=["upsert", "locking"])
def take_path(request, monkeypatch):
    """Both ways ``take`` counts: the one upsert (PostgreSQL, SQLite >= 3.35) and the portable
    make-lock-update it falls back to on other databases."""
    if request.param == "locking":
        monkeypatch.setattr(models, "_upserts", lambda connection: False)
    return request.param


def test_take_says_how_long_to_wait_per_purpose(take_path):
    now = timezone.now()
    OtpThrottle.take(MOBILE, "login", now)
    with pytest.raises(ResendTooSoon) as caught:
        OtpThrottle.take(MOBILE, "login", now + timedelta(seconds=10.2))
    assert caught.value.retry_after == 50
    # Another purpose has its own interval; the daily tally counts both.
    OtpThrottle.take(MOBILE, "password_reset", now + timedelta(seconds=10.2))
    OtpThrottle.take(MOBILE, "login", now + timedelta(seconds=60))
    row = OtpThrottle.objects.get()
    assert row.sent_today == 3 and row.last_sent_at == now + timedelta(seconds=60)
    assert set(row.sent_for) == {"login", "password_reset"}
    # A voice fallback skips the interval, not the daily limit.
    OtpThrottle.take(MOBILE, "login", now + timedelta(seconds=61), resend_interval=False)


def test_a_refusal_counts_nothing(take_path):
    now = timezone.now()
    OtpThrottle.take(MOBILE, "login", now)
    before = OtpThrottle.objects.values().get()
    with pytest.raises(ResendTooSoon):
        OtpThrottle.take(MOBILE, "login", now + timedelta(seconds=1))
    assert OtpThrottle.objects.values().get() == before


@override_settings(HUYI_SMS={"OTP": {"RESEND_INTERVAL": 0, "DAILY_LIMIT": 2}})
def test_take_keeps_a_tally_per_day(take_path):
    now = timezone.now()
    OtpThrottle.take(MOBILE, "login", now)
    OtpThrottle.take(MOBILE, "verify_phone", now)
    with pytest.raises(DailyLimitReached) as caught:
        OtpThrottle.take(MOBILE, "password_reset", now)
    assert 0 < caught.value.retry_after <= 24 * 3600
    assert OtpThrottle.objects.get().sent_today == 2
    tomorrow = now + timedelta(days=1)
    OtpThrottle.take(MOBILE, "login", tomorrow)
    assert OtpThrottle.objects.get().sent_today == 1


def test_a_purpose_may_be_any_label(take_path):
    """The purpose is a key in the row's JSON: quotes, dots and dollars are just characters."""
    now = timezone.now()
    odd = 'a "b".$c'
    OtpThrottle.take(MOBILE, odd, now)
    with pytest.raises(ResendTooSoon):
        OtpThrottle.take(MOBILE, odd, now + timedelta(seconds=1))
    OtpThrottle.take(MOBILE, "a", now + timedelta(seconds=1))


def test_lifting_the_waits_lets_every_purpose_ask_again(take_path):
    now = timezone.now()
    OtpThrottle.take(MOBILE, "login", now)
    OtpThrottle.objects.update(last_sent_at=None)
    OtpThrottle.take(MOBILE, "password_reset", now + timedelta(seconds=1))
    OtpThrottle.take(MOBILE, "login", now + timedelta(seconds=1))
    assert set(OtpThrottle.objects.get().sent_for) == {"login", "password_reset"}


@override_settings(HUYI_SMS={"OTP": {"RESEND_INTERVAL": 0}})
def test_give_back_takes_back_only_its_own_code():
    """Another request counted a code meanwhile (its send left): that one still holds."""
    now = timezone.now()
    mine = OtpThrottle.take(MOBILE, "login", now)
    OtpThrottle.take(MOBILE, "login", now + timedelta(seconds=1))
    mine.give_back("login")
    row = OtpThrottle.objects.get()
    assert (row.sent_today, row.last_sent_at) == (1, now + timedelta(seconds=1))
    assert list(row.sent_for) == ["login"]


def test_give_back_lifts_the_interval_it_started_and_no_other():
    now = timezone.now()
    OtpThrottle.take(MOBILE, "login", now)
    mine = OtpThrottle.take(MOBILE, "password_reset", now + timedelta(seconds=1))
    mine.give_back("password_reset")
    row = OtpThrottle.objects.get()
    assert (row.sent_today, row.last_sent_at, list(row.sent_for)) == (1, now, ["login"])
    row.check_allowed(now + timedelta(seconds=2), "password_reset")
    with pytest.raises(ResendTooSoon):
        row.check_allowed(now + timedelta(seconds=2), "login")
    OtpThrottle.objects.get().give_back("login")  # gives back nothing it did not count
    OtpThrottle.take(MOBILE, "password_reset", now + timedelta(seconds=2))


def test_give_back_of_the_only_code_lifts_every_wait():
    now = timezone.now()
    mine = OtpThrottle.take(MOBILE, "login", now)
    mine.give_back("login")
    row = OtpThrottle.objects.get()
    assert (row.sent_today, row.last_sent_at, row.sent_for) == (0, None, {})
    row.check_allowed(now, "login")


def test_give_back_leaves_a_new_day_alone():
    yesterday = timezone.now() - timedelta(days=1)
    mine = OtpThrottle.take(MOBILE, "login", yesterday)
    OtpThrottle.take(MOBILE, "verify_phone", timezone.now())  # the day turned: a fresh tally
    mine.give_back("login")
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
