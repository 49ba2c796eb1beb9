"""The queue under real concurrency (PostgreSQL): workers and requeues racing over the same rows,
receipts racing the send that will record their smsid."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone

import django_huyi_sms
from django_huyi_sms import receipts, sending, tasks
from django_huyi_sms.backends.locmem import LocmemBackend
from django_huyi_sms.models import SmsLog

from .test_send import CODE_TEXT

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("postgres_only")]


def run_together(*targets):
    gate = threading.Barrier(len(targets))
    errors = []

    def run(target):
        try:
            gate.wait(timeout=10)
            target()
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []


def queued_rows(count):
    now = timezone.now()
    return [
        SmsLog.objects.create(mobile=f"1380013{n:04d}", content=CODE_TEXT, dispatched_at=now).pk for n in range(count)
    ]


def test_four_workers_given_the_same_rows_send_each_once():
    pks = queued_rows(60)
    run_together(*[lambda: sending.send_queued(pks) for _ in range(4)])
    sent = Counter(message.mobile for message in django_huyi_sms.outbox)
    assert len(sent) == 60 and set(sent.values()) == {1}
    assert set(SmsLog.objects.values_list("status", flat=True)) == {"submitted"}
    assert set(SmsLog.objects.values_list("attempts", flat=True)) == {1}


def test_requeues_and_workers_at_once_send_each_lost_row_once(monkeypatch):
    pks = queued_rows(40)
    SmsLog.objects.update(dispatched_at=timezone.now() - timedelta(seconds=600))
    handed_out = []
    monkeypatch.setattr(tasks, "dispatch", lambda batch, **kwargs: handed_out.extend(batch))
    run_together(
        lambda: sending.requeue(older_than=300),
        lambda: sending.requeue(older_than=300),
        lambda: sending.send_queued(pks),
        lambda: sending.send_queued(pks),
    )
    assert len(handed_out) == len(set(handed_out))  # two requeues never hand out one row twice
    sending.send_queued(handed_out)  # the tasks they handed out, run by another worker
    sending.send_queued(pks)  # and the original tasks delivered again
    sent = Counter(message.mobile for message in django_huyi_sms.outbox)
    assert len(sent) == 40 and set(sent.values()) == {1}


def test_a_receipt_for_a_send_inside_an_open_transaction_is_applied_on_commit():
    """The row is not visible to the receipt (not committed), so it cannot be marked: the sender
    looks for the receipt once its transaction commits."""
    ready, pushed = threading.Event(), threading.Event()

    class Known(LocmemBackend):
        def send(self, message):
            result = super().send(message)
            return type(result)(code=result.code, msg=result.msg, smsid="4242")

    def push():
        ready.wait(10)
        receipts.apply_receipt(
            receipts.ReceiptEvent(smsid="4242", mobile="13800138000", code="2", msg="DELIVRD", report_time=timezone.now())
        )
        pushed.set()

    def send():
        with override_settings(HUYI_SMS={"BACKEND": Known}), transaction.atomic():
            django_huyi_sms.send_sms("13800138000", CODE_TEXT)
            ready.set()
            assert pushed.wait(10)

    run_together(send, push)
    log = SmsLog.objects.get()
    assert (log.status, log.smsid) == ("delivered", "4242")
