"""enqueue_sms(), the worker's task and huyi_requeue: handed out only on commit, sent once, never lost."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

import django_huyi_sms
from django_huyi_sms import receipts, sending, tasks
from django_huyi_sms.models import SmsLog

from .conftest import DUMMY_TASKS
from .faults import unused_port
from .push_helpers import post_form, receipt_fields
from .test_send import CODE_TEXT, Catcher, ihuyi_at

pytestmark = pytest.mark.django_db

MOBILE = "13800138000"
LOCMEM = "django_huyi_sms.backends.locmem.LocmemBackend"


def run_queued_tasks(backend):
    """Be the worker: run what was enqueued, oldest first, until nothing is left."""
    ran = 0
    while backend.results:
        result = backend.results.pop(0)
        result.task.call(*result.args, **result.kwargs)
        ran += 1
    return ran


def queued_batches(backend):
    return [result.args[0] for result in backend.results]


# -- enqueue_sms: the row first, the hand-off on commit ------------------------------------------


def test_the_row_is_queued_and_sent_only_once_the_transaction_commits(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        log = django_huyi_sms.enqueue_sms(MOBILE, CODE_TEXT, purpose="notice")
        assert SmsLog.objects.get(pk=log.pk).status == SmsLog.Status.QUEUED
        assert django_huyi_sms.outbox == []  # nothing leaves before the commit
    log.refresh_from_db()
    assert (log.status, log.attempts, log.purpose) == ("submitted", 1, "notice")
    assert [m.mobile for m in django_huyi_sms.outbox] == [MOBILE]


def test_a_rollback_sends_nothing(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ZeroDivisionError), transaction.atomic():
        django_huyi_sms.enqueue_sms(MOBILE, CODE_TEXT)
        raise ZeroDivisionError("the caller's own work failed after queueing the SMS")
    assert SmsLog.objects.count() == 0
    assert django_huyi_sms.outbox == []


def test_bad_input_raises_before_anything_is_written():
    with pytest.raises(django_huyi_sms.exceptions.HuyiRecipientError):
        django_huyi_sms.enqueue_sms("12345", CODE_TEXT)
    assert SmsLog.objects.count() == 0


def test_rows_queued_in_one_transaction_go_out_in_batches(dummy_queue, django_capture_on_commit_callbacks):
    with override_settings(HUYI_SMS={"BACKEND": LOCMEM, "QUEUE": {"BATCH_SIZE": 4}}):
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            logs = [django_huyi_sms.enqueue_sms(f"1380013{n:04d}", CODE_TEXT) for n in range(10)]
        assert [len(batch) for batch in queued_batches(dummy_queue)] == [4, 4, 2]
        assert set(SmsLog.objects.values_list("status", flat=True)) == {"queued"}
        assert run_queued_tasks(dummy_queue) == 3
    assert sorted(m.mobile for m in django_huyi_sms.outbox) == sorted(log.mobile for log in logs)
    assert set(SmsLog.objects.values_list("status", flat=True)) == {"submitted"}


def test_a_task_delivered_twice_sends_each_row_once(dummy_queue, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        log = django_huyi_sms.enqueue_sms(MOBILE, CODE_TEXT)
    batch = queued_batches(dummy_queue)[0]
    assert sending.send_queued(batch) == 1
    assert sending.send_queued(batch) == 0
    assert len(django_huyi_sms.outbox) == 1
    log.refresh_from_db()
    assert log.status == "submitted"


def test_a_row_sent_now_is_never_handed_to_a_worker():
    log = django_huyi_sms.send_sms(MOBILE, CODE_TEXT)
    assert sending.send_queued([log.pk]) == 0
    assert len(django_huyi_sms.outbox) == 1


def test_a_broker_that_is_down_loses_nothing(dummy_queue, django_capture_on_commit_callbacks, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks, "_enqueue", broken)
    with django_capture_on_commit_callbacks(execute=True):
        log = django_huyi_sms.enqueue_sms(MOBILE, CODE_TEXT)  # no exception reaches the caller
    assert "huyi_requeue will" in caplog.text
    assert SmsLog.objects.get(pk=log.pk).status == SmsLog.Status.QUEUED  # huyi_requeue picks it up


# -- retries: only where nothing was sent --------------------------------------------------------


def test_a_send_that_reached_nobody_goes_back_to_the_queue_with_backoff(dummy_queue, django_capture_on_commit_callbacks):
    refused = f"http://127.0.0.1:{unused_port()}/webservice/sms.php"
    with ihuyi_at(refused, CONNECT_RETRIES=0, QUEUE={"RETRIES": 2, "RETRY_BACKOFF": 5}):
        with django_capture_on_commit_callbacks(execute=True):
            log = django_huyi_sms.enqueue_sms(MOBILE, CODE_TEXT)
        before = timezone.now()
        run_queued_tasks_once = dummy_queue.results.pop(0)
        run_queued_tasks_once.task.call(*run_queued_tasks_once.args)
        log.refresh_from_db()
        assert (log.status, log.claimed_at, log.attempts) == ("queued", None, 1)
        assert "Connection refused" in log.provider_msg
        retry = dummy_queue.results[0]
        assert retry.args[0] == [log.pk]
        assert retry.task.run_after - before >= timedelta(seconds=4.9)
        assert log.dispatched_at >= before + timedelta(seconds=4.9)
        assert DUMMY_TASKS  # the "worker elsewhere" kept the retry instead of running it
        # The next failure waits twice as long; the third attempt is the last.
        dummy_queue.results.pop(0).task.call([log.pk])
        assert dummy_queue.results[0].task.run_after - timezone.now() >= timedelta(seconds=9)
        dummy_queue.results.pop(0).task.call([log.pk])
        assert dummy_queue.results == []
    log.refresh_from_db()
    assert (log.status, log.attempts) == ("failed", 3)


def test_without_a_deferring_backend_a_send_that_reached_nobody_fails_at_once(django_capture_on_commit_callbacks):
    refused = f"http://127.0.0.1:{unused_port()}/webservice/sms.php"
    with ihuyi_at(refused, CONNECT_RETRIES=0), django_capture_on_commit_callbacks(execute=True):
        log = django_huyi_sms.enqueue_sms(MOBILE, CODE_TEXT)
    log.refresh_from_db()
    assert (log.status, log.attempts) == ("failed", 1)


def test_a_provider_refusal_is_final(dummy_queue, fake_provider, django_capture_on_commit_callbacks):
    fake_provider.answer_json(code=4051, msg="剩余条数不足", smsid="0")
    with ihuyi_at(fake_provider.url), django_capture_on_commit_callbacks(execute=True):
        log = django_huyi_sms.enqueue_sms(MOBILE, CODE_TEXT)
    with ihuyi_at(fake_provider.url):
        run_queued_tasks(dummy_queue)
    log.refresh_from_db()
    assert (log.status, log.provider_code) == ("failed", 4051)
    assert len(fake_provider.requests) == 1


# -- huyi_requeue --------------------------------------------------------------------------------


def _age(log, seconds, **fields):
    past = timezone.now() - timedelta(seconds=seconds)
    SmsLog.objects.filter(pk=log.pk).update(**dict.fromkeys(fields, past))


def test_requeue_hands_out_what_no_worker_took_and_marks_unknown_what_one_left_mid_send(
    dummy_queue, django_capture_on_commit_callbacks
):
    lost = SmsLog.objects.create(mobile="13800000001", content=CODE_TEXT)
    _age(lost, 600, dispatched_at=True)
    in_flight = SmsLog.objects.create(mobile="13800000002", content=CODE_TEXT, attempts=1)
    _age(in_flight, 600, claimed_at=True, dispatched_at=True)
    fresh = SmsLog.objects.create(mobile="13800000003", content=CODE_TEXT)
    _age(fresh, 10, dispatched_at=True)
    sending_now = SmsLog.objects.create(mobile="13800000004", content=CODE_TEXT, attempts=1)
    _age(sending_now, 10, claimed_at=True)
    done = SmsLog.objects.create(mobile="13800000005", content=CODE_TEXT, status="submitted")
    _age(done, 600, claimed_at=True)

    with Catcher(django_huyi_sms.signals.sms_status_changed) as changed:
        with django_capture_on_commit_callbacks(execute=True):
            result = sending.requeue(older_than=300)
    assert (result.handed_out, result.unknown) == (1, 1)
    assert queued_batches(dummy_queue) == [[lost.pk]]
    in_flight.refresh_from_db()
    assert in_flight.status == "unknown" and "may have been sent" in in_flight.provider_msg
    assert [c["log"].pk for c in changed.calls] == [in_flight.pk]
    statuses = dict(SmsLog.objects.values_list("pk", "status"))
    assert statuses[fresh.pk] == statuses[sending_now.pk] == statuses[lost.pk] == "queued"

    # Idempotent: asked again at once, nothing more is handed out or marked.
    with django_capture_on_commit_callbacks(execute=True):
        assert sending.requeue(older_than=300) == sending.RequeueResult(handed_out=0, unknown=0)
    run_queued_tasks(dummy_queue)
    assert [m.mobile for m in django_huyi_sms.outbox] == [lost.mobile]


def test_huyi_requeue_says_what_it_did(dummy_queue, django_capture_on_commit_callbacks):
    lost = SmsLog.objects.create(mobile="13800000001", content=CODE_TEXT)
    _age(lost, 600, dispatched_at=True)
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("huyi_requeue", "--older-than", "300", stdout=out)
    assert "1 queued message handed out again, 0 marked unknown" in out.getvalue()
    assert queued_batches(dummy_queue) == [[lost.pk]]


def test_huyi_requeue_refuses_a_threshold_a_live_send_could_exceed():
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="not longer than TIMEOUT"):
        call_command("huyi_requeue", "--older-than", "5")


@pytest.mark.parametrize("option, value", [("--older-than", "-1"), ("--older-than", "soon"), ("--older-than", "nan"),
                                           ("--limit", "0"), ("--limit", "x")])
def test_huyi_requeue_refuses_bad_arguments(option, value):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match=option):
        call_command("huyi_requeue", option, value)


def test_a_late_answer_moves_an_unknown_row_on():
    """The worker was slow, not dead: requeue marked it unknown, then the provider's answer came."""

    class Slow(django_huyi_sms.backends.locmem.LocmemBackend):
        def send(self, message):
            SmsLog.objects.update(claimed_at=timezone.now() - timedelta(seconds=600))
            sending.requeue(older_than=300)
            return super().send(message)

    with override_settings(HUYI_SMS={"BACKEND": Slow}):
        log = django_huyi_sms.send_sms(MOBILE, CODE_TEXT)
    assert log.status == "submitted" and log.smsid
    assert SmsLog.objects.get().status == "submitted"


