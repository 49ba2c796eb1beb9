"""send_bulk(): marketing to many numbers, batched per Submit, through the queue, opt-outs skipped."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

import django_huyi_sms
from django_huyi_sms import bulk, optouts, sending, signals, tasks
from django_huyi_sms.backends.locmem import LocmemBackend
from django_huyi_sms.checks import check_settings
from django_huyi_sms.conf import SettingsError, huyi_settings
from django_huyi_sms.exceptions import (
    HuyiContentError,
    HuyiRecipientError,
    HuyiTransportError,
    InvalidMobiles,
)
from django_huyi_sms.models import BulkSend, OptOut, SmsLog, SmsTemplate
from django_huyi_sms.provider import SubmitResult

from .faults import unused_port
from .push_helpers import post_form, receipt_fields
from .test_queue import run_queued_tasks as run_tasks
from .test_send import Catcher

pytestmark = pytest.mark.django_db

TEXT = "【商城】周末全场五折，回T退订"
PROMO = "【商城】周末全场五折。"
LOCMEM = "django_huyi_sms.backends.locmem.LocmemBackend"


# -- the MARKETING settings ----------------------------------------------------------------------


def test_marketing_defaults():
    with override_settings(HUYI_SMS={}):
        assert huyi_settings.MARKETING == {"BATCH_SIZE": 100, "UNSUBSCRIBE_TEXT": "回T退订"}


@pytest.mark.parametrize(
    "marketing, complaint",
    [
        ({"BATCH_SIZE": 0}, "['MARKETING']['BATCH_SIZE'] must be a whole number from 1 to 1000"),
        ({"BATCH_SIZE": 1001}, "['MARKETING']['BATCH_SIZE'] must be a whole number from 1 to 1000"),
        ({"BATCH_SIZE": "100"}, "['MARKETING']['BATCH_SIZE'] must be a whole number"),
        ({"UNSUBSCRIBE_TEXT": 7}, "['MARKETING']['UNSUBSCRIBE_TEXT'] must be a string a message may carry"),
        ({"UNSUBSCRIBE_TEXT": "回T退订😀"}, "['MARKETING']['UNSUBSCRIBE_TEXT'] must be a string a message may carry"),
        ({"UNSUBSCRIBE_TEXT": "回T退订【"}, "['MARKETING']['UNSUBSCRIBE_TEXT']"),
        ({"BATCH_SZE": 10}, "has unknown keys: BATCH_SZE (did you mean BATCH_SIZE?)"),
    ],
)
def test_marketing_values_are_checked(marketing, complaint):
    with override_settings(HUYI_SMS={"MARKETING": marketing}):
        errors = [message for message in check_settings() if message.level >= 40]
        assert any(e.id in ("huyi_sms.E025", "huyi_sms.E001") and complaint in e.msg for e in errors), errors
        with pytest.raises(SettingsError):
            huyi_settings.MARKETING  # noqa: B018
        assert huyi_settings.OTP["TTL"] == 300  # nothing else stops


def test_an_empty_unsubscribe_text_warns():
    with override_settings(HUYI_SMS={"MARKETING": {"UNSUBSCRIBE_TEXT": ""}}):
        assert [m.id for m in check_settings() if m.id == "huyi_sms.W025"] == ["huyi_sms.W025"]
    with override_settings(HUYI_SMS={"MARKETING": {"UNSUBSCRIBE_TEXT": "拒收请回复R"}}):
        assert not [m for m in check_settings() if m.id in ("huyi_sms.W025", "huyi_sms.E025")]


# -- send_bulk(): checked first, written in one transaction, sent a batch per Submit -------------


def numbers(count, start=0):
    return [f"1380013{n:04d}" for n in range(start, start + count)]


def locmem(**extra):
    return override_settings(HUYI_SMS={"BACKEND": LOCMEM, "CALLBACK_TOKEN": "test-callback-token", **extra})


def queued_batches(backend):
    return [tuple(result.args) for result in backend.results]



def test_one_row_per_recipient_one_submit_per_batch_sharing_its_smsid(django_capture_on_commit_callbacks):
    mobiles = numbers(7)
    with locmem(MARKETING={"BATCH_SIZE": 3}), django_capture_on_commit_callbacks(execute=True):
        sent = django_huyi_sms.send_bulk(mobiles, TEXT)
    assert (sent.recipients, sent.batches, sent.opted_out, sent.duplicates) == (7, 3, 0, 0)
    # Three Submits, with the numbers comma-separated in the order given.
    assert [m.mobile for m in django_huyi_sms.outbox] == [",".join(mobiles[:3]), ",".join(mobiles[3:6]), mobiles[6]]
    assert {(m.product, m.content, m.stime) for m in django_huyi_sms.outbox} == {("marketing", TEXT, None)}
    logs = list(sent.logs.order_by("pk"))
    assert [log.mobile for log in logs] == mobiles
    assert [log.batch for log in logs] == [0, 0, 0, 1, 1, 1, 2]
    assert {log.status for log in logs} == {"submitted"}
    by_batch = {}
    for log in logs:
        by_batch.setdefault(log.batch, set()).add(log.smsid)
    assert all(len(smsids) == 1 and "" not in smsids for smsids in by_batch.values())
    assert len({smsid for smsids in by_batch.values() for smsid in smsids}) == 3
    assert sent.progress() == {"queued": 0, "submitted": 7, "delivered": 0, "undelivered": 0, "failed": 0, "unknown": 0}


def test_numbers_are_normalised_and_duplicates_sent_once(django_capture_on_commit_callbacks):
    with locmem(), django_capture_on_commit_callbacks(execute=True):
        sent = django_huyi_sms.send_bulk(["+86 138 0013 8000", "13800138000", "", None, "１３９００１３９０００"], TEXT)
    assert (sent.recipients, sent.duplicates) == (2, 1)
    assert [m.mobile for m in django_huyi_sms.outbox] == ["13800138000,13900139000"]


def test_a_comma_separated_string_is_several_numbers(django_capture_on_commit_callbacks):
    with locmem(), django_capture_on_commit_callbacks(execute=True):
        sent = django_huyi_sms.send_bulk("13800138000, 13900139000，13700137000", TEXT)
    assert sorted(sent.logs.values_list("mobile", flat=True)) == ["13700137000", "13800138000", "13900139000"]


def test_opted_out_numbers_are_skipped_and_counted(django_capture_on_commit_callbacks):
    mobiles = numbers(5)
    optouts.opt_out(mobiles[1], OptOut.Reason.REPLIED)
    optouts.opt_out(mobiles[3], OptOut.Reason.BLACKLISTED)
    with locmem(), django_capture_on_commit_callbacks(execute=True):
        sent = django_huyi_sms.send_bulk(mobiles, TEXT)
    assert (sent.recipients, sent.opted_out) == (3, 2)
    assert [m.mobile for m in django_huyi_sms.outbox] == [",".join([mobiles[0], mobiles[2], mobiles[4]])]
    assert not SmsLog.objects.filter(mobile__in=[mobiles[1], mobiles[3]]).exists()


def test_everyone_opted_out_writes_the_bulk_send_and_sends_nothing(django_capture_on_commit_callbacks):
    optouts.opt_out("13800138000", OptOut.Reason.REPLIED)
    with locmem(), django_capture_on_commit_callbacks(execute=True):
        sent = django_huyi_sms.send_bulk(["13800138000"], TEXT)
    assert (sent.recipients, sent.opted_out, sent.batches) == (0, 1, 0)
    assert django_huyi_sms.outbox == [] and SmsLog.objects.count() == 0


@pytest.mark.parametrize(
    "content, sent_as",
    [
        (PROMO, PROMO + "回T退订"),
        (TEXT, TEXT),  # it carries the text already
        ("回T退订：【商城】周末五折", "回T退订：【商城】周末五折"),
    ],
)
def test_the_unsubscribe_text_is_appended_where_missing(django_capture_on_commit_callbacks, content, sent_as):
    with locmem(), django_capture_on_commit_callbacks(execute=True):
        sent = django_huyi_sms.send_bulk(["13800138000"], content)
    assert sent.content == django_huyi_sms.outbox[0].content == SmsLog.objects.get().content == sent_as


def test_the_unsubscribe_text_is_as_configured_and_billed(django_capture_on_commit_callbacks):
    with locmem(MARKETING={"UNSUBSCRIBE_TEXT": " 拒收请回复R"}), django_capture_on_commit_callbacks(execute=True):
        sent = django_huyi_sms.send_bulk(["13800138000"], "【商城】" + "五" * 60)
    assert sent.content.endswith("五 拒收请回复R")
    assert sent.parts == SmsLog.objects.get().parts == 2  # 64 + 7 characters: past one part because of it
    with locmem(MARKETING={"UNSUBSCRIBE_TEXT": ""}):
        assert django_huyi_sms.send_bulk(["13800138000"], PROMO).content == PROMO


def test_other_products_get_no_unsubscribe_text_no_opt_out_check_and_one_number_a_submit(
    django_capture_on_commit_callbacks,
):
    optouts.opt_out("13800138000", OptOut.Reason.REPLIED)  # opted out of marketing, not of notices
    text = "【商城】您的订单已发货。"
    with locmem(), django_capture_on_commit_callbacks(execute=True):
        sent = django_huyi_sms.send_bulk(["13800138000", "13900139000"], text, product="sms")
    assert (sent.batch_size, sent.recipients, sent.content) == (1, 2, text)
    assert [m.mobile for m in django_huyi_sms.outbox] == ["13800138000", "13900139000"]


# -- bad input: a clear error, nothing written ---------------------------------------------------


def nothing_written():
    return BulkSend.objects.count() == SmsLog.objects.count() == 0


def test_bad_numbers_refuse_the_whole_call_naming_each(django_capture_on_commit_callbacks):
    mobiles = [*numbers(3), "1380013800", "abc", *numbers(2, start=10), "23800138000"]
    with locmem(), django_capture_on_commit_callbacks(execute=True), pytest.raises(InvalidMobiles) as caught:
        django_huyi_sms.send_bulk(mobiles, TEXT)
    error = caught.value
    assert isinstance(error, HuyiRecipientError) and error.code == 406
    assert error.positions == (4, 5, 8)
    assert "3 of 8 numbers are not mobile numbers" in str(error)
    assert "#4 '138****3800'" in str(error) and "1380013800" not in str(error)  # masked
    assert nothing_written() and django_huyi_sms.outbox == []


def test_many_bad_numbers_are_counted_past_the_first_ten():
    with pytest.raises(InvalidMobiles) as caught:
        django_huyi_sms.send_bulk([f"{n}" for n in range(25)], TEXT)
    assert len(caught.value.positions) == 25 and "and 15 more" in str(caught.value)


@pytest.mark.parametrize("mobiles", [[], ["", "  ", None], ""])
def test_no_number_at_all_is_403(mobiles):
    with pytest.raises(HuyiRecipientError) as caught:
        django_huyi_sms.send_bulk(mobiles, TEXT)
    assert caught.value.code == 403 and nothing_written()


@pytest.mark.parametrize(
    "content, code",
    [("", 404), ("  ", 404), ("周末五折😀", 4074), ("【商城周末五折", 4070), ("五" * 300, 4073), ("五" * 297, 4073)],
)
def test_bad_content_is_refused_before_anything_is_written(content, code):
    # 297 characters pass on their own, and not once the unsubscribe text is on.
    with pytest.raises(HuyiContentError) as caught:
        django_huyi_sms.send_bulk(["13800138000"], content)
    assert caught.value.code == code and nothing_written()


def marketing_template(content="【商城】会员日全场【变量】折，回T退订", templateid=7):
    return SmsTemplate.objects.create(
        product="marketing", templateid=templateid, content=content, status=SmsTemplate.Status.APPROVED
    )


def test_a_template_bulk_send_signs_the_variables_and_logs_the_rendering(
    fake_provider, django_capture_on_commit_callbacks
):
    fake_provider.answer_json(code=2, msg="提交成功", smsid="88002")
    template = marketing_template()
    settings = {
        "ACCOUNT": "C1",
        "API_KEY": "sms-key",
        "API_URL": f"http://127.0.0.1:{unused_port()}/webservice/sms.php",
        "PRODUCTS": {"marketing": {"ACCOUNT": "M1", "API_KEY": "marketing-key", "API_URL": fake_provider.url}},
        "BACKEND": "django_huyi_sms.backends.ihuyi.IhuyiBackend",
    }
    mobiles = numbers(3)
    with override_settings(HUYI_SMS=settings), django_capture_on_commit_callbacks(execute=True):
        sent = django_huyi_sms.send_bulk(mobiles, template=template, variables=["8"])
    (request,) = fake_provider.requests
    form = request.form
    assert (form["templateid"], form["content"], form["mobile"]) == ("7", "8", ",".join(mobiles))
    signed = "M1" + "marketing-key" + form["mobile"] + "8" + form["time"]
    assert form["password"] == hashlib.md5(signed.encode()).hexdigest()  # over the variables as sent
    rows = list(sent.logs.values_list("content", "templateid", "variables", "status", "smsid"))
    assert rows == [("【商城】会员日全场8折，回T退订", 7, ["8"], "submitted", "88002")] * 3


def test_a_template_bulk_send_by_id_goes_through_the_queue(dummy_queue, django_capture_on_commit_callbacks):
    marketing_template()
    with locmem(), django_capture_on_commit_callbacks(execute=True):
        sent = django_huyi_sms.send_bulk(numbers(2), template=7, variables=["9"])
    assert run_tasks(dummy_queue) == 1
    (message,) = django_huyi_sms.outbox
    assert (message.templateid, message.variables, message.content) == (7, ("9",), "【商城】会员日全场9折，回T退订")
    assert set(sent.logs.values_list("status", flat=True)) == {"submitted"}


@pytest.mark.parametrize(
    "arguments, error, code",
    [
        ({"template": 7, "variables": []}, HuyiContentError, 4072),  # one variable short
        ({"template": 7, "variables": ["8", "9"]}, HuyiContentError, 4072),
        ({"template": 7, "variables": ["8|9"]}, HuyiContentError, 4072),
        ({"template": 99, "variables": ["8"]}, HuyiContentError, 4071),  # no such template
        ({"variables": ["8"]}, ValueError, None),  # variables without a template
    ],
)
def test_a_template_bulk_send_is_checked_before_anything_is_written(arguments, error, code):
    marketing_template()
    with pytest.raises(error) as caught:
        django_huyi_sms.send_bulk(numbers(2), **arguments)
    assert getattr(caught.value, "code", None) == code
    assert nothing_written()


def test_a_marketing_template_must_carry_the_unsubscribe_text():
    marketing_template("【商城】会员日全场【变量】折")
    with pytest.raises(ValueError, match="does not carry the unsubscribe text"):
        django_huyi_sms.send_bulk(numbers(2), template=7, variables=["8"])
    assert nothing_written()


def test_an_unknown_product_is_refused():
    with pytest.raises(ValueError, match="unknown product"):
        django_huyi_sms.send_bulk(["13800138000"], TEXT, product="fax")
    assert nothing_written()


@pytest.mark.parametrize(
    "when, product, error, complaint",
    [
        (timedelta(minutes=-1), "marketing", ValueError, "is not in the future"),
        (timedelta(hours=1), "sms", ValueError, "only marketing takes a send time"),
        ("2030-01-01 09:00:00", "marketing", TypeError, "must be a datetime, not str"),
    ],
)
def test_a_scheduled_time_that_cannot_be_is_refused(when, product, error, complaint):
    scheduled_at = timezone.now() + when if isinstance(when, timedelta) else when
    with pytest.raises(error, match=complaint):
        django_huyi_sms.send_bulk(["13800138000"], TEXT, scheduled_at=scheduled_at, product=product)
    assert nothing_written()


# -- scheduled sends -----------------------------------------------------------------------------


def test_a_naive_scheduled_time_is_the_current_time_zone_and_goes_out_as_stime(django_capture_on_commit_callbacks):
    # The tests' TIME_ZONE is Asia/Shanghai: a naive 09:00 is 09:00 China time.
    naive = datetime(2030, 1, 1, 9, 0)
    with locmem(), django_capture_on_commit_callbacks(execute=True):
        sent = django_huyi_sms.send_bulk(["13800138000"], TEXT, scheduled_at=naive)
    assert sent.scheduled_at == datetime(2030, 1, 1, 1, 0, tzinfo=UTC)
    assert BulkSend.objects.get().scheduled_at == datetime(2030, 1, 1, 1, 0, tzinfo=UTC)
    assert django_huyi_sms.outbox[0].stime == datetime(2030, 1, 1, 1, 0, tzinfo=UTC)


def test_a_naive_time_in_another_current_time_zone(django_capture_on_commit_callbacks):
    with locmem(), timezone.override(ZoneInfo("Europe/Berlin")):
        sent = django_huyi_sms.send_bulk(["13800138000"], TEXT, scheduled_at=datetime(2030, 7, 1, 14, 0))
    assert sent.scheduled_at == datetime(2030, 7, 1, 12, 0, tzinfo=UTC)  # CEST is UTC+2


# -- through the queue ---------------------------------------------------------------------------


def test_nothing_leaves_before_the_commit_and_each_batch_is_one_task(dummy_queue, django_capture_on_commit_callbacks):
    with locmem(MARKETING={"BATCH_SIZE": 4}):
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            sent = django_huyi_sms.send_bulk(numbers(10), TEXT)
            assert queued_batches(dummy_queue) == [] and django_huyi_sms.outbox == []
        assert queued_batches(dummy_queue) == [(sent.pk, 0), (sent.pk, 1), (sent.pk, 2)]
        assert set(SmsLog.objects.values_list("status", flat=True)) == {"queued"}  # the request only wrote rows
        assert run_tasks(dummy_queue) == 3
    assert [len(m.mobiles) for m in django_huyi_sms.outbox] == [4, 4, 2]
    assert set(SmsLog.objects.values_list("status", "attempts")) == {("submitted", 1)}


def test_a_rollback_sends_nothing(dummy_queue, django_capture_on_commit_callbacks):
    with locmem(), django_capture_on_commit_callbacks(execute=True), pytest.raises(ZeroDivisionError):
        with transaction.atomic():
            django_huyi_sms.send_bulk(numbers(3), TEXT)
            raise ZeroDivisionError("the caller's own work failed")
    assert nothing_written() and queued_batches(dummy_queue) == []


def test_a_batch_task_delivered_twice_sends_once(dummy_queue, django_capture_on_commit_callbacks):
    with locmem(), django_capture_on_commit_callbacks(execute=True):
        sent = django_huyi_sms.send_bulk(numbers(3), TEXT)
    assert bulk.send_batch(sent.pk, 0) == 3
    assert bulk.send_batch(sent.pk, 0) == 0
    assert bulk.send_batch(sent.pk, 7) == 0 and bulk.send_batch(sent.pk + 1, 0) == 0  # no such batch, no such bulk
    assert len(django_huyi_sms.outbox) == 1


def test_the_single_send_worker_never_sends_a_bulk_row_alone(dummy_queue, django_capture_on_commit_callbacks):
    with locmem(), django_capture_on_commit_callbacks(execute=True):
        sent = django_huyi_sms.send_bulk(numbers(3), TEXT)
        assert sending.send_queued(list(sent.logs.values_list("pk", flat=True))) == 0
    assert django_huyi_sms.outbox == []
    run_tasks(dummy_queue)
    assert [m.mobile for m in django_huyi_sms.outbox] == [",".join(numbers(3))]


def test_a_number_that_opts_out_while_queued_is_left_out_counted_and_failed(
    dummy_queue, django_capture_on_commit_callbacks
):
    mobiles = numbers(3)
    with locmem(), django_capture_on_commit_callbacks(execute=True):
        sent = django_huyi_sms.send_bulk(mobiles, TEXT)
    optouts.opt_out(mobiles[1], OptOut.Reason.REPLIED)  # replied T to an earlier message meanwhile
    with locmem(), Catcher(signals.sms_failed) as failed:
        run_tasks(dummy_queue)
    assert [m.mobile for m in django_huyi_sms.outbox] == [f"{mobiles[0]},{mobiles[2]}"]
    row = SmsLog.objects.get(mobile=mobiles[1])
    assert (row.status, row.provider_code, row.provider_msg) == ("failed", 4030, "the number opted out of marketing messages")
    assert [call["log"].pk for call in failed.calls] == [row.pk]
    sent.refresh_from_db()
    assert sent.opted_out == 1
    assert OptOut.objects.get(mobile=mobiles[1]).reason == "replied"  # the first reason stays


# -- the provider's answer applies to the whole batch --------------------------------------------


class Refusing(LocmemBackend):
    code = 4051

    def send(self, message):
        django_huyi_sms.outbox.append(message)
        raise django_huyi_sms.exceptions.error_for_code(self.code)


def test_a_refusal_fails_every_row_of_the_batch(dummy_queue, django_capture_on_commit_callbacks):
    with override_settings(HUYI_SMS={"BACKEND": Refusing}), django_capture_on_commit_callbacks(execute=True):
        django_huyi_sms.send_bulk(numbers(3), TEXT)
    with override_settings(HUYI_SMS={"BACKEND": Refusing}), Catcher(signals.sms_failed) as failed:
        run_tasks(dummy_queue)
    assert set(SmsLog.objects.values_list("status", "provider_code")) == {("failed", 4051)}
    assert len(failed.calls) == 3 and len({id(call["error"]) for call in failed.calls}) == 3
    assert len(django_huyi_sms.outbox) == 1


class Blacklisting(Refusing):
    code = 4030


def test_a_blacklist_refusal_of_several_numbers_opts_none_of_them_out(dummy_queue, django_capture_on_commit_callbacks):
    with override_settings(HUYI_SMS={"BACKEND": Blacklisting, "MARKETING": {"BATCH_SIZE": 2}}):
        with django_capture_on_commit_callbacks(execute=True):
            django_huyi_sms.send_bulk(numbers(3), TEXT)
        run_tasks(dummy_queue)
    assert set(SmsLog.objects.values_list("status", "provider_code")) == {("failed", 4030)}
    # The provider did not say which of the first two it meant; the last one was alone in its Submit.
    assert list(OptOut.objects.values_list("mobile", "reason")) == [(numbers(3)[2], "blacklisted")]


def test_a_batch_that_reached_nobody_goes_back_to_the_queue_whole(dummy_queue, django_capture_on_commit_callbacks):
    refused = f"http://127.0.0.1:{unused_port()}/yx/webservice/sms.php"
    settings = {
        "BACKEND": "django_huyi_sms.backends.ihuyi.IhuyiBackend",
        "PRODUCTS": {"marketing": {"ACCOUNT": "M1", "API_KEY": "mk", "API_URL": refused}},
        "CONNECT_RETRIES": 0,
        "QUEUE": {"RETRIES": 1, "RETRY_BACKOFF": 5},
    }
    with override_settings(HUYI_SMS=settings):
        with django_capture_on_commit_callbacks(execute=True):
            sent = django_huyi_sms.send_bulk(numbers(3), TEXT)
        before = timezone.now()
        first = dummy_queue.results.pop(0)
        first.task.call(*first.args)
        rows = list(SmsLog.objects.order_by("pk"))
        assert {(row.status, row.claimed_at, row.attempts) for row in rows} == {("queued", None, 1)}
        assert all("Connection refused" in row.provider_msg for row in rows)
        (retry,) = dummy_queue.results
        assert tuple(retry.args) == (sent.pk, 0)
        assert retry.task.run_after - before >= timedelta(seconds=4.9)
        dummy_queue.results.pop(0).task.call(*retry.args)  # the last attempt allowed
        assert dummy_queue.results == []
    assert set(SmsLog.objects.values_list("status", "attempts")) == {("failed", 2)}


class AnswerLost(LocmemBackend):
    def send(self, message):
        django_huyi_sms.outbox.append(message)
        raise HuyiTransportError(None, detail="no answer within 10s")


def test_an_answer_that_never_came_makes_every_row_unknown_and_none_is_sent_again(
    dummy_queue, django_capture_on_commit_callbacks
):
    with override_settings(HUYI_SMS={"BACKEND": AnswerLost}):
        with django_capture_on_commit_callbacks(execute=True):
            sent = django_huyi_sms.send_bulk(numbers(3), TEXT)
        run_tasks(dummy_queue)
        assert bulk.send_batch(sent.pk, 0) == 0
    assert set(SmsLog.objects.values_list("status", flat=True)) == {"unknown"}
    assert len(django_huyi_sms.outbox) == 1


class Broken(LocmemBackend):
    def send(self, message):
        raise RuntimeError("a bug in a backend")


def test_a_backend_bug_makes_the_batch_unknown_and_is_logged(dummy_queue, django_capture_on_commit_callbacks, caplog):
    with override_settings(HUYI_SMS={"BACKEND": Broken}):
        with django_capture_on_commit_callbacks(execute=True):
            django_huyi_sms.send_bulk(numbers(2), TEXT)
        run_tasks(dummy_queue)
    assert set(SmsLog.objects.values_list("status", "provider_msg")) == {("unknown", "RuntimeError in backend")}
    assert "the backend raised" in caplog.text


# -- receipts: matched by smsid and number -------------------------------------------------------


class Known(LocmemBackend):
    smsid = "5000"

    def send(self, message):
        super().send(message)
        return SubmitResult(code=2, msg="提交成功", smsid=self.smsid)


def test_each_receipt_moves_only_its_own_number(client, dummy_queue, django_capture_on_commit_callbacks):
    mobiles = numbers(3)
    with override_settings(HUYI_SMS={"BACKEND": Known, "CALLBACK_TOKEN": "test-callback-token"}):
        with django_capture_on_commit_callbacks(execute=True):
            sent = django_huyi_sms.send_bulk(mobiles, TEXT)
        run_tasks(dummy_queue)
        assert set(sent.logs.values_list("smsid", flat=True)) == {"5000"}
        assert post_form(client, "receipt_push", receipt_fields("5000", mobile=mobiles[0])).content == b"success"
        post_form(client, "receipt_push", receipt_fields("5000", mobile=mobiles[2], code="0"))
        post_form(client, "receipt_push", receipt_fields("5000", mobile="13999999999"))  # not one of them
    statuses = dict(sent.logs.values_list("mobile", "status"))
    assert statuses == {mobiles[0]: "delivered", mobiles[1]: "submitted", mobiles[2]: "undelivered"}
    assert sent.progress()["delivered"] == 1


def test_receipts_that_beat_the_answer_are_applied_to_their_own_rows(client, dummy_queue, django_capture_on_commit_callbacks):
    mobiles = numbers(3)

    class EarlyReceipts(Known):
        smsid = "6000"

        def send(self, message):
            for mobile in message.mobiles[:2]:
                post_form(client, "receipt_push", receipt_fields("6000", mobile=mobile))
            return super().send(message)

    with override_settings(HUYI_SMS={"BACKEND": EarlyReceipts, "CALLBACK_TOKEN": "test-callback-token"}):
        with django_capture_on_commit_callbacks(execute=True):
            sent = django_huyi_sms.send_bulk(mobiles, TEXT)
        with Catcher(signals.sms_sent) as sent_signals:
            run_tasks(dummy_queue)
    statuses = dict(sent.logs.values_list("mobile", "status"))
    assert statuses == {mobiles[0]: "delivered", mobiles[1]: "delivered", mobiles[2]: "submitted"}
    assert not sent.logs.filter(receipt_waiting=True).exists()
    assert len(sent_signals.calls) == 3


def test_unknown_rows_of_a_batch_each_learn_the_smsid_from_their_receipt(client, dummy_queue, django_capture_on_commit_callbacks):
    mobiles = numbers(2)
    with override_settings(HUYI_SMS={"BACKEND": AnswerLost, "CALLBACK_TOKEN": "test-callback-token"}):
        with django_capture_on_commit_callbacks(execute=True):
            sent = django_huyi_sms.send_bulk(mobiles, TEXT)
        run_tasks(dummy_queue)
        for mobile in mobiles:
            post_form(client, "receipt_push", receipt_fields("7000", mobile=mobile))
    assert set(sent.logs.values_list("status", "smsid")) == {("delivered", "7000")}


# -- huyi_requeue hands a lost batch out whole ---------------------------------------------------


def test_requeue_hands_a_lost_batch_out_as_its_batch(dummy_queue, django_capture_on_commit_callbacks):
    with locmem(MARKETING={"BATCH_SIZE": 2}):
        with django_capture_on_commit_callbacks(execute=True):
            sent = django_huyi_sms.send_bulk(numbers(3), TEXT)
        dummy_queue.clear()  # the broker lost the tasks
        SmsLog.objects.update(dispatched_at=timezone.now() - timedelta(seconds=600))
        single = SmsLog.objects.create(mobile="13900139000", content=TEXT, dispatched_at=timezone.now() - timedelta(seconds=600))
        with django_capture_on_commit_callbacks(execute=True):
            result = sending.requeue(older_than=300)
        assert result.handed_out == 4
        handed = sorted(queued_batches(dummy_queue), key=repr)
        assert handed == sorted([([single.pk],), (sent.pk, 0), (sent.pk, 1)], key=repr)
        run_tasks(dummy_queue)
    assert sorted(m.mobile for m in django_huyi_sms.outbox) == sorted(
        [",".join(numbers(2)), numbers(3)[2], "13900139000"]
    )


def test_a_batch_whose_worker_died_mid_send_becomes_unknown(dummy_queue, django_capture_on_commit_callbacks):
    with locmem():
        with django_capture_on_commit_callbacks(execute=True):
            sent = django_huyi_sms.send_bulk(numbers(2), TEXT)
        past = timezone.now() - timedelta(seconds=600)
        sent.logs.update(claimed_at=past, attempts=1)  # claimed, and the worker never came back
        assert sending.requeue(older_than=300).unknown == 2
        run_tasks(dummy_queue)
    assert set(SmsLog.objects.values_list("status", flat=True)) == {"unknown"}
    assert django_huyi_sms.outbox == []


# -- its own endpoint, its own credentials, China time: the wire ---------------------------------


def test_marketing_goes_to_its_own_endpoint_with_its_own_account_at_china_time(
    fake_provider, django_capture_on_commit_callbacks
):
    fake_provider.answer_json(code=2, msg="提交成功", smsid="88001")
    marketing_url = fake_provider.url.replace("/webservice/sms.php", "/yx/webservice/sms.php")
    unused = f"http://127.0.0.1:{unused_port()}/webservice/sms.php"  # the sms product: must not be used
    settings = {
        "ACCOUNT": "C1",
        "API_KEY": "sms-key",
        "API_URL": unused,
        "PRODUCTS": {"marketing": {"ACCOUNT": "M1", "API_KEY": "marketing-key", "API_URL": marketing_url}},
        "BACKEND": "django_huyi_sms.backends.ihuyi.IhuyiBackend",
    }
    mobiles = numbers(4)
    optouts.opt_out(mobiles[2], OptOut.Reason.REPLIED)
    at = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    with override_settings(HUYI_SMS=settings), django_capture_on_commit_callbacks(execute=True):
        sent = django_huyi_sms.send_bulk(mobiles, PROMO, scheduled_at=at)
    (request,) = fake_provider.requests
    form = request.form
    assert request.path == "/yx/webservice/sms.php" and request.query["method"] == "Submit"
    assert form["account"] == "M1"
    assert form["mobile"] == f"{mobiles[0]},{mobiles[1]},{mobiles[3]}"
    assert form["content"] == PROMO + "回T退订"
    assert form["stime"] == "2030-01-01 20:00:00"
    signed = "M1" + "marketing-key" + form["mobile"] + form["content"] + form["time"]
    assert form["password"] == hashlib.md5(signed.encode()).hexdigest()
    assert set(sent.logs.values_list("status", "smsid")) == {("submitted", "88001")}
    assert Counter(sent.logs.values_list("mobile", flat=True)) == Counter([mobiles[0], mobiles[1], mobiles[3]])


def test_the_queue_runner_knows_the_batch_task():
    assert tasks._TASKS["send_batch"][2] is tasks._run_send_batch


def test_a_recipients_row_is_written_as_any_queued_send(django_capture_on_commit_callbacks, dummy_queue):
    before = timezone.now()
    with locmem():
        with django_capture_on_commit_callbacks(execute=True):
            sent = django_huyi_sms.send_bulk(["13800138000"], TEXT)
        log = sent.logs.get()
        queued = django_huyi_sms.enqueue_sms("13900139000", TEXT, product="marketing")
    for field in ("product", "content", "parts", "status", "smsid", "provider_code", "provider_msg", "receipt_code",
                  "receipt_msg", "purpose", "carries_code", "user_id", "resent_from_id", "claimed_at", "attempts",
                  "submitted_at", "delivered_at", "receipt_waiting"):
        assert getattr(log, field) == getattr(SmsLog.objects.get(pk=queued.pk), field), field
    assert before <= log.created_at == log.dispatched_at == log.updated_at <= timezone.now()
    assert (log.bulk_id, log.batch) == (sent.pk, 0)


def test_a_broker_that_is_down_loses_nothing(dummy_queue, django_capture_on_commit_callbacks, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks, "_enqueue", broken)
    with locmem(), django_capture_on_commit_callbacks(execute=True):
        sent = django_huyi_sms.send_bulk(numbers(3), TEXT)  # no exception reaches the caller
    assert "could not hand batch 0 of bulk send" in caplog.text and "huyi_requeue will" in caplog.text
    assert set(sent.logs.values_list("status", flat=True)) == {"queued"}  # huyi_requeue hands it out later
