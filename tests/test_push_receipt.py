"""Delivery-receipt pushes: auth, matching, the forward-only state machine, early receipts."""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction
from django.test import override_settings

import django_huyi_sms
from django_huyi_sms import signals
from django_huyi_sms.backends.locmem import LocmemBackend
from django_huyi_sms.models import SmsLog, StatusReceipt
from django_huyi_sms.receipts import ReceiptEvent, apply_receipt

from .push_helpers import TOKEN, post_form, receipt_fields
from .test_send import Catcher

pytestmark = pytest.mark.django_db

TEXT = "您的验证码是：1234。请不要把验证码泄露给其他人。"


def sent(mobile="13800138000"):
    return django_huyi_sms.send_sms(mobile, TEXT)


def test_a_receipt_marks_the_send_delivered(client):
    log = sent()
    with Catcher(signals.sms_status_changed) as changed:
        response = post_form(client, "receipt_push", receipt_fields(log.smsid))
    assert response.status_code == 200
    assert response.content == b"success"
    assert response["Content-Type"].startswith("text/plain")
    log.refresh_from_db()
    assert log.status == SmsLog.Status.DELIVERED
    assert (log.receipt_code, log.receipt_msg) == ("2", "DELIVRD")
    assert log.delivered_at == datetime(2026, 11, 25, 10, 0, 5, tzinfo=ZoneInfo("Asia/Shanghai"))
    receipt = StatusReceipt.objects.get()
    assert receipt.log == log and receipt.raw["report_time"] == "2026-11-25 10:00:05"
    assert [(c["old_status"], c["new_status"]) for c in changed.calls] == [("submitted", "delivered")]


def test_a_failure_receipt_marks_it_undelivered(client):
    log = sent()
    post_form(client, "receipt_push", receipt_fields(log.smsid, code="0", msg="MK:0001"))
    log.refresh_from_db()
    assert (log.status, log.receipt_code, log.receipt_msg) == ("undelivered", "0", "MK:0001")


def test_retries_are_recorded_but_change_nothing_twice(client):
    log = sent()
    with Catcher(signals.sms_status_changed) as changed:
        for _ in range(3):
            assert post_form(client, "receipt_push", receipt_fields(log.smsid)).content == b"success"
    assert len(changed.calls) == 1
    assert StatusReceipt.objects.filter(log=log).count() == 3
    assert list(StatusReceipt.objects.order_by("id").values_list("duplicate", flat=True)) == [False, True, True]


def test_a_late_contradicting_receipt_never_moves_the_status_back(client):
    log = sent()
    post_form(client, "receipt_push", receipt_fields(log.smsid, code="2"))
    with Catcher(signals.sms_status_changed) as changed:
        post_form(client, "receipt_push", receipt_fields(log.smsid, code="0", report_time="2026-11-25 10:09:00"))
    log.refresh_from_db()
    assert log.status == "delivered" and changed.calls == []


def test_a_receipt_for_a_failed_send_changes_nothing(client):
    log = sent()
    SmsLog.objects.filter(pk=log.pk).update(status=SmsLog.Status.FAILED)
    post_form(client, "receipt_push", receipt_fields(log.smsid))
    log.refresh_from_db()
    assert log.status == "failed"


def test_a_receipt_before_its_send_is_kept_and_applied_when_the_smsid_is_recorded(client):
    """The provider's push beats our own write of the smsid: nothing is lost."""

    class FastProvider(LocmemBackend):
        def send(self, message):
            result = super().send(message)
            # The receipt lands between the provider's HTTP reply and our UPDATE of the row.
            response = post_form(client, "receipt_push", receipt_fields(result.smsid, mobile=message.mobile))
            assert response.content == b"success"
            return result

    with override_settings(HUYI_SMS={"BACKEND": FastProvider, "CALLBACK_TOKEN": TOKEN}):
        with Catcher(signals.sms_status_changed) as changed:
            log = sent()
    assert log.status == "delivered"
    assert SmsLog.objects.get().status == "delivered"
    assert StatusReceipt.objects.get().log_id == log.pk
    assert len(changed.calls) == 1


