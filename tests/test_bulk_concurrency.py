"""Bulk batches under real concurrency (PostgreSQL): workers racing over one batch send it once, in one Submit."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

import django_huyi_sms
from django_huyi_sms import bulk, sending, tasks
from django_huyi_sms.models import SmsLog

from .test_queue_concurrency import run_together

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("postgres_only")]

TEXT = "【商城】周末全场五折，回T退订"
SETTINGS = {"BACKEND": "django_huyi_sms.backends.locmem.LocmemBackend", "MARKETING": {"BATCH_SIZE": 50}}


def queued_bulk(monkeypatch, count):
    """A bulk send written and committed, its tasks kept (not run): the test is the workers."""
    handed_out = []
    monkeypatch.setattr(tasks, "dispatch_batch", lambda bulk_pk, batch, **kwargs: handed_out.append((bulk_pk, batch)))
    with transaction.atomic():
        sent = django_huyi_sms.send_bulk([f"138{n:08d}" for n in range(count)], TEXT)
    return sent, handed_out


def test_four_workers_given_the_same_batches_send_each_number_once_in_one_submit_per_batch(monkeypatch):
    with override_settings(HUYI_SMS=SETTINGS):
        sent, handed_out = queued_bulk(monkeypatch, 200)
        assert handed_out == [(sent.pk, batch) for batch in range(4)]
        run_together(*[lambda: [bulk.send_batch(*task) for task in handed_out] for _ in range(4)])
    submits = django_huyi_sms.outbox
    assert len(submits) == 4 and sorted(len(m.mobiles) for m in submits) == [50, 50, 50, 50]
    received = Counter(number for m in submits for number in m.mobiles)
    assert len(received) == 200 and set(received.values()) == {1}
    assert set(SmsLog.objects.values_list("status", "attempts")) == {("submitted", 1)}
    for batch in range(4):
        assert SmsLog.objects.filter(bulk=sent, batch=batch).values("smsid").distinct().count() == 1


def test_requeues_and_workers_at_once_send_each_number_once(monkeypatch):
    with override_settings(HUYI_SMS=SETTINGS):
        _sent, handed_out = queued_bulk(monkeypatch, 150)
        SmsLog.objects.update(dispatched_at=timezone.now() - timedelta(seconds=600))
        run_together(
            lambda: sending.requeue(older_than=300),
            lambda: sending.requeue(older_than=300),
            lambda: [bulk.send_batch(*task) for task in handed_out],
            lambda: [bulk.send_batch(*task) for task in reversed(handed_out)],
        )
        for task in list(handed_out):  # what the requeues handed out, run by another worker
            bulk.send_batch(*task)
    received = Counter(number for m in django_huyi_sms.outbox for number in m.mobiles)
    assert len(received) == 150 and set(received.values()) == {1}
    assert len(django_huyi_sms.outbox) == 3
