"""One-time codes through a queue that runs in the background: the request only counts and records,
a worker makes and sends the code, and every number gets the same quick answer."""

from __future__ import annotations

import re

import pytest
from django.test import override_settings

from django_huyi_sms import otp
from django_huyi_sms.adapter import HuyiAdapter
from django_huyi_sms.exceptions import InvalidCode, ResendTooSoon
from django_huyi_sms.models import OtpRecord, SmsLog

from .flow_helpers import MOBILE, OTHER_MOBILE, last_code, make_user, sms_count
from .test_queue import run_queued_tasks as run_tasks
from .test_send import ihuyi_at

pytestmark = pytest.mark.django_db


class CountingAdapter(HuyiAdapter):
    lookups: list[str] = []

    def can_receive_code(self, mobile, purpose):
        CountingAdapter.lookups.append(mobile)
        return super().can_receive_code(mobile, purpose)


@pytest.fixture
def counting_adapter():
    CountingAdapter.lookups = []
    with override_settings(
        HUYI_SMS={
            "BACKEND": "django_huyi_sms.backends.locmem.LocmemBackend",
            "ADAPTER": CountingAdapter,
            "OTP": {"UNIFORM_RESPONSE_SECONDS": 1.0},
        }
    ):
        yield CountingAdapter


def test_a_sign_in_code_is_made_and_sent_by_the_worker(dummy_queue, counting_adapter, django_capture_on_commit_callbacks, monkeypatch):
    make_user()
    slept = []
    monkeypatch.setattr(otp, "_sleep", slept.append)
    with django_capture_on_commit_callbacks(execute=True):
        record = otp.request_code_for_account(MOBILE, purpose="login")
    # The request: the limits and the record, no code, no SMS, no account lookup, no padding.
    assert record.code_hash == "" and record.sms_log is None
    assert sms_count() == 0 and counting_adapter.lookups == [] and slept == []
    assert [result.args for result in dummy_queue.results] == [[record.pk, True]]
    run_tasks(dummy_queue)
    record.refresh_from_db()
    assert record.code_hash and record.sms_log.status == SmsLog.Status.SUBMITTED
    assert counting_adapter.lookups == [MOBILE]
    assert "*" * 6 in record.sms_log.content  # the row never holds the code
    assert otp.verify_code(MOBILE, last_code(), purpose="login").status == OtpRecord.Status.USED


def test_a_number_without_an_account_gets_the_same_answer_and_no_sms(dummy_queue, counting_adapter, django_capture_on_commit_callbacks):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_user()
    answers, statements = [], []
    for mobile in (MOBILE, OTHER_MOBILE):
        with django_capture_on_commit_callbacks(execute=True), CaptureQueriesContext(connection) as queries:
            record = otp.request_code_for_account(mobile, purpose="login")
        answers.append((record.status, record.code_hash, record.sms_log_id))
        # The same statements for either number (only the values differ).
        statements.append(
            [re.sub(r"\d+|'[^']*'", "?", query["sql"]).split(" VALUES")[0] for query in queries.captured_queries]
        )
    assert answers[0] == answers[1]
    assert statements[0] == statements[1] and not any("huyi_sms_usermobile" in sql for sql in statements[0])
    run_tasks(dummy_queue)
    assert sms_count(MOBILE) == 1 and sms_count(OTHER_MOBILE) == 0
    decoy = OtpRecord.objects.get(mobile=OTHER_MOBILE)
    assert decoy.code_hash and decoy.sms_log is None  # a code nobody has, like any other
    with pytest.raises(InvalidCode):
        otp.verify_code(OTHER_MOBILE, "000000", purpose="login")
    assert OtpRecord.objects.get(mobile=OTHER_MOBILE).attempts == 1
    # The limits count for both.
    for mobile in (MOBILE, OTHER_MOBILE):
        with pytest.raises(ResendTooSoon):
            otp.request_code_for_account(mobile, purpose="login")


def test_a_code_task_delivered_twice_sends_one_code(dummy_queue, counting_adapter, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        record = otp.request_code(MOBILE, purpose="verify_phone")
    result = dummy_queue.results[0]
    result.task.call(*result.args)
    first_hash = OtpRecord.objects.get(pk=record.pk).code_hash
    assert otp.send_code(record.pk) is None
    assert sms_count() == 1 and OtpRecord.objects.get(pk=record.pk).code_hash == first_hash


def test_a_code_superseded_before_the_worker_ran_is_never_sent(dummy_queue, counting_adapter, django_capture_on_commit_callbacks):
    with override_settings(HUYI_SMS={"BACKEND": "django_huyi_sms.backends.locmem.LocmemBackend", "OTP": {"RESEND_INTERVAL": 0}}):
        with django_capture_on_commit_callbacks(execute=True):
            old = otp.request_code(MOBILE, purpose="verify_phone")
            new = otp.request_code(MOBILE, purpose="verify_phone")
        run_tasks(dummy_queue)
    assert sms_count() == 1
    assert OtpRecord.objects.get(pk=old.pk).sms_log is None
    assert OtpRecord.objects.get(pk=new.pk).sms_log is not None


def test_a_refusal_in_the_worker_marks_the_code_failed_and_raises_nothing(dummy_queue, fake_provider, django_capture_on_commit_callbacks):
    fake_provider.answer_json(code=4085, msg="同一手机号验证码短信发送超出【5】条", smsid="0")
    with ihuyi_at(fake_provider.url):
        with django_capture_on_commit_callbacks(execute=True):
            record = otp.request_code(MOBILE, purpose="verify_phone")
        run_tasks(dummy_queue)
    record.refresh_from_db()
    assert record.status == OtpRecord.Status.FAILED and record.sms_log.status == SmsLog.Status.FAILED
    # It still counts: the worker cannot tell the person, so no new code at once either.
    with ihuyi_at(fake_provider.url), pytest.raises(ResendTooSoon):
        otp.request_code(MOBILE, purpose="verify_phone")


def test_with_the_immediate_backend_codes_are_sent_in_the_request(counting_adapter, monkeypatch):
    """The default: no worker, so the request sends, and sign-in/reset are padded instead."""
    make_user()
    slept = []
    monkeypatch.setattr(otp, "_sleep", slept.append)
    record = otp.request_code_for_account(MOBILE, purpose="login")
    assert record.sms_log is not None and sms_count() == 1
    assert slept and 0 < slept[0] <= 1.0
