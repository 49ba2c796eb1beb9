"""Limits and single use hold under concurrency (PostgreSQL: real concurrent connections)."""

from __future__ import annotations

import re
import threading
import time

import pytest
from django.db import connection, transaction
from django.test import override_settings

import django_huyi_sms
from django_huyi_sms import otp
from django_huyi_sms.exceptions import OtpError
from django_huyi_sms.models import OtpRecord, SmsLog
from django_huyi_sms.tasks import task_backends

from .conftest import DUMMY_TASKS
from .flow_helpers import make_user
from .test_otp_queue import run_tasks
from .test_send import ihuyi_at

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("postgres_only")]

MOBILE = "13800138000"
LOCMEM = "django_huyi_sms.backends.locmem.LocmemBackend"


def run_together(count, target):
    """Run ``target`` (or each of a list of targets) in ``count`` threads released at once."""
    targets = target if isinstance(target, list) else [target] * count
    gate = threading.Barrier(count)
    results = []

    def worker(target):
        try:
            gate.wait(timeout=10)
            results.append(target())
        except OtpError as error:
            results.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_twenty_requests_at_once_send_one_sms():
    results = run_together(20, lambda: otp.request_code(MOBILE))
    assert sum(isinstance(r, OtpRecord) for r in results) == 1
    assert sum(type(r).__name__ == "ResendTooSoon" for r in results) == 19
    assert SmsLog.objects.count() == 1 and len(django_huyi_sms.outbox) == 1


def test_two_correct_verifications_at_once_succeed_once():
    otp.request_code(MOBILE)
    code = re.findall(r"\d{6}", django_huyi_sms.outbox[-1].content)[-1]
    results = run_together(2, lambda: otp.verify_code(MOBILE, code))
    assert sum(isinstance(r, OtpRecord) for r in results) == 1
    assert sum(type(r).__name__ == "InvalidCode" for r in results) == 1


def test_two_sign_ins_at_once_through_the_api_with_one_code_succeed_once():
    from django.urls import reverse
    from rest_framework.test import APIClient

    from .flow_helpers import last_code, make_user

    make_user()
    assert APIClient().post(reverse("huyi_sms:otp_request"), {"mobile": MOBILE}).status_code == 200
    code = last_code(MOBILE)
    statuses = run_together(
        2, lambda: APIClient().post(reverse("huyi_sms:otp_verify"), {"mobile": MOBILE, "code": code}).status_code
    )
    assert sorted(statuses) == [200, 400]


def test_two_verifications_of_the_earlier_code_while_a_new_one_waits_succeed_once(dummy_queue):
    """Two codes are live (the new one's worker has not run): still one success per code."""
    with override_settings(HUYI_SMS={"BACKEND": LOCMEM, "OTP": {"RESEND_INTERVAL": 0}}):
        otp.request_code(MOBILE, purpose="verify_phone")
        run_tasks(dummy_queue)
        code = re.findall(r"\d{6}", django_huyi_sms.outbox[-1].content)[-1]
        otp.request_code(MOBILE, purpose="verify_phone")
    assert OtpRecord.objects.filter(status="active").count() == 2
    results = run_together(2, lambda: otp.verify_code(MOBILE, code, purpose="verify_phone"))
    assert sorted(type(r).__name__ for r in results) == ["InvalidCode", "OtpRecord"]


def test_a_try_and_a_new_code_taking_over_lock_the_codes_in_one_order(fake_provider):
    """A wrong try locks every live code; a new code that has left supersedes them all. Were their
    orders different, each could hold a row the other waits for: a deadlock, which PostgreSQL ends
    by failing one of them (an error page, or a sent code that never takes over)."""
    make_user()
    limits = {"RESEND_INTERVAL": 0, "UNIFORM_RESPONSE_SECONDS": 0}
    with ihuyi_at(fake_provider.url, OTP=limits):
        otp.request_code_for_account(MOBILE, purpose="login")  # on the phone
        fake_provider.answer_json(code=4085, msg="超出限制", smsid="0")
        otp.request_code_for_account(MOBILE, purpose="login")  # refused, not told, replacing nothing
        with override_settings(TASKS=DUMMY_TASKS):
            newest = otp.request_code_for_account(MOBILE, purpose="login")  # its worker never runs
            task_backends["default"].clear()
    earlier = list(OtpRecord.objects.filter(status="active").exclude(pk=newest.pk).order_by("pk"))
    assert len(earlier) == 2

    errors, results = [], []

    def in_thread(call):
        def run():
            try:
                results.append(call())
            except OtpError as error:
                results.append(error)
            except Exception as error:  # a deadlock, say
                errors.append(error)
            finally:
                connection.close()
        return threading.Thread(target=run)

    threads = [
        in_thread(lambda: otp.verify_code(MOBILE, "00000", purpose="login")),  # five digits: never right
        in_thread(lambda: OtpRecord.objects.get(pk=newest.pk).replace_earlier()),
    ]

    def waiting_for_locks(cursor):
        # Within a transaction the statistics views are a snapshot: take a fresh one each time.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0]

    with transaction.atomic():
        # Hold the newer of the two earlier codes. The try starts first: it locks the newest code
        # and queues for this one; then the take-over queues for it too (PostgreSQL grants in
        # queue order, so the try gets it first). Had the take-over locked the oldest first, the
        # try would then wait for that one while the take-over waits for the try: a deadlock.
        OtpRecord.objects.select_for_update().get(pk=earlier[1].pk)
        with connection.cursor() as cursor:
            for count, thread in enumerate(threads, start=1):
                thread.start()
                deadline = time.monotonic() + 10
                while waiting_for_locks(cursor) < count and time.monotonic() < deadline:
                    time.sleep(0.02)
                assert waiting_for_locks(cursor) == count
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert [type(result).__name__ for result in results if result is not None] == ["InvalidCode"]
    assert set(OtpRecord.objects.filter(pk__in=[r.pk for r in earlier]).values_list("status", flat=True)) == {
        "superseded"
    }


@override_settings(HUYI_SMS={"BACKEND": LOCMEM, "OTP": {"DAILY_LIMIT": 3}})
def test_twenty_requests_at_once_for_twenty_purposes_keep_the_daily_limit():
    """Each purpose has its own resend interval, but the number's row is still the one lock: the
    daily limit, which counts every purpose, is never passed however many purposes ask at once."""
    results = run_together(20, [lambda n=n: otp.request_code(MOBILE, purpose=f"purpose{n}") for n in range(20)])
    assert sum(isinstance(r, OtpRecord) for r in results) == 3
    assert sum(type(r).__name__ == "DailyLimitReached" for r in results) == 17
    assert SmsLog.objects.count() == 3 and len(django_huyi_sms.outbox) == 3


def test_twenty_requests_at_once_for_two_purposes_send_one_sms_each():
    results = run_together(20, [lambda n=n: otp.request_code(MOBILE, purpose=("login", "password_reset")[n % 2])
                                for n in range(20)])
    assert sum(isinstance(r, OtpRecord) for r in results) == 2
    assert sum(type(r).__name__ == "ResendTooSoon" for r in results) == 18
    assert sorted(SmsLog.objects.values_list("purpose", flat=True)) == ["login", "password_reset"]
