"""Limits and single use hold under concurrency (PostgreSQL: real concurrent connections)."""

from __future__ import annotations

import re
import threading

import pytest
from django.db import connection

import django_huyi_sms
from django_huyi_sms import otp
from django_huyi_sms.exceptions import OtpError
from django_huyi_sms.models import OtpRecord, SmsLog

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("postgres_only")]

MOBILE = "13800138000"


def run_together(count, target):
    gate = threading.Barrier(count)
    results = []

    def worker():
        try:
            gate.wait(timeout=10)
            results.append(target())
        except OtpError as error:
            results.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(count)]
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