class EarlyReceiptProvider(LocmemBackend):
    """Pushes the receipt (through the real endpoint) before returning the provider's reply."""

    client = None

    def send(self, message):
        result = super().send(message)
        response = post_form(self.client, "receipt_push", receipt_fields(result.smsid, mobile=message.mobile))
        assert response.content == b"success"
        return result


def test_an_early_receipt_announces_delivery_after_the_send(client):
    """Receivers see sms_sent (status submitted) before sms_status_changed(submitted → delivered)."""
    events = []

    def on_sent(sender, log, **kwargs):
        events.append(("sms_sent", log.pk, SmsLog.objects.get(pk=log.pk).status))

    def on_changed(sender, log, old_status, new_status, **kwargs):
        events.append(("sms_status_changed", log.pk, f"{old_status}->{new_status}"))

    EarlyReceiptProvider.client = client
    signals.sms_sent.connect(on_sent)
    signals.sms_status_changed.connect(on_changed)
    try:
        with override_settings(HUYI_SMS={"BACKEND": EarlyReceiptProvider, "CALLBACK_TOKEN": TOKEN}):
            log = sent()
    finally:
        signals.sms_sent.disconnect(on_sent)
        signals.sms_status_changed.disconnect(on_changed)
    assert events == [("sms_sent", log.pk, "submitted"), ("sms_status_changed", log.pk, "submitted->delivered")]
    assert SmsLog.objects.get().status == "delivered"


def test_an_early_receipt_is_applied_even_if_an_sms_sent_receiver_fails(client):
    def broken(sender, **kwargs):
        raise RuntimeError("a receiver's bug")

    EarlyReceiptProvider.client = client
    signals.sms_sent.connect(broken)
    try:
        with override_settings(HUYI_SMS={"BACKEND": EarlyReceiptProvider, "CALLBACK_TOKEN": TOKEN}):
            with pytest.raises(RuntimeError):
                sent()
    finally:
        signals.sms_sent.disconnect(broken)
    assert SmsLog.objects.get().status == "delivered"
    assert StatusReceipt.objects.get().log_id == SmsLog.objects.get().pk


def test_a_receipt_for_an_unknown_smsid_waits(client):
    assert post_form(client, "receipt_push", receipt_fields("99999")).content == b"success"
    receipt = StatusReceipt.objects.get()
    assert receipt.log is None


def test_marketing_receipts_match_by_smsid_and_number():
    first = SmsLog.objects.create(product="marketing", mobile="13800138000", content="x", smsid="77", status="submitted")
    second = SmsLog.objects.create(product="marketing", mobile="13900139000", content="x", smsid="77", status="submitted")
    china = ZoneInfo("Asia/Shanghai")
    apply_receipt(ReceiptEvent("77", "13900139000", "0", "UNDELIV", datetime(2026, 1, 1, tzinfo=china)))
    apply_receipt(ReceiptEvent("77", "13800138000", "2", "DELIVRD", datetime(2026, 1, 1, tzinfo=china)))
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("delivered", "undelivered")


@pytest.mark.parametrize(
    "token, settings, status",
    [
        (None, {}, 403),
        ("wrong", {}, 403),
        (TOKEN[:-1], {}, 403),
        (TOKEN, {"CALLBACK_TOKEN": ""}, 403),
        ("", {"CALLBACK_TOKEN": ""}, 403),
        (TOKEN, {"CALLBACK_ALLOWED_IPS": ["10.0.0.0/8"]}, 403),
        (TOKEN, {"CALLBACK_ALLOWED_IPS": ["127.0.0.1"]}, 200),
    ],
)
def test_callers_without_the_token_or_from_elsewhere_are_refused(client, caplog, token, settings, status):
    log = sent()
    with override_settings(HUYI_SMS={"BACKEND": "django_huyi_sms.backends.locmem.LocmemBackend",
                                     "CALLBACK_TOKEN": TOKEN, **settings}):
        with caplog.at_level(logging.WARNING, logger="django_huyi_sms.pushes"):
            response = post_form(client, "receipt_push", receipt_fields(log.smsid), token=token)
    assert response.status_code == status
    if status == 403:
        assert StatusReceipt.objects.count() == 0
        assert "refused receipt push" in caplog.text
        assert TOKEN not in caplog.text and TOKEN[:-1] not in caplog.text
    else:
        assert StatusReceipt.objects.count() == 1


