"""Asking for a new code: the code already on the phone keeps working until the new one has left.

A new code the provider refuses, or one that reaches nobody, takes nothing away from the person;
one that left (or may have: no answer came) replaces the earlier one. Sent in the request or by a
worker alike.
"""

from __future__ import annotations

import re

import pytest

from django_huyi_sms import otp
from django_huyi_sms.backends.ihuyi import IhuyiBackend
from django_huyi_sms.exceptions import HuyiConnectionError, HuyiRateLimitError, InvalidCode
from django_huyi_sms.models import OtpRecord, SmsLog

from .faults import unused_port
from .flow_helpers import MOBILE, make_user
from .test_otp import rewind
from .test_otp_queue import run_tasks
from .test_send import ihuyi_at

pytestmark = pytest.mark.django_db

VERIFY_PHONE = "verify_phone"
REFUSAL = {"code": 4085, "msg": "同一手机号验证码短信发送超出【5】条", "smsid": "0"}


def code_in(text: str) -> str:
    return re.findall(r"\d{6}", text)[-1]


def last_sent_code(fake_provider) -> str:
    return code_in(fake_provider.requests[-1].form["content"])


def after_the_resend_interval() -> None:
    """Move the number's limits and codes back past the resend interval."""
    rewind(61)


def first_code(fake_provider, purpose: str = VERIFY_PHONE) -> str:
    """A code that reached the phone, then a minute later: time to ask for another."""
    with ihuyi_at(fake_provider.url):
        otp.request_code(MOBILE, purpose=purpose)
    code = last_sent_code(fake_provider)
    after_the_resend_interval()
    return code


# -- sent in the request -----------------------------------------------------------------------------


def test_a_new_code_the_provider_refuses_does_not_take_away_the_one_on_the_phone(fake_provider):
    on_the_phone = first_code(fake_provider)
    fake_provider.answer_json(**REFUSAL)
    with ihuyi_at(fake_provider.url), pytest.raises(HuyiRateLimitError):
        otp.request_code(MOBILE, purpose=VERIFY_PHONE)
    assert OtpRecord.objects.order_by("pk").last().status == OtpRecord.Status.FAILED
    assert otp.verify_code(MOBILE, on_the_phone, purpose=VERIFY_PHONE).status == OtpRecord.Status.USED


def test_a_new_code_that_reached_nobody_does_not_take_away_the_one_on_the_phone(fake_provider):
    on_the_phone = first_code(fake_provider)
    with ihuyi_at(f"http://127.0.0.1:{unused_port()}/webservice/sms.php"), pytest.raises(HuyiConnectionError):
        otp.request_code(MOBILE, purpose=VERIFY_PHONE)
    assert otp.verify_code(MOBILE, on_the_phone, purpose=VERIFY_PHONE).status == OtpRecord.Status.USED


def test_a_sign_in_code_the_provider_refuses_does_not_take_away_the_one_on_the_phone(fake_provider):
    """The refusal is not told (it would tell that the number has an account), and not acted on either."""
    make_user()
    on_the_phone = first_code(fake_provider, purpose="login")
    fake_provider.answer_json(**REFUSAL)
    with ihuyi_at(fake_provider.url, OTP={"UNIFORM_RESPONSE_SECONDS": 0}):
        record = otp.request_code_for_account(MOBILE, purpose="login")
    assert record.sms_log.status == SmsLog.Status.FAILED
    assert otp.verify_code(MOBILE, on_the_phone, purpose="login").status == OtpRecord.Status.USED


def test_the_earlier_code_works_while_the_new_one_is_on_its_way(fake_provider):
    """The new code's SMS is on its way when the person types the code they already have."""
    on_the_phone = first_code(fake_provider)
    verified = []

    class TypesTheOldCodeMeanwhile(IhuyiBackend):
        def send(self, message):
            assert OtpRecord.objects.filter(status=OtpRecord.Status.ACTIVE).count() == 2  # both recorded
            verified.append(otp.verify_code(MOBILE, on_the_phone, purpose=VERIFY_PHONE).status)
            return super().send(message)

    with ihuyi_at(fake_provider.url, BACKEND=TypesTheOldCodeMeanwhile):
        otp.request_code(MOBILE, purpose=VERIFY_PHONE)
    assert verified == [OtpRecord.Status.USED]


def test_a_new_code_that_left_replaces_the_earlier_one(fake_provider):
    earlier = first_code(fake_provider)
    with ihuyi_at(fake_provider.url):
        otp.request_code(MOBILE, purpose=VERIFY_PHONE)
    newer = last_sent_code(fake_provider)
    if earlier != newer:
        with pytest.raises(InvalidCode):
            otp.verify_code(MOBILE, earlier, purpose=VERIFY_PHONE)
    assert otp.verify_code(MOBILE, newer, purpose=VERIFY_PHONE).status == OtpRecord.Status.USED


