"""Voice codes: spoken by the voice product, still a code (hashed, limited, single use), and the
fallback rule: a call may follow an SMS code once it has gone unanswered for
OTP["VOICE_FALLBACK_AFTER"] seconds, or at once when its receipt says undelivered. The pages and the
API that offer it: test_voice_fallback_pages.py."""

from __future__ import annotations

import re

import pytest
from django.core import checks
from django.test import override_settings

import django_huyi_sms
from django_huyi_sms import otp
from django_huyi_sms.exceptions import (
    DailyLimitReached,
    HuyiContentError,
    InvalidCode,
    ResendTooSoon,
    VoiceTooSoon,
)
from django_huyi_sms.models import OtpRecord, OtpThrottle, SmsLog

from .flow_helpers import MOBILE
from .push_helpers import post_form, receipt_fields
from .test_otp import rewind
from .test_otp_queue import run_tasks

pytestmark = pytest.mark.django_db

LOCMEM = "django_huyi_sms.backends.locmem.LocmemBackend"


def huyi(**otp_settings):
    base = {"UNIFORM_RESPONSE_SECONDS": 0, "VOICE_FALLBACK_AFTER": 60}
    return {
        "ACCOUNT": "sandbox",
        "API_KEY": "sandbox-api-key",
        "BACKEND": LOCMEM,
        "CALLBACK_TOKEN": "test-callback-token",
        "OTP": {**base, **otp_settings},
    }


@pytest.fixture(autouse=True)
def voice_offered():
    with override_settings(HUYI_SMS=huyi()):
        yield


def calls(mobile=MOBILE):
    return [message for message in django_huyi_sms.outbox if message.mobile == mobile and message.product == "voice"]


def texts(mobile=MOBILE):
    return [message for message in django_huyi_sms.outbox if message.mobile == mobile and message.product == "sms"]


def code_of(message) -> str:
    return re.findall(r"\d{4,}", message.content)[-1]


def undelivered(client, log: SmsLog) -> None:
    assert post_form(client, "receipt_push", receipt_fields(log.smsid, log.mobile, code="0")).content == b"success"
    log.refresh_from_db()
    assert log.status == "undelivered"


# -- the code itself ---------------------------------------------------------------------------------


def test_a_voice_code_is_the_digits_the_voice_product_speaks_and_is_never_stored_in_clear():
    record = otp.request_code("+86 138 0013 8000", purpose="verify_phone", channel="voice")
    [call] = calls()
    code = call.content
    assert re.fullmatch(r"[0-9]{6}", code) and call.parts == 1
    assert texts() == []
    record.refresh_from_db()
    assert record.channel == OtpRecord.Channel.VOICE
    log = SmsLog.objects.get()
    assert (log.product, log.content, log.carries_code, log.purpose) == ("voice", "******", True, "verify_phone")
    assert record.sms_log == log and code not in record.code_hash
    assert otp.verify_code(MOBILE, code, purpose="verify_phone").status == OtpRecord.Status.USED
    with pytest.raises(InvalidCode):
        otp.verify_code(MOBILE, code, purpose="verify_phone")


def test_an_unknown_channel_is_a_programming_error():
    with pytest.raises(ValueError, match="channel"):
        otp.request_code(MOBILE, channel="fax")
    assert not OtpRecord.objects.exists()


def test_a_code_longer_than_the_voice_product_speaks_fails_and_does_not_count():
    with override_settings(HUYI_SMS=huyi(LENGTH=10)):
        with pytest.raises(HuyiContentError) as caught:
            otp.request_code(MOBILE, purpose="verify_phone", channel="voice")
        assert caught.value.code == 40722
        assert not OtpRecord.objects.exists() and not SmsLog.objects.exists()  # refused before any write
        assert calls() == []
        otp.request_code(MOBILE, purpose="verify_phone")  # not counted: an SMS may be asked for at once
    assert len(texts()) == 1