# -- receipts for unknown sends ------------------------------------------------------------------


def unknown_send(mobile=MOBILE):
    return SmsLog.objects.create(mobile=mobile, content=CODE_TEXT, status=SmsLog.Status.UNKNOWN, attempts=1)


def test_a_receipt_for_an_smsid_we_never_learned_moves_the_one_unknown_send_on(client):
    log = unknown_send()
    with Catcher(django_huyi_sms.signals.sms_status_changed) as changed:
        response = post_form(client, "receipt_push", receipt_fields("777", mobile=MOBILE))
        assert response.content == b"success"
        post_form(client, "receipt_push", receipt_fields("777", mobile=MOBILE))  # the provider's retry
    log.refresh_from_db()
    assert (log.status, log.smsid) == ("delivered", "777")
    assert [(c["old_status"], c["new_status"]) for c in changed.calls] == [("unknown", "delivered")]


def test_two_unknown_sends_to_one_number_are_not_guessed_apart(client):
    unknown_send(), unknown_send()
    post_form(client, "receipt_push", receipt_fields("777", mobile=MOBILE))
    assert set(SmsLog.objects.values_list("status", flat=True)) == {"unknown"}
    assert receipts.StatusReceipt.objects.get().log is None  # kept, unmatched


def test_an_unknown_send_outside_the_window_is_not_matched(client):
    log = unknown_send()
    SmsLog.objects.filter(pk=log.pk).update(created_at=timezone.now() - timedelta(days=2))
    post_form(client, "receipt_push", receipt_fields("777", mobile=MOBILE))
    assert SmsLog.objects.get().status == "unknown"


