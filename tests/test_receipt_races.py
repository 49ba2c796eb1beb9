"""Receipts that race each other and the send they report on: copies, contradictions, order, a commit
that trails the sender's. Order on any database; the races on PostgreSQL (real concurrent connections)."""

from __future__ import annotations

import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from django.test import override_settings

import django_huyi_sms
from django_huyi_sms import signals
from django_huyi_sms.backends.locmem import LocmemBackend
from django_huyi_sms.models import SmsLog, StatusReceipt
from django_huyi_sms.receipts import ReceiptEvent, apply_receipt

from .push_helpers import post_form, receipt_fields
from .test_queue_concurrency import run_together
from .test_send import Catcher

TEXT = "您的验证码是：1234。"
CHINA = ZoneInfo("Asia/Shanghai")


def event(smsid: str, code: str, minute: int = 0, mobile: str = "13800138000") -> ReceiptEvent:
    return ReceiptEvent(smsid, mobile, code, "DELIVRD" if code == "2" else "UNDELIV", datetime(2026, 11, 25, 10, minute, tzinfo=CHINA))



@pytest.mark.django_db
@pytest.mark.parametrize("first, second", [("2", "0"), ("0", "2")])
def test_the_first_final_status_wins_in_either_order_with_copies_between(client, first, second):
    log = django_huyi_sms.send_sms("13800138000", TEXT)
    with Catcher(signals.sms_status_changed) as changed:
        for code, report_time in ((first, "2026-11-25 10:00:05"), (first, "2026-11-25 10:00:05"),
                                  (second, "2026-11-25 10:01:00"), (first, "2026-11-25 10:00:05")):
            response = post_form(client, "receipt_push", receipt_fields(log.smsid, code=code, report_time=report_time))
            assert response.content == b"success"
    log.refresh_from_db()
    final = "delivered" if first == "2" else "undelivered"
    assert (log.status, log.receipt_code) == (final, first)
    assert [(c["old_status"], c["new_status"]) for c in changed.calls] == [("submitted", final)]
    assert list(StatusReceipt.objects.order_by("pk").values_list("code", "duplicate")) == [
        (first, False), (first, True), (second, False), (first, True)]
    assert set(StatusReceipt.objects.values_list("log_id", flat=True)) == {log.pk}



@pytest.mark.django_db
def test_a_retry_that_overtakes_the_senders_matching_moves_the_send_once(client):
    """The original came early and waits unlinked; the sender has recorded the smsid but not yet
    applied it when the provider's retry arrives. The retry moves the send and is labelled a
    duplicate (its INSERT collides with the original); the sender's matching then changes nothing."""
    from django_huyi_sms.receipts import match_pending_receipts

    log = SmsLog.objects.create(mobile="13800138000", content=TEXT, status="submitted", smsid="8080")
    StatusReceipt.objects.create(smsid="8080", mobile="13800138000", code="2", msg="DELIVRD",
                                 report_time=datetime(2026, 11, 25, 10, 0, 5, tzinfo=CHINA))
    with Catcher(signals.sms_status_changed) as changed:
        response = post_form(client, "receipt_push", receipt_fields("8080"))
        assert response.content == b"success"
        assert match_pending_receipts(log) == 1
    assert [(c["old_status"], c["new_status"]) for c in changed.calls] == [("submitted", "delivered")]
    assert list(StatusReceipt.objects.order_by("pk").values_list("duplicate", "log_id")) == [
        (False, log.pk), (True, log.pk)]
    assert SmsLog.objects.get(pk=log.pk).status == "delivered"


@pytest.mark.parametrize("rounds", [25])
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_only")
def test_copies_of_a_receipt_for_a_known_send_released_together_apply_once(rounds):
    """Four identical copies on four connections at one instant: one original, three duplicates, all
    linked, one transition and one signal, every round."""
    logs = [django_huyi_sms.send_sms(f"1380013{n:04d}", TEXT) for n in range(rounds)]
    with Catcher(signals.sms_status_changed) as changed:
        for log in logs:
            run_together(*[lambda log=log: apply_receipt(event(log.smsid, "2", mobile=log.mobile))] * 4)
    assert set(SmsLog.objects.values_list("status", flat=True)) == {"delivered"}
    assert StatusReceipt.objects.filter(duplicate=False).count() == rounds
    assert StatusReceipt.objects.filter(duplicate=True).count() == 3 * rounds
    assert StatusReceipt.objects.filter(log__isnull=True).count() == 0
    assert sorted(c["log"].pk for c in changed.calls) == sorted(log.pk for log in logs)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_only")
def test_contradicting_receipts_released_together_make_one_transition():
    """Delivered and undelivered for one send, at one instant on two connections: whichever commits
    first decides, the other changes nothing, and the row agrees with the one signal sent."""
    logs = [django_huyi_sms.send_sms(f"1390013{n:04d}", TEXT) for n in range(25)]
    with Catcher(signals.sms_status_changed) as changed:
        for log in logs:
            run_together(
                lambda log=log: apply_receipt(event(log.smsid, "2", 1, mobile=log.mobile)),
                lambda log=log: apply_receipt(event(log.smsid, "0", 2, mobile=log.mobile)),
            )
    by_log = {c["log"].pk: c for c in changed.calls}
    assert len(changed.calls) == len(by_log) == len(logs)
    for log in SmsLog.objects.all():
        call = by_log[log.pk]
        assert log.status == call["new_status"] == call["log"].status
        assert log.receipt_code == call["receipt"].code == ("2" if log.status == "delivered" else "0")
        assert call["old_status"] == "submitted"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_only")
def test_a_receipt_that_commits_after_the_senders_commit_and_look_is_still_applied():
    """The send is recorded inside its caller's transaction, so nobody can mark it; it looks for its
    receipts on commit. Here that commit and that look fall just before the receipt's own commit, so
    the look misses the receipt: the receipt must find the send itself, after committing."""
    committing, sender_done = threading.Event(), threading.Event()

    class Known(LocmemBackend):
        def send(self, message):
            result = super().send(message)
            return type(result)(code=result.code, msg=result.msg, smsid="4343")

    def push():
        commit = connection.commit  # this thread's connection only

        def commit_after_the_sender():
            committing.set()
            assert sender_done.wait(10)
            commit()

        connection.commit = commit_after_the_sender
        try:
            apply_receipt(event("4343", "2"))
        finally:
            del connection.commit

    def send():
        with override_settings(HUYI_SMS={"BACKEND": Known}):
            with transaction.atomic():
                django_huyi_sms.send_sms("13800138000", TEXT)
                assert committing.wait(10)
            # Committed, and its on-commit look has run and found nothing it could see.
        assert StatusReceipt.objects.count() == 0  # the receipt is not committed yet
        sender_done.set()

    with Catcher(signals.sms_status_changed) as changed:
        run_together(send, push)
    log = SmsLog.objects.get()
    assert (log.status, log.smsid) == ("delivered", "4343")
    assert StatusReceipt.objects.get().log_id == log.pk
    assert len(changed.calls) == 1
