"""Receipts under load, the quick form (PostgreSQL, a live server): a burst from many threads at once.

The slow form, 500 receipts a second for a minute through gunicorn, is ``benchmarks/test_receipts.py``
(``make soak``).
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest
import requests
from django.utils import timezone

from django_huyi_sms import signals
from django_huyi_sms.models import SmsLog, StatusReceipt

from .push_helpers import TOKEN, receipt_fields
from .test_send import Catcher

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("postgres_only")]

SENDS, COPIES, THREADS = 200, 50, 16


def test_a_burst_of_receipts_from_many_threads_applies_each_exactly_once(live_server):
    now = timezone.now()
    SmsLog.objects.bulk_create(
        SmsLog(mobile=f"1370013{n:04d}", content="x", status="submitted", smsid=f"7{n:08d}", submitted_at=now)
        for n in range(SENDS)
    )
    codes = {f"7{n:08d}": "0" if n % 3 == 0 else "2" for n in range(SENDS)}
    pushes = [receipt_fields(smsid, mobile=f"1370013{n:04d}", code=codes[smsid]) for n, smsid in enumerate(codes)]
    shuffle = random.Random(11)
    pushes += shuffle.sample(pushes, COPIES)  # the provider's retries, mixed in
    shuffle.shuffle(pushes)
    url = f"{live_server.url}/sms/push/receipt/?token={TOKEN}"

    def push(fields: dict) -> tuple[int, str]:
        response = requests.post(
            url, data=urlencode(fields), headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30
        )
        return response.status_code, response.text

    with Catcher(signals.sms_status_changed) as changed, ThreadPoolExecutor(THREADS) as pool:
        answers = list(pool.map(push, pushes))

    assert [answer for answer in answers if answer != (200, "success")] == []
    assert StatusReceipt.objects.count() == SENDS + COPIES
    assert StatusReceipt.objects.filter(duplicate=False).count() == SENDS
    assert StatusReceipt.objects.filter(log__isnull=True).count() == 0
    statuses = dict(SmsLog.objects.values_list("smsid", "status"))
    assert statuses == {smsid: "delivered" if code == "2" else "undelivered" for smsid, code in codes.items()}
    assert sorted(c["log"].smsid for c in changed.calls) == sorted(codes)  # one signal per send
