"""One-time codes: issued, sent as a normal SmsLog, stored hashed, checked once, limited."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from django.test import override_settings

import django_huyi_sms
from django_huyi_sms import otp, signals
from django_huyi_sms.exceptions import (
    CodeExpired,
    DailyLimitReached,
    HuyiRateLimitError,
    HuyiRecipientError,
    InvalidCode,
    ResendTooSoon,
    TooManyAttempts,
)
from django_huyi_sms.models import OtpRecord, OtpThrottle, SmsLog

from .test_send import Catcher

pytestmark = pytest.mark.django_db

MOBILE = "13800138000"


def last_code() -> str:
    return re.findall(r"\d{6}", django_huyi_sms.outbox[-1].content)[-1]


def rewind(seconds: int) -> None:
    """Move every code and throttle of the test back in time, as if ``seconds`` had passed."""
    delta = timedelta(seconds=seconds)
    for throttle in OtpThrottle.objects.all():
        OtpThrottle.objects.filter(pk=throttle.pk).update(
            last_sent_at=throttle.last_sent_at and throttle.last_sent_at - delta,
            sent_for={purpose: stamp - seconds * 1_000_000 for purpose, stamp in throttle.sent_for.items()},
        )
    for record in OtpRecord.objects.all():
        OtpRecord.objects.filter(pk=record.pk).update(
            created_at=record.created_at - delta, expires_at=record.expires_at - delta
        )


def test_request_sends_a_code_as_an_sms_and_stores_only_a_hash(caplog):
    caplog.set_level(logging.DEBUG)
    record = otp.request_code("+86 138 0013 8000", purpose="login")
    code = last_code()
    assert len(code) == 6
    assert django_huyi_sms.outbox[-1].content == f"您的验证码是：{code}。请不要把验证码泄露给其他人。"
    stored = OtpRecord.objects.get()
    assert stored.mobile == MOBILE and stored.status == "active"
    assert code not in stored.code_hash and len(stored.code_hash) == 64
    assert code not in repr(stored) and code not in str(stored)
    assert code not in caplog.text
    assert record.sms_log == SmsLog.objects.get() and record.sms_log.purpose == "login"
    # The provider got the code; the log row keeps the message with the code starred out.
    log = SmsLog.objects.get()
    assert code not in log.content and log.content == "您的验证码是：******。请不要把验证码泄露给其他人。"
    assert log.parts == 1


def test_the_right_code_verifies_once():
    otp.request_code(MOBILE)
    code = last_code()
    with Catcher(signals.otp_verified) as verified:
        record = otp.verify_code(MOBILE, code)
    assert record.status == "used" and record.used_at
    assert len(verified.calls) == 1
    with pytest.raises(InvalidCode):
        otp.verify_code(MOBILE, code)  # replay


def test_codes_are_scoped_by_purpose():
    otp.request_code(MOBILE, purpose="login")
    with pytest.raises(InvalidCode):
        otp.verify_code(MOBILE, last_code(), purpose="password_reset")


def test_wrong_codes_kill_the_code_after_max_attempts():
    otp.request_code(MOBILE)
    code = last_code()
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(4):
        with pytest.raises(InvalidCode):
            otp.verify_code(MOBILE, wrong)
    with pytest.raises(TooManyAttempts):
        otp.verify_code(MOBILE, wrong)
    with pytest.raises(TooManyAttempts):
        otp.verify_code(MOBILE, code)  # even the right code is dead now
    assert OtpRecord.objects.get().status == "locked"


def test_codes_expire():
    otp.request_code(MOBILE)
    rewind(301)
    with pytest.raises(CodeExpired):
        otp.verify_code(MOBILE, last_code())


def test_resend_within_the_interval_is_refused_with_seconds_left():
    otp.request_code(MOBILE)
    with pytest.raises(ResendTooSoon) as caught:
        otp.request_code(MOBILE)
    assert 55 <= caught.value.retry_after <= 60
    assert len(django_huyi_sms.outbox) == 1
    assert 55 <= otp.seconds_until_allowed(MOBILE, "login") <= caught.value.retry_after


def test_the_interval_runs_per_purpose():
    """A sign-in code does not hold back a password-reset code: each purpose waits for its own last code."""
    otp.request_code(MOBILE, purpose="login")
    assert otp.seconds_until_allowed(MOBILE, "password_reset") == 0
    otp.request_code(MOBILE, purpose="password_reset")
    assert len(django_huyi_sms.outbox) == 2
    for purpose in ("login", "password_reset"):
        with pytest.raises(ResendTooSoon):
            otp.request_code(MOBILE, purpose=purpose)
        assert otp.seconds_until_allowed("+86 138 0013 8000", purpose) > 0
    # Both codes work: neither replaced the other.
    codes = [re.findall(r"\d{6}", message.content)[-1] for message in django_huyi_sms.outbox]
    assert otp.verify_code(MOBILE, codes[0], purpose="login").status == "used"
    assert otp.verify_code(MOBILE, codes[1], purpose="password_reset").status == "used"
    assert len(django_huyi_sms.outbox) == 2
    # Another number is not held back at all.
    assert otp.seconds_until_allowed("13900139000", "login") == 0


def test_the_daily_limit_counts_every_purpose():
    purposes = ["login", "password_reset", "verify_phone", "login", "password_reset"]
    for index, purpose in enumerate(purposes):
        otp.request_code(MOBILE, purpose=purpose)
        if index == 2:
            rewind(61)
    with pytest.raises(DailyLimitReached) as caught:
        otp.request_code(MOBILE, purpose="verify_phone")  # its own interval is over
    assert otp.seconds_until_allowed(MOBILE, "verify_phone") == caught.value.retry_after
    assert OtpThrottle.objects.get().sent_today == 5 and len(django_huyi_sms.outbox) == 5


def test_seconds_until_allowed_for_garbage_asks_nothing():
    assert otp.seconds_until_allowed("12345", "login") == 0
    with pytest.raises(ValueError):
        otp.seconds_until_allowed(MOBILE, "")


def test_a_new_code_supersedes_the_old_one():
    otp.request_code(MOBILE)
    first = last_code()
    rewind(61)
    otp.request_code(MOBILE)
    second = last_code()
    if first != second:
        with pytest.raises(InvalidCode):
            otp.verify_code(MOBILE, first)
    assert otp.verify_code(MOBILE, second).status == "used"


def test_the_daily_limit():
    for _ in range(5):
        otp.request_code(MOBILE)
        rewind(61)
    with pytest.raises(DailyLimitReached) as caught:
        otp.request_code(MOBILE)
    assert caught.value.retry_after > 0
    assert len(django_huyi_sms.outbox) == 5


def test_a_failed_send_does_not_count(fake_provider):
    fake_provider.answer_json(code=4085, msg="同一手机号验证码短信发送超出【5】条", smsid="0")
    settings = {"ACCOUNT": "C1", "API_KEY": "k", "API_URL": fake_provider.url,
                "BACKEND": "django_huyi_sms.backends.ihuyi.IhuyiBackend"}
    with override_settings(HUYI_SMS=settings), pytest.raises(HuyiRateLimitError):
        otp.request_code(MOBILE)
    assert OtpRecord.objects.get().status == "failed"
    assert OtpThrottle.objects.get().sent_today == 0
    otp.request_code(MOBILE)  # not ResendTooSoon: nothing was sent
    assert otp.verify_code(MOBILE, last_code()).status == "used"


def test_bad_numbers_and_garbage_codes():
    with pytest.raises(HuyiRecipientError):
        otp.request_code("12345")
    assert OtpRecord.objects.count() == 0
    with pytest.raises(InvalidCode):
        otp.verify_code("12345", "123456")
    with pytest.raises(InvalidCode):
        otp.verify_code(MOBILE, "123456")  # nothing was sent
    otp.request_code(MOBILE)
    for garbage in ("", "   ", "12345678901234567890", "漢字"):
        with pytest.raises(InvalidCode):
            otp.verify_code(MOBILE, garbage)


def test_settings_change_length_and_template():
    with override_settings(HUYI_SMS={"BACKEND": "django_huyi_sms.backends.locmem.LocmemBackend",
                                     "OTP": {"LENGTH": 4, "TEMPLATE": "【Acme】code {code}"}}):
        otp.request_code(MOBILE)
    assert re.fullmatch(r"【Acme】code \d{4}", django_huyi_sms.outbox[-1].content)


def test_the_pre_send_check_can_refuse():
    from django_huyi_sms.adapter import HuyiAdapter
    from django_huyi_sms.exceptions import OtpError

    class NeedsCaptcha(HuyiAdapter):
        def pre_send_check(self, request, mobile, purpose):
            raise OtpError("captcha required")

    with override_settings(HUYI_SMS={"ADAPTER": NeedsCaptcha}), pytest.raises(OtpError, match="captcha"):
        otp.request_code(MOBILE)
    assert OtpRecord.objects.count() == 0 and django_huyi_sms.outbox == []