@pytest.mark.parametrize(
    "settings, reason",
    [
        ({"CALLBACK_PROXY_COUNT": "abc"}, "CALLBACK_PROXY_COUNT is not a whole number"),
        ({"CALLBACK_PROXY_COUNT": -1}, "CALLBACK_PROXY_COUNT is not a whole number"),
        ({"CALLBACK_PROXY_COUNT": 1.5}, "CALLBACK_PROXY_COUNT is not a whole number"),
        ({"CALLBACK_ALLOWED_IPS": "127.0.0.1"}, "CALLBACK_ALLOWED_IPS is not a list"),
        ({"CALLBACK_ALLOWED_IPS": "127.0.0.1", "CALLBACK_PROXY_COUNT": "1"}, "CALLBACK_PROXY_COUNT"),
    ],
)
def test_invalid_push_settings_refuse_every_push_with_an_error_never_a_500(client, caplog, settings, reason):
    log = sent()
    with override_settings(HUYI_SMS={"CALLBACK_TOKEN": TOKEN, **settings}):
        with caplog.at_level(logging.ERROR, logger="django_huyi_sms.pushes"):
            response = post_form(client, "receipt_push", receipt_fields(log.smsid), HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert response.status_code == 403
    assert reason in response.content.decode()
    assert reason in caplog.text and "every push is refused" in caplog.text
    assert StatusReceipt.objects.count() == 0


def test_a_bad_entry_in_the_allow_list_allows_nobody_but_the_others_still_work(client, caplog):
    log = sent()
    with override_settings(HUYI_SMS={"CALLBACK_TOKEN": TOKEN, "CALLBACK_ALLOWED_IPS": ["nonsense", 5, "127.0.0.1"]}):
        with caplog.at_level(logging.ERROR, logger="django_huyi_sms.pushes"):
            assert post_form(client, "receipt_push", receipt_fields(log.smsid)).status_code == 200
    assert "'nonsense' is not an address" in caplog.text


def test_a_trusted_proxys_forwarded_address_is_used(client):
    settings = {
        "CALLBACK_TOKEN": TOKEN,
        "CALLBACK_ALLOWED_IPS": ["203.0.113.0/24"],
        "CALLBACK_PROXY_COUNT": 1,
    }
    log = sent()
    with override_settings(HUYI_SMS=settings):
        spoofed = post_form(
            client, "receipt_push", receipt_fields(log.smsid), HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.1"
        )
        honest = post_form(
            client, "receipt_push", receipt_fields(log.smsid), HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.9"
        )
    assert (spoofed.status_code, honest.status_code) == (403, 200)


def test_the_system_check_warns_while_the_token_is_empty():
    from django_huyi_sms.checks import check_settings

    with override_settings(HUYI_SMS={"CALLBACK_TOKEN": ""}):
        assert "huyi_sms.W002" in [m.id for m in check_settings()]
    with override_settings(HUYI_SMS={"CALLBACK_TOKEN": "x" * 32}):
        assert "huyi_sms.W002" not in [m.id for m in check_settings()]


def test_json_pushes_are_accepted_too(client):
    log = sent()
    response = client.post(
        f"/sms/push/receipt/?token={TOKEN}", data=receipt_fields(log.smsid), content_type="application/json"
    )
    assert response.content == b"success"
    log.refresh_from_db()
    assert log.status == "delivered"


def test_get_is_not_a_push(client):
    assert client.get(f"/sms/push/receipt/?token={TOKEN}").status_code == 405


def test_the_database_refuses_a_second_original():
    moment = datetime(2026, 11, 25, tzinfo=ZoneInfo("Asia/Shanghai"))
    fields = {"smsid": "1", "mobile": "13800138000", "code": "2", "report_time": moment}
    StatusReceipt.objects.create(**fields)
    StatusReceipt.objects.create(**fields, duplicate=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        StatusReceipt.objects.create(**fields)
