"""The database goes away in the middle of a push or of a send's recording.

Each path is run once whole to count its statements, then once per statement with that
statement failing as a lost connection, a closed one, a statement timeout, a deadlock, a
serialization failure or a locked SQLite file would make it fail (``faults.every_cut``). The
tests say what must hold whatever the statements are, so they hold for any version of the code:

* a push answers 503, never ``success``, so the provider pushes it again; it leaves nothing
  half-way (a receipt linked to its send moves the send's status with it: the raw push may be
  kept on its own first, as ``receipts.py`` promises, but never a status without its receipt or
  a linked receipt without its status); the provider's retry then applies it exactly once;
* a send whose recording fails after the provider accepted it is never sent again: it ends
  ``unknown`` (``huyi_requeue``) and its receipt moves it on.

On PostgreSQL the same cuts are made for real too: the connection is killed under the statement
(``pg_terminate_backend``), a statement waits on a lock held elsewhere past ``lock_timeout``, or
runs past ``statement_timeout``.

The tests run outside a test transaction (``transaction=True``), in autocommit as a site does:
what a push commits before the cut stays committed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import Error as DatabaseFailure
from django.db import connection
from django.dispatch import Signal
from django.test import override_settings
from django.utils import timezone

import django_huyi_sms
from django_huyi_sms import otp, sending, signals
from django_huyi_sms.backends.locmem import LocmemBackend
from django_huyi_sms.exceptions import HuyiTransportError
from django_huyi_sms.models import (
    BulkSend,
    OptOut,
    OtpRecord,
    OtpThrottle,
    SmsLog,
    SmsTemplate,
    StatusReceipt,
    UpstreamReply,
)
from django_huyi_sms.provider import SubmitResult

from .faults import DATABASE_FAULTS, POSTGRES_FAULTS, cut_statement, every_cut, hold_advisory_lock, reset_session
from .push_helpers import post_form, receipt_fields
from .test_queue import run_queued_tasks
from .test_send import CODE_TEXT, Catcher

pytestmark = pytest.mark.django_db(transaction=True)

MOBILE = "13800138000"
SMSID = "880001"
FINAL = (SmsLog.Status.DELIVERED, SmsLog.Status.UNDELIVERED)

#: The quick form cuts with one error of each class (a push must answer 503 to both) and, on
#: PostgreSQL, with real faults; the soak form (``make soak``) with every message a driver gives too.
QUICK_FAULTS = ("connection lost", "connection closed")


def _fault(name: str) -> Any:
    return pytest.param(name, marks=() if name in QUICK_FAULTS or name in POSTGRES_FAULTS else pytest.mark.slow)


each_fault = pytest.mark.parametrize("fault", [_fault(name) for name in [*DATABASE_FAULTS, *POSTGRES_FAULTS]])


@pytest.fixture(autouse=True)
def _real_faults_on_postgresql(request) -> Iterator[None]:
    """A real fault needs PostgreSQL, and the lock timeout a lock held elsewhere the whole test."""
    fault = getattr(request.node, "callspec", None) and request.node.callspec.params.get("fault")
    if fault not in POSTGRES_FAULTS:
        yield
        return
    if connection.vendor != "postgresql":
        pytest.skip("a real database fault needs PostgreSQL: set DATABASE_URL")
    with hold_advisory_lock():
        yield
    reset_session()


class AcceptedAs(LocmemBackend):
    """The provider accepts every message with the smsid :data:`SMSID`."""

    def send(self, message):
        result = super().send(message)
        return SubmitResult(code=result.code, msg=result.msg, smsid=SMSID)


class AnswerLost(LocmemBackend):
    """The request leaves and no answer comes: the send is ``unknown``."""

    def send(self, message):
        django_huyi_sms.outbox.append(message)
        raise HuyiTransportError(None, detail="no answer within 10s")


def with_backend(backend: type) -> override_settings:
    return override_settings(HUYI_SMS={"BACKEND": backend, "CALLBACK_TOKEN": "test-callback-token"})


def push_cut_everywhere(
    client,
    name: str,
    fields: dict[str, str],
    fault: str,
    *,
    reset: Callable[[], object],
    check_whole: Callable[[], object],
    signal: Signal,
    check_applied: Callable[[list[dict[str, Any]]], object],
) -> None:
    """Push ``fields`` to ``name`` with each of its statements failing in turn.

    Each cut push answers 503 and leaves the tables whole (``check_whole``); the provider's retries
    then answer ``success`` and apply the push once: ``check_applied`` gets the calls of ``signal``
    over the cut push and the retries together (the cut may come after the change was announced).
    """

    def push() -> None:
        response = post_form(client, name, fields)
        assert response.content == b"success", response.content

    for at in every_cut(push, reset):
        with Catcher(signal) as heard:
            with cut_statement(at, fault) as cut:
                response = post_form(client, name, fields)
            assert cut.fired, f"statement {at} was never reached"
            reset_session()
            where = f"cut at statement {at} of {cut.count}: {cut.statements[at - 1][:120]}"
            assert (response.status_code, response.content) == (503, b"temporarily unavailable"), where
            check_whole()
            for _ in range(2):  # the provider's next tries: applied now, and the third changes nothing
                response = post_form(client, name, fields)
                assert (response.status_code, response.content) == (200, b"success"), where
        try:
            check_applied(heard.calls)
        except AssertionError as failure:
            raise AssertionError(f"{where}: {failure}") from failure


# -- delivery receipts -----------------------------------------------------------------------------


def receipt_linked_only_with_its_status(log: SmsLog) -> Callable[[], None]:
    def check() -> None:
        log.refresh_from_db()
        linked = StatusReceipt.objects.filter(log=log).exists()
        assert linked == (log.status in FINAL), (log.status, list(StatusReceipt.objects.values("log", "duplicate")))
        assert log.receipt_code == ("2" if linked else "")

    return check


def applied_once(log: SmsLog) -> Callable[[list[dict[str, Any]]], None]:
    def check(changed: list[dict[str, Any]]) -> None:
        log.refresh_from_db()
        assert (log.status, log.smsid, log.receipt_code) == (SmsLog.Status.DELIVERED, SMSID, "2")
        stored = list(StatusReceipt.objects.filter(smsid=SMSID).values_list("log", "duplicate"))
        assert [duplicate for _log, duplicate in stored].count(False) == 1, stored  # one original
        assert {linked for linked, _duplicate in stored} == {log.pk}, stored  # none left unmatched
        assert [(call["log"].pk, call["new_status"]) for call in changed] == [(log.pk, SmsLog.Status.DELIVERED)]

    return check


@each_fault
def test_a_receipt_for_a_known_send(client, fault):
    with with_backend(AcceptedAs):
        log = django_huyi_sms.send_sms(MOBILE, CODE_TEXT)

    def reset() -> None:
        StatusReceipt.objects.all().delete()
        SmsLog.objects.filter(pk=log.pk).update(status="submitted", receipt_code="", receipt_msg="", delivered_at=None)

    push_cut_everywhere(
        client, "receipt_push", receipt_fields(SMSID), fault, reset=reset,
        check_whole=receipt_linked_only_with_its_status(log),
        signal=signals.sms_status_changed, check_applied=applied_once(log),
    )


@each_fault
def test_a_receipt_that_names_an_unknown_send_by_its_number(client, fault):
    with with_backend(AnswerLost):
        log = django_huyi_sms.send_sms(MOBILE, CODE_TEXT, fail_silently=True)
    assert (log.status, log.smsid) == (SmsLog.Status.UNKNOWN, "")

    def reset() -> None:
        StatusReceipt.objects.all().delete()
        SmsLog.objects.filter(pk=log.pk).update(
            status="unknown", smsid="", receipt_code="", receipt_msg="", delivered_at=None
        )

    push_cut_everywhere(
        client, "receipt_push", receipt_fields(SMSID), fault, reset=reset,
        check_whole=receipt_linked_only_with_its_status(log),
        signal=signals.sms_status_changed, check_applied=applied_once(log),
    )


@each_fault
def test_a_receipt_that_beats_the_answer_to_its_send(client, fault, dummy_queue):
    """The send is queued: the receipt is kept whatever statement fails, and the worker's answer
    applies it once."""
    with with_backend(AcceptedAs):
        log = django_huyi_sms.enqueue_sms(MOBILE, CODE_TEXT)
    (task,) = dummy_queue.results

    def reset() -> None:
        StatusReceipt.objects.all().delete()
        SmsLog.objects.filter(pk=log.pk).update(
            status="queued", smsid="", claimed_at=None, attempts=0, receipt_waiting=False,
            receipt_code="", receipt_msg="", delivered_at=None,
        )
        dummy_queue.results[:] = [task]

    def worker_applies_it_once(changed: list[dict[str, Any]]) -> None:
        assert changed == []  # not yet: the send has no smsid
        assert StatusReceipt.objects.filter(log__isnull=False).count() == 0
        with with_backend(AcceptedAs), Catcher(signals.sms_status_changed) as worker:
            assert run_queued_tasks(dummy_queue) == 1
        applied_once(log)(worker.calls)
        assert SmsLog.objects.get(pk=log.pk).attempts == 1

    push_cut_everywhere(
        client, "receipt_push", receipt_fields(SMSID), fault, reset=reset,
        check_whole=receipt_linked_only_with_its_status(log),
        signal=signals.sms_status_changed, check_applied=worker_applies_it_once,
    )


# -- replies and template reviews ------------------------------------------------------------------


@each_fault
def test_an_opt_out_reply(client, fault):
    with with_backend(AcceptedAs):
        log = django_huyi_sms.send_sms(MOBILE, "新品上市 回T退订", product="marketing")
    fields = {"mobilephone": MOBILE, "content": "TD", "smsid": SMSID, "reply_time": "2026-11-25 10:01:00"}

    def reset() -> None:
        OptOut.objects.all().delete()
        UpstreamReply.objects.all().delete()

    def check_whole() -> None:
        replies = list(UpstreamReply.objects.all())
        optouts = list(OptOut.objects.all())
        assert len(replies) == len(optouts) <= 1  # a reply is stored with its opt-out, or neither is
        assert all(optout.reply == replies[0] for optout in optouts)

    def applied(received: list[dict[str, Any]]) -> None:
        reply = UpstreamReply.objects.get()
        assert (reply.log, reply.is_opt_out) == (log, True)
        assert OptOut.objects.get().reply == reply
        assert [call["reply"].pk for call in received] == [reply.pk]

    push_cut_everywhere(
        client, "reply_push", fields, fault, reset=reset, check_whole=check_whole,
        signal=signals.reply_received, check_applied=applied,
    )


@pytest.mark.parametrize("known", [True, False], ids=["submitted here", "added in the console"])
@each_fault
def test_a_template_review(client, fault, known):
    fields = {"code": "2", "msg": "审核通过", "templateid": "4242"}

    def reset() -> None:
        SmsTemplate.objects.all().delete()
        if known:
            SmsTemplate.objects.create(product="sms", templateid=4242, content="您的验证码是：【变量】。")

    def check_whole() -> None:
        assert SmsTemplate.objects.count() == int(known) or SmsTemplate.objects.get().status == "approved"

    def applied(reviewed: list[dict[str, Any]]) -> None:
        template = SmsTemplate.objects.get()
        assert (template.templateid, template.status, template.review_msg) == (4242, "approved", "审核通过")
        assert [call["template"].pk for call in reviewed] == [template.pk]  # heard once: not lost, not twice

    push_cut_everywhere(
        client, "template_push", fields, fault, reset=reset, check_whole=check_whole,
        signal=signals.template_reviewed, check_applied=applied,
    )


# -- a send's recording ----------------------------------------------------------------------------


class AcceptedPerNumber(LocmemBackend):
    """Accepts each Submit with an smsid made from its first number, so that a receipt can name it."""

    def send(self, message):
        result = super().send(message)
        return SubmitResult(code=result.code, msg=result.msg, smsid=smsid_of(message.mobiles[0]))


def smsid_of(mobile: str) -> str:
    return "77" + mobile[-6:]


MOBILES = [f"1380013{n:04d}" for n in range(3)]


def sent_to() -> list[str]:
    return sorted(number for message in django_huyi_sms.outbox for number in message.mobiles)


def forget_everything() -> None:
    StatusReceipt.objects.all().delete()
    SmsLog.objects.all().delete()
    BulkSend.objects.all().delete()
    OtpRecord.objects.all().delete()
    OtpThrottle.objects.all().delete()
    django_huyi_sms.outbox.clear()


def requeue_later() -> None:
    """``huyi_requeue`` run once ``QUEUE["STALE_AFTER"]`` has passed since the outage."""
    an_hour_ago = timezone.now() - timedelta(hours=1)
    SmsLog.objects.filter(claimed_at__isnull=False).update(claimed_at=an_hour_ago)
    SmsLog.objects.filter(dispatched_at__isnull=False).update(dispatched_at=an_hour_ago)
    sending.requeue()


def recover_and_check(client, dummy_queue) -> None:
    """What follows an outage: ``huyi_requeue`` (an operator's cron) and the workers it wakes, then the
    provider's receipts for what it got. Every message the provider got (once) ends delivered, every
    other one failed or was never recorded, and nothing sends anything twice."""
    with with_backend(AcceptedPerNumber):
        requeue_later()
        run_queued_tasks(dummy_queue)
        sent = sent_to()
        assert len(sent) == len(set(sent)), f"sent twice: {sent}"
        unfinished = SmsLog.objects.exclude(status__in=("submitted", "unknown", "failed"))
        assert not unfinished.exists(), list(unfinished.values("mobile", "status", "claimed_at"))
        assert not SmsLog.objects.filter(status="failed", mobile__in=sent).exists()  # failed: never left
        for message in list(django_huyi_sms.outbox):
            for mobile in message.mobiles:
                fields = receipt_fields(smsid_of(message.mobiles[0]), mobile=mobile)
                assert post_form(client, "receipt_push", fields).content == b"success"
        for log in SmsLog.objects.all():
            # A row claimed and then cut off before its Submit is unknown, as when a worker dies there:
            # nothing can tell that it did not leave. It is never sent again without an operator.
            expected = ("delivered",) if log.mobile in sent else ("failed", "unknown")
            assert log.status in expected, (log.mobile, log.status, sent)
        # Whatever might send them again finds nothing to send.
        requeue_later()
        run_queued_tasks(dummy_queue)
        sending.send_queued(list(SmsLog.objects.values_list("pk", flat=True)))
        for log in SmsLog.objects.filter(status="delivered"):
            with pytest.raises(sending.NotResendable):
                sending.resend(log)
    assert sent_to() == sent


def cut_everywhere(path: Callable[[], object], fault: str, *, prepare: Callable[[], object] = lambda: None):
    """Run ``path`` (after ``forget_everything`` and ``prepare``) with each of its statements failing in
    turn; yields the cut after each run. A cut may surface as the database's error, nothing else."""

    def reset() -> None:
        forget_everything()
        with with_backend(AcceptedPerNumber):
            prepare()

    for at in every_cut(path, reset):
        with with_backend(AcceptedPerNumber), cut_statement(at, fault) as cut:
            try:
                path()
            except DatabaseFailure:
                pass
        assert cut.fired, f"statement {at} was never reached"
        reset_session()  # as a request's end, or a worker between tasks, closes a connection that broke
        yield cut


@each_fault
def test_send_sms_cut_anywhere(client, dummy_queue, fault):
    for _cut in cut_everywhere(lambda: django_huyi_sms.send_sms(MOBILES[0], CODE_TEXT), fault):
        recover_and_check(client, dummy_queue)


@each_fault
def test_a_worker_cut_anywhere(client, dummy_queue, fault):
    def queue() -> None:
        for mobile in MOBILES:
            django_huyi_sms.enqueue_sms(mobile, CODE_TEXT)

    for _cut in cut_everywhere(lambda: run_queued_tasks(dummy_queue), fault, prepare=queue):
        recover_and_check(client, dummy_queue)
        assert sent_to() == MOBILES  # the outage lost none of them


@each_fault
def test_a_bulk_batch_cut_anywhere(client, dummy_queue, fault):
    def queue() -> None:
        django_huyi_sms.send_bulk(MOBILES, "【商城】周末全场五折，回T退订")

    for _cut in cut_everywhere(lambda: run_queued_tasks(dummy_queue), fault, prepare=queue):
        recover_and_check(client, dummy_queue)


@each_fault
def test_a_code_request_cut_anywhere(client, dummy_queue, fault):
    """A code that reached the phone is one the person can type, whatever failed after it left."""
    for _cut in cut_everywhere(lambda: otp.request_code(MOBILES[0], purpose="verify_phone"), fault):
        codes = ["".join(ch for ch in message.content if ch.isdigit()) for message in django_huyi_sms.outbox]
        recover_and_check(client, dummy_queue)
        for code in codes:
            assert otp.verify_code(MOBILES[0], code, purpose="verify_phone").status == OtpRecord.Status.USED