def test_a_receipt_that_came_while_the_send_was_in_flight_is_applied_when_it_turns_unknown(client):
    """The provider accepted, pushed the receipt, and its answer to Submit never came."""

    class LostAnswer(django_huyi_sms.backends.locmem.LocmemBackend):
        def send(self, message):
            post_form(client, "receipt_push", receipt_fields("888", mobile=message.mobile, code="0"))
            raise django_huyi_sms.exceptions.HuyiTransportError(None, detail="no answer within 10s")

    with override_settings(HUYI_SMS={"BACKEND": LostAnswer, "CALLBACK_TOKEN": "test-callback-token"}):
        log = django_huyi_sms.send_sms(MOBILE, CODE_TEXT, fail_silently=True)
    log.refresh_from_db()
    assert (log.status, log.smsid, log.receipt_waiting) == ("undelivered", "888", False)


def test_a_receipt_that_beat_the_answer_is_applied_by_the_sender(client):
    class EarlyReceipt(django_huyi_sms.backends.locmem.LocmemBackend):
        def send(self, message):
            post_form(client, "receipt_push", receipt_fields("999", mobile=message.mobile))
            assert SmsLog.objects.get(mobile=message.mobile).receipt_waiting
            result = super().send(message)
            return type(result)(code=result.code, msg=result.msg, smsid="999")

    with override_settings(HUYI_SMS={"BACKEND": EarlyReceipt, "CALLBACK_TOKEN": "test-callback-token"}):
        with Catcher(django_huyi_sms.signals.sms_sent) as sent, Catcher(django_huyi_sms.signals.sms_status_changed) as changed:
            log = django_huyi_sms.send_sms(MOBILE, CODE_TEXT)
    assert (log.status, log.receipt_waiting) == ("delivered", False)
    assert len(sent.calls) == 1 and [c["new_status"] for c in changed.calls] == ["delivered"]


def test_a_send_with_no_receipt_waiting_does_not_look_for_one(django_assert_num_queries):
    """The hot path: the INSERT and one conditional UPDATE, nothing else."""
    django_huyi_sms.send_sms(MOBILE, CODE_TEXT)  # warm up (content types, settings)
    with django_assert_num_queries(2):
        django_huyi_sms.send_sms("13900139000", CODE_TEXT)