def test_a_queued_voice_code_is_made_and_spoken_by_the_worker(dummy_queue, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        record = otp.request_code(MOBILE, purpose="verify_phone", channel="voice")
    assert record.code_hash == "" and calls() == []
    run_tasks(dummy_queue)
    [call] = calls()
    assert otp.verify_code(MOBILE, call.content, purpose="verify_phone").channel == "voice"


# -- the fallback rule ---------------------------------------------------------------------------------


def test_the_fallback_waits_for_voice_fallback_after_not_earlier():
    otp.request_code(MOBILE, purpose="verify_phone")
    assert otp.voice_fallback_in(MOBILE, "verify_phone") == 60
    with pytest.raises(VoiceTooSoon) as caught:
        otp.request_code(MOBILE, purpose="verify_phone", channel="voice")
    assert caught.value.retry_after == 60 and caught.value.reason == "voice_too_soon"
    rewind(59)
    assert otp.voice_fallback_in(MOBILE, "verify_phone") == 1
    with pytest.raises(VoiceTooSoon):
        otp.request_code(MOBILE, purpose="verify_phone", channel="voice")
    rewind(1)
    assert otp.voice_fallback_in(MOBILE, "verify_phone") == 0
    otp.request_code(MOBILE, purpose="verify_phone", channel="voice")
    [sms], [call] = texts(), calls()
    # The call's code took over once it left: the SMS's no longer works, the call's does.
    with pytest.raises(InvalidCode):
        otp.verify_code(MOBILE, code_of(sms), purpose="verify_phone")
    assert otp.verify_code(MOBILE, call.content, purpose="verify_phone").channel == "voice"


def test_the_fallback_waits_for_its_own_time_not_the_resend_interval():
    with override_settings(HUYI_SMS=huyi(RESEND_INTERVAL=120, VOICE_FALLBACK_AFTER=30)):
        otp.request_code(MOBILE, purpose="verify_phone")
        rewind(30)
        with pytest.raises(ResendTooSoon) as sms_again:
            otp.request_code(MOBILE, purpose="verify_phone")  # another SMS: the interval holds
        assert type(sms_again.value) is ResendTooSoon
        otp.request_code(MOBILE, purpose="verify_phone", channel="voice")  # the call: its own rule
    assert len(calls()) == 1


def test_after_a_call_the_next_code_of_either_kind_waits_the_resend_interval():
    otp.request_code(MOBILE, purpose="verify_phone")
    rewind(60)
    otp.request_code(MOBILE, purpose="verify_phone", channel="voice")
    assert otp.voice_fallback_in(MOBILE, "verify_phone") is None  # a call has no fallback of its own
    for channel in ("voice", "sms"):
        with pytest.raises(ResendTooSoon) as caught:
            otp.request_code(MOBILE, purpose="verify_phone", channel=channel)
        assert type(caught.value) is ResendTooSoon
    rewind(60)
    otp.request_code(MOBILE, purpose="verify_phone")
    assert (len(texts()), len(calls())) == (2, 1)


def test_an_undelivered_receipt_allows_the_call_at_once(client):
    record = otp.request_code(MOBILE, purpose="verify_phone")
    undelivered(client, record.sms_log)
    assert otp.voice_fallback_in(MOBILE, "verify_phone") == 0
    otp.request_code(MOBILE, purpose="verify_phone", channel="voice")
    assert len(calls()) == 1


def test_a_used_or_expired_sms_code_has_no_fallback():
    otp.request_code(MOBILE, purpose="verify_phone")
    otp.verify_code(MOBILE, code_of(texts()[-1]), purpose="verify_phone")
    assert otp.voice_fallback_in(MOBILE, "verify_phone") is None
    rewind(600)
    otp.request_code(MOBILE, purpose="verify_phone")
    rewind(400)  # past the code's 300 s
    assert otp.voice_fallback_in(MOBILE, "verify_phone") is None


def test_sms_and_voice_codes_share_the_daily_limit():
    with override_settings(HUYI_SMS=huyi(DAILY_LIMIT=3, RESEND_INTERVAL=0, VOICE_FALLBACK_AFTER=0)):
        otp.request_code(MOBILE, purpose="verify_phone")
        otp.request_code(MOBILE, purpose="verify_phone", channel="voice")
        otp.request_code(MOBILE, purpose="verify_phone")
        for channel in ("voice", "sms"):
            with pytest.raises(DailyLimitReached):
                otp.request_code(MOBILE, purpose="verify_phone", channel=channel)
    assert OtpThrottle.objects.get().sent_today == 3
    assert (len(texts()), len(calls())) == (2, 1)


def test_without_voice_fallback_after_a_voice_code_is_an_ordinary_code():
    with override_settings(HUYI_SMS=huyi(VOICE_FALLBACK_AFTER=None)):
        otp.request_code(MOBILE, purpose="verify_phone")
        assert otp.voice_fallback_in(MOBILE, "verify_phone") is None
        with pytest.raises(ResendTooSoon) as caught:
            otp.request_code(MOBILE, purpose="verify_phone", channel="voice")
        assert type(caught.value) is ResendTooSoon
        rewind(60)
        otp.request_code(MOBILE, purpose="verify_phone", channel="voice")  # Python callers may still ask
    assert len(calls()) == 1


# -- checks ----------------------------------------------------------------------------------------


def ids(**otp_settings):
    with override_settings(HUYI_SMS={**huyi(**otp_settings), "BACKEND": "django_huyi_sms.backends.ihuyi.IhuyiBackend"}):
        return {message.id for message in checks.run_checks() if message.id.startswith("huyi_sms.")}


def test_checks_warn_of_calls_on_the_sms_account_and_of_codes_too_long_to_speak():
    assert "huyi_sms.W030" in ids()
    assert "huyi_sms.W031" in ids(LENGTH=10)
    assert not {"huyi_sms.W030", "huyi_sms.W031"} & ids(VOICE_FALLBACK_AFTER=None, LENGTH=10)
    with override_settings(
        HUYI_SMS={
            **huyi(),
            "BACKEND": "django_huyi_sms.backends.ihuyi.IhuyiBackend",
            "PRODUCTS": {"voice": {"ACCOUNT": "VC1", "API_KEY": "voice-key"}},
        }
    ):
        assert "huyi_sms.W030" not in {message.id for message in checks.run_checks()}


@pytest.mark.parametrize("value", [-1, 1.5, "60", True])
def test_a_voice_fallback_after_that_is_not_whole_seconds_is_e030(value):
    assert "huyi_sms.E030" in ids(VOICE_FALLBACK_AFTER=value)


# -- concurrency (PostgreSQL: real concurrent connections) ---------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_only")
def test_ten_fallbacks_asked_for_at_once_make_one_call():
    from .test_otp_concurrency import run_together

    otp.request_code(MOBILE, purpose="verify_phone")
    rewind(60)
    results = run_together(10, lambda: otp.request_code(MOBILE, purpose="verify_phone", channel="voice"))
    assert sum(isinstance(result, OtpRecord) for result in results) == 1
    # The first call became the latest code: the others wait RESEND_INTERVAL after it.
    assert sorted({type(result).__name__ for result in results}) == ["OtpRecord", "ResendTooSoon"]
    assert len(calls()) == 1 and SmsLog.objects.filter(product="voice").count() == 1
    assert OtpThrottle.objects.get().sent_today == 2