def test_a_new_code_whose_answer_never_came_replaces_the_earlier_one(fake_provider):
    """No answer: the new code may be on the phone, so it is the one that counts."""
    earlier = first_code(fake_provider)
    fake_provider.delay = 1.0
    with ihuyi_at(fake_provider.url, TIMEOUT=0.3):
        record = otp.request_code(MOBILE, purpose=VERIFY_PHONE)
    assert record.sms_log.status == SmsLog.Status.UNKNOWN
    newer = last_sent_code(fake_provider)
    assert OtpRecord.objects.get(status=OtpRecord.Status.SUPERSEDED).pk != record.pk
    if earlier != newer:
        with pytest.raises(InvalidCode):
            otp.verify_code(MOBILE, earlier, purpose=VERIFY_PHONE)
    assert otp.verify_code(MOBILE, newer, purpose=VERIFY_PHONE).status == OtpRecord.Status.USED


def test_a_wrong_try_while_two_codes_may_be_on_the_phone_counts_against_both(fake_provider):
    """Two live codes must not mean twice the guesses: each dies after MAX_ATTEMPTS wrong tries."""
    on_the_phone = first_code(fake_provider)
    wrong = "000000" if on_the_phone != "000000" else "111111"

    class GuessesMeanwhile(IhuyiBackend):
        """Somebody tries a wrong code while the new one is on its way (recorded, not yet answered)."""

        def send(self, message):
            code = code_in(message.content)
            with pytest.raises(InvalidCode):
                otp.verify_code(MOBILE, wrong if code != wrong else "222222", purpose=VERIFY_PHONE)
            return super().send(message)

    fake_provider.answer_json(**REFUSAL)
    with ihuyi_at(fake_provider.url, BACKEND=GuessesMeanwhile), pytest.raises(HuyiRateLimitError):
        otp.request_code(MOBILE, purpose=VERIFY_PHONE)
    assert sorted(OtpRecord.objects.values_list("status", "attempts")) == [("active", 1), ("failed", 1)]


# -- made and sent by a worker ----------------------------------------------------------------------


@pytest.fixture
def queued_code(dummy_queue, fake_provider, django_capture_on_commit_callbacks):
    """A worker sent the first code; a minute later a second one is asked for and waits for its worker.

    Returns the first code, and a function that lets the worker run (with the provider's next answer).
    """
    with ihuyi_at(fake_provider.url):
        with django_capture_on_commit_callbacks(execute=True):
            otp.request_code(MOBILE, purpose=VERIFY_PHONE)
        run_tasks(dummy_queue)
        on_the_phone = last_sent_code(fake_provider)
        after_the_resend_interval()
        with django_capture_on_commit_callbacks(execute=True):
            otp.request_code(MOBILE, purpose=VERIFY_PHONE)

    def worker_runs(**answer):
        if answer:
            fake_provider.answer_json(**answer)
        with ihuyi_at(fake_provider.url):
            run_tasks(dummy_queue)

    return on_the_phone, worker_runs


def test_the_earlier_code_works_while_the_new_one_waits_for_its_worker(queued_code):
    on_the_phone, _worker_runs = queued_code
    assert otp.verify_code(MOBILE, on_the_phone, purpose=VERIFY_PHONE).status == OtpRecord.Status.USED


def test_a_new_code_the_provider_refuses_in_the_worker_does_not_take_away_the_one_on_the_phone(queued_code):
    on_the_phone, worker_runs = queued_code
    worker_runs(**REFUSAL)
    assert OtpRecord.objects.order_by("pk").last().status == OtpRecord.Status.FAILED
    assert otp.verify_code(MOBILE, on_the_phone, purpose=VERIFY_PHONE).status == OtpRecord.Status.USED


def test_a_new_code_the_worker_sent_replaces_the_earlier_one(queued_code, fake_provider):
    on_the_phone, worker_runs = queued_code
    worker_runs()
    newer = last_sent_code(fake_provider)
    if newer != on_the_phone:
        with pytest.raises(InvalidCode):
            otp.verify_code(MOBILE, on_the_phone, purpose=VERIFY_PHONE)
    assert otp.verify_code(MOBILE, newer, purpose=VERIFY_PHONE).status == OtpRecord.Status.USED


def test_refused_sign_in_codes_do_not_pile_up_live_codes_to_guess_at(fake_provider):
    """Each refused (and unreported) code stays live like a decoy, but takes the place of the refused
    one before it: the code on the phone and one other are all a guess is ever compared with."""
    make_user()
    on_the_phone = first_code(fake_provider, purpose="login")
    fake_provider.answer_json(**REFUSAL)
    for _ in range(3):
        with ihuyi_at(fake_provider.url, OTP={"UNIFORM_RESPONSE_SECONDS": 0}):
            otp.request_code_for_account(MOBILE, purpose="login")
        after_the_resend_interval()
    live = OtpRecord.objects.filter(purpose="login", status=OtpRecord.Status.ACTIVE)
    assert live.count() == 2
    assert otp.verify_code(MOBILE, on_the_phone, purpose="login").status == OtpRecord.Status.USED
