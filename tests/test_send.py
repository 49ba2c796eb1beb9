"""send_sms(), get_balance(), add_template(): rows, statuses, signals, fail_silently."""

from __future__ import annotations

import pytest
from django.test import override_settings

import django_huyi_sms
from django_huyi_sms import signals
from django_huyi_sms.backends.locmem import LocmemBackend
from django_huyi_sms.exceptions import (
    HuyiAccountError,
    HuyiContentError,
    HuyiRecipientError,
    HuyiTransportError,
)
from django_huyi_sms.models import SmsLog, SmsTemplate

pytestmark = pytest.mark.django_db

CODE_TEXT = "您的验证码是：1234。请不要把验证码泄露给其他人。"
IHUYI = "django_huyi_sms.backends.ihuyi.IhuyiBackend"


class Catcher:
    def __init__(self, signal):
        self.calls = []
        self.signal = signal

    def __call__(self, sender, **kwargs):
        self.calls.append(kwargs)

    def __enter__(self):
        self.signal.connect(self)
        return self

    def __exit__(self, *exc):
        self.signal.disconnect(self)


def ihuyi_at(url, **extra):
    return override_settings(
        HUYI_SMS={"ACCOUNT": "C1", "API_KEY": "k", "API_URL": url, "BACKEND": IHUYI, **extra}
    )


def test_send_records_a_submitted_row_and_signals(django_user_model):
    user = django_user_model.objects.create_user("alice")
    with Catcher(signals.sms_sent) as sent:
        log = django_huyi_sms.send_sms("+86 138 0013 8000", CODE_TEXT, purpose="login", user=user)
    log.refresh_from_db()
    assert log.status == SmsLog.Status.SUBMITTED
    assert log.mobile == "13800138000"
    assert log.smsid and log.submitted_at and log.provider_code == 2
    assert (log.purpose, log.user, log.parts) == ("login", user, 1)
    assert [call["log"].pk for call in sent.calls] == [log.pk]
    assert [(m.mobile, m.content) for m in django_huyi_sms.outbox] == [("13800138000", CODE_TEXT)]


def test_a_full_width_number_is_stored_as_ascii_digits():
    log = django_huyi_sms.send_sms("1３８００１３８０００", CODE_TEXT)
    assert SmsLog.objects.get(pk=log.pk).mobile == "13800138000"
    assert django_huyi_sms.outbox[0].mobile == "13800138000"


def test_parts_are_counted_and_stored():
    log = django_huyi_sms.send_sms("13800138000", "验" * 135)
    assert SmsLog.objects.get(pk=log.pk).parts == 3


@pytest.mark.parametrize(
    "mobile, content, error, code",
    [
        ("12345", CODE_TEXT, HuyiRecipientError, 406),
        ("", CODE_TEXT, HuyiRecipientError, 403),
        ("13800138000", "", HuyiContentError, 404),
        ("13800138000", "😀", HuyiContentError, 4074),
        ("13800138000", "x" * 301, HuyiContentError, 4073),
        ("13800138000", "【x】hi", HuyiContentError, 4070),
        ("13800138000", "hi\x00there", HuyiContentError, None),  # PostgreSQL refuses NUL in text
        ("13800138000", "hi\x1b[31mthere", HuyiContentError, None),
    ],
)
@pytest.mark.parametrize("fail_silently", [False, True])
def test_invalid_input_raises_and_writes_nothing(mobile, content, error, code, fail_silently):
    with Catcher(signals.sms_failed) as failed, pytest.raises(error) as caught:
        django_huyi_sms.send_sms(mobile, content, fail_silently=fail_silently)
    assert caught.value.code == code
    assert SmsLog.objects.count() == 0
    assert django_huyi_sms.outbox == [] and failed.calls == []


@pytest.mark.parametrize("purpose", ["p" * 33, "x" * 200, "log\x00in"])
def test_a_purpose_that_does_not_fit_the_log_is_refused_before_anything_is_written(purpose):
    """Over 32 characters PostgreSQL refuses the row (a DataError) and SQLite keeps it whole: refuse first."""
    with Catcher(signals.sms_failed) as failed, pytest.raises(ValueError, match="purpose"):
        django_huyi_sms.send_sms("13800138000", CODE_TEXT, purpose=purpose, fail_silently=True)
    assert SmsLog.objects.count() == 0
    assert django_huyi_sms.outbox == [] and failed.calls == []


def test_a_purpose_of_32_characters_is_stored_whole():
    log = django_huyi_sms.send_sms("13800138000", CODE_TEXT, purpose="p" * 32)
    assert SmsLog.objects.get(pk=log.pk).purpose == "p" * 32


def test_provider_refusal_is_recorded_and_raised(fake_provider):
    fake_provider.answer_json(code=4051, msg="剩余条数不足", smsid="0")
    with ihuyi_at(fake_provider.url), Catcher(signals.sms_failed) as failed, pytest.raises(HuyiAccountError):
        django_huyi_sms.send_sms("13800138000", CODE_TEXT)
    log = SmsLog.objects.get()
    assert (log.status, log.provider_code, log.provider_msg, log.smsid) == ("failed", 4051, "剩余条数不足", "")
    assert len(failed.calls) == 1
    assert failed.calls[0]["log"].pk == log.pk and failed.calls[0]["error"].code == 4051


