"""Receipts racing the send that they report on, on PostgreSQL (real concurrent connections)."""

from __future__ import annotations

import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests
from django.db import connection
from django.test import override_settings

import django_huyi_sms
from django_huyi_sms import signals
from django_huyi_sms.backends.locmem import LocmemBackend
from django_huyi_sms.models import SmsLog, StatusReceipt
from django_huyi_sms.receipts import ReceiptEvent, apply_receipt

from .push_helpers import TOKEN, receipt_fields
from .test_send import Catcher

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("postgres_only")]

TEXT = "您的验证码是：1234。"


def test_a_receipt_over_http_between_the_providers_reply_and_our_update(live_server):
    """The push is served (and committed) by another thread and connection before we store the smsid."""
    answers = []

    class FastProvider(LocmemBackend):
        def send(self, message):
            result = super().send(message)
            answers.append(
                requests.post(
                    f"{live_server.url}/sms/push/receipt/?token={TOKEN}",
                    data=receipt_fields(result.smsid, mobile=message.mobile),
                    timeout=10,
                )
            )
            return result

    with override_settings(HUYI_SMS={"BACKEND": FastProvider, "CALLBACK_TOKEN": TOKEN}):
        with Catcher(signals.sms_status_changed) as changed:
            log = django_huyi_sms.send_sms("13800138000", TEXT)
    assert answers[0].text == "success"
    assert StatusReceipt.objects.get().log_id == log.pk
    assert SmsLog.objects.get(pk=log.pk).status == "delivered"
    assert len(changed.calls) == 1


def test_receipts_and_sends_released_together_never_lose_a_receipt():
    """Each round starts the receipt and the smsid update at the same instant, on two connections."""
    china = ZoneInfo("Asia/Shanghai")

    class RacingProvider(LocmemBackend):
        def send(self, message):
            result = super().send(message)
            gate = threading.Barrier(2)
            event = ReceiptEvent(result.smsid, message.mobile, "2", "DELIVRD", datetime(2026, 11, 25, tzinfo=china))

            def push():
                try:
                    gate.wait(timeout=10)
                    apply_receipt(event)
                finally:
                    connection.close()

            thread = threading.Thread(target=push)
            thread.start()
            self.threads.append(thread)
            gate.wait(timeout=10)
            return result

    RacingProvider.threads = []
    rounds = 40
    with override_settings(HUYI_SMS={"BACKEND": RacingProvider}), Catcher(signals.sms_status_changed) as changed:
        logs = [django_huyi_sms.send_sms(f"1380013{i:04d}", TEXT) for i in range(rounds)]
        for thread in RacingProvider.threads:
            thread.join(timeout=10)
    statuses = dict(SmsLog.objects.values_list("pk", "status"))
    assert [statuses[log.pk] for log in logs] == ["delivered"] * rounds
    assert StatusReceipt.objects.filter(log__isnull=True).count() == 0
    assert sorted(call["log"].pk for call in changed.calls) == sorted(log.pk for log in logs)


def test_identical_receipts_arriving_together_make_one_original():
    """Four copies of each receipt released at the same instant on four connections (the provider's
    retries overlapping): exactly one of each is the original, the rest duplicates, every time."""
    china = ZoneInfo("Asia/Shanghai")
    log = django_huyi_sms.send_sms("13800138000", TEXT)
    copies, rounds = 4, 30
    with Catcher(signals.sms_status_changed) as changed:
        for n in range(rounds):
            code = "2" if n == rounds - 1 else "0"
            event = ReceiptEvent(f"{log.smsid}{n:02d}", log.mobile, code, "DELIVRD", datetime(2026, 11, 25, tzinfo=china))
            gate = threading.Barrier(copies)
            errors = []

            def push(event=event, gate=gate, errors=errors):
                try:
                    gate.wait(timeout=10)
                    apply_receipt(event)
                except Exception as error:  # reported below: a thread's exception would pass unseen
                    errors.append(error)
                finally:
                    connection.close()

            threads = [threading.Thread(target=push) for _ in range(copies)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=20)
            assert errors == []
    originals = StatusReceipt.objects.filter(duplicate=False).values_list("smsid", flat=True)
    assert sorted(originals) == sorted(f"{log.smsid}{n:02d}" for n in range(rounds))
    assert StatusReceipt.objects.filter(duplicate=True).count() == rounds * (copies - 1)
    assert changed.calls == []  # none of these smsids is the send's own

