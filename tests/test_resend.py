"""sending.resend(): a failed message sent again as a new row linked to the old one."""

from __future__ import annotations

import pytest
from django.test import override_settings

import django_huyi_sms
from django_huyi_sms import optouts, otp, sending
from django_huyi_sms.exceptions import HuyiAccountError, HuyiRecipientError
from django_huyi_sms.models import SmsLog

from .test_send import ihuyi_at

pytestmark = pytest.mark.django_db


def failed(**fields) -> SmsLog:
    values = {"mobile": "13800138000", "content": "【测试】您的订单已发货。", "status": SmsLog.Status.FAILED,
              "provider_code": 4051, "provider_msg": "剩余条数不足", "purpose": "order"}
    values.update(fields)
    return SmsLog.objects.create(**values)


def test_a_failed_message_is_sent_again_as_a_new_linked_row():
    old = failed()
    new = sending.resend(old)
    assert new.pk != old.pk and new.resent_from_id == old.pk
    assert new.status == SmsLog.Status.SUBMITTED and new.smsid
    assert (new.mobile, new.content, new.product, new.purpose) == (old.mobile, old.content, old.product, old.purpose)
    assert [m.content for m in django_huyi_sms.outbox] == [old.content]
    old.refresh_from_db()
    assert old.status == SmsLog.Status.FAILED  # the old row's story is not rewritten
    assert list(old.resends.all()) == [new]


def test_an_undelivered_message_may_be_resent_too():
    assert sending.resend(failed(status=SmsLog.Status.UNDELIVERED)).resent_from_id


@pytest.mark.parametrize("status", [SmsLog.Status.SUBMITTED, SmsLog.Status.DELIVERED, SmsLog.Status.QUEUED])
def test_a_message_that_did_not_fail_is_not_resent(status):
    with pytest.raises(sending.NotResendable):
        sending.resend(failed(status=status))
    assert django_huyi_sms.outbox == []


def test_a_message_is_resent_once_however_often_it_is_asked():
    old = failed()
    sending.resend(old)
    with pytest.raises(sending.NotResendable):
        sending.resend(old)
    assert len(django_huyi_sms.outbox) == 1 and old.resends.count() == 1


@pytest.mark.parametrize("purpose", ["login", "password_reset", "signup"])  # "signup": a site's own purpose
def test_a_one_time_code_is_never_sent_twice(purpose, fake_provider):
    fake_provider.answer_json(code=4051, msg="剩余条数不足", smsid="0")
    with ihuyi_at(fake_provider.url), pytest.raises(HuyiAccountError):
        otp.request_code("13800138000", purpose=purpose)
    log = SmsLog.objects.get()
    assert log.status == SmsLog.Status.FAILED and log.carries_code
    with pytest.raises(sending.NotResendable):
        sending.resend(log)  # its stored text has the code starred out: "您的验证码是：******"
    assert len(fake_provider.requests) == 1 and not SmsLog.objects.filter(resent_from=log).exists()


def test_any_message_sent_with_a_secret_is_marked_and_never_resent(fake_provider):
    fake_provider.answer_json(code=4051, msg="剩余条数不足", smsid="0")
    with ihuyi_at(fake_provider.url), pytest.raises(HuyiAccountError):
        django_huyi_sms.send_sms("13800138000", "【测试】您的临时密码是 Xy7#kq。", redact=["Xy7#kq"])
    log = SmsLog.objects.get()
    assert log.carries_code and "Xy7#kq" not in log.content
    with pytest.raises(sending.NotResendable):
        sending.resend(log)


def test_a_message_is_marked_by_what_it_carried_not_by_its_purpose():
    # A notification filed under a code purpose carried no code: it may be resent.
    old = failed(purpose="login", content="【测试】您的账户已登录。")
    assert not old.carries_code
    assert sending.resend(old).status == SmsLog.Status.SUBMITTED


def test_the_provider_refusing_the_resend_is_recorded_on_the_new_row(fake_provider):
    fake_provider.answer_json(code=4051, msg="剩余条数不足", smsid="0")
    with override_settings(HUYI_SMS={"ACCOUNT": "a", "API_KEY": "k", "API_URL": fake_provider.url}):
        new = sending.resend(failed())
    assert new.status == SmsLog.Status.FAILED and new.provider_code == 4051 and new.resent_from_id


def test_an_opted_out_number_gets_no_marketing_resend():
    optouts.opt_out("13800138000", "manual")
    with pytest.raises(HuyiRecipientError):
        sending.resend(failed(product="marketing"))
    assert not SmsLog.objects.filter(resent_from__isnull=False).exists()