def test_fail_silently_records_but_does_not_raise(fake_provider):
    fake_provider.answer_json(code=4085, msg="同一手机号验证码短信发送超出【5】条", smsid="0")
    with ihuyi_at(fake_provider.url):
        log = django_huyi_sms.send_sms("13800138000", CODE_TEXT, fail_silently=True)
    assert log.status == SmsLog.Status.FAILED
    stored = SmsLog.objects.get(pk=log.pk)
    assert (stored.status, stored.provider_code) == ("failed", 4085)


def test_a_5xx_answer_is_unknown_raised_and_carries_the_row(fake_provider):
    """The request reached the provider's side and no reply came: it may have been sent."""
    fake_provider.status = 502
    with ihuyi_at(fake_provider.url), Catcher(signals.sms_failed) as failed:
        with Catcher(signals.sms_status_changed) as changed:
            with pytest.raises(HuyiTransportError) as caught:
                django_huyi_sms.send_sms("13800138000", CODE_TEXT)
    stored = SmsLog.objects.get()
    assert stored.status == "unknown" and stored.provider_code is None and "HTTP 502" in stored.provider_msg
    assert caught.value.may_have_been_sent and caught.value.log.pk == stored.pk
    assert failed.calls == []  # not a failure: a receiver that resends failures must not see it
    assert [(c["old_status"], c["new_status"], c["receipt"]) for c in changed.calls] == [("queued", "unknown", None)]


def test_a_row_moved_on_by_someone_else_is_not_moved_back():
    """The submitted update is conditional: a receipt that got there first wins."""

    class FastReceipt(LocmemBackend):
        def send(self, message):
            SmsLog.objects.filter(mobile=message.mobile).update(status=SmsLog.Status.DELIVERED)
            return super().send(message)

    with override_settings(HUYI_SMS={"BACKEND": FastReceipt}):
        log = django_huyi_sms.send_sms("13800138000", CODE_TEXT)
    assert log.status == SmsLog.Status.DELIVERED
    assert SmsLog.objects.get().status == SmsLog.Status.DELIVERED


def test_a_backend_bug_does_not_leave_the_row_queued():
    class Broken(LocmemBackend):
        def send(self, message):
            raise ZeroDivisionError

    with override_settings(HUYI_SMS={"BACKEND": Broken}), pytest.raises(ZeroDivisionError):
        django_huyi_sms.send_sms("13800138000", CODE_TEXT, fail_silently=True)
    # It may have raised after the request left: unknown, so nothing sends it again.
    assert SmsLog.objects.get().status == SmsLog.Status.UNKNOWN


def test_send_sms_takes_one_number_even_for_marketing():
    with pytest.raises(HuyiRecipientError) as caught:
        django_huyi_sms.send_sms("13800138000,13900139000", CODE_TEXT, product="marketing")
    assert caught.value.code == 406
    assert SmsLog.objects.count() == 0


def test_unknown_product_is_refused():
    with pytest.raises(ValueError, match="unknown product"):
        django_huyi_sms.send_sms("13800138000", CODE_TEXT, product="fax")
    assert SmsLog.objects.count() == 0


def test_get_balance_and_balance_low(fake_provider):
    fake_provider.answer_json(code=2, msg="查询成功", num=99)
    with ihuyi_at(fake_provider.url, LOW_BALANCE_THRESHOLD=100), Catcher(signals.balance_low) as low:
        assert django_huyi_sms.get_balance() == 99
    assert low.calls == [{"product": "sms", "balance": 99, "threshold": 100, "signal": signals.balance_low}]
    fake_provider.answer_json(code=2, msg="查询成功", num=100)
    with ihuyi_at(fake_provider.url, LOW_BALANCE_THRESHOLD=100), Catcher(signals.balance_low) as low:
        assert django_huyi_sms.get_balance() == 100
    assert low.calls == []


def test_product_overrides_choose_endpoint_and_credentials(fake_provider):
    fake_provider.answer_json(code=2, msg="查询成功", num=7)
    marketing = {"ACCOUNT": "M1", "API_KEY": "mk", "API_URL": fake_provider.url.replace("sms.php", "yx.php")}
    with ihuyi_at("http://127.0.0.1:9/never", PRODUCTS={"marketing": marketing}):
        assert django_huyi_sms.get_balance("marketing") == 7
    request = fake_provider.requests[0]
    assert request.path.endswith("yx.php") and request.form["account"] == "M1"


def test_add_template_records_a_pending_template(fake_provider):
    fake_provider.answer_json(code=2, msg="提交成功", templateid=321)
    with ihuyi_at(fake_provider.url):
        template = django_huyi_sms.add_template("您的验证码是：【变量】。")
    assert (template.templateid, template.status, template.content) == (321, "pending", "您的验证码是：【变量】。")
    assert SmsTemplate.objects.count() == 1


def test_add_template_refused_writes_nothing(fake_provider):
    fake_provider.answer_json(code=407, msg="短信内容含有敏感字符")
    with ihuyi_at(fake_provider.url), pytest.raises(HuyiContentError):
        django_huyi_sms.add_template("敏感")
    with pytest.raises(HuyiContentError):
        django_huyi_sms.add_template("  ")
    assert SmsTemplate.objects.count() == 0


def test_repr_and_str_mask_the_number():
    log = django_huyi_sms.send_sms("13800138000", CODE_TEXT)
    assert "13800138000" not in repr(log) and "138****8000" in repr(log)
    assert "138****8000" in str(log)


@pytest.mark.django_db
@pytest.mark.parametrize("content", ["", "   ", "您的验证码是：【变量】\x00"])
def test_add_template_refuses_empty_text_and_control_characters_before_any_call(content):
    with pytest.raises(HuyiContentError):
        django_huyi_sms.add_template(content)
    assert not SmsTemplate.objects.exists()
