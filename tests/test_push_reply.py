"""Upstream replies and template reviews: stored once, linked, opt-outs, signals."""

from __future__ import annotations

import pytest

import django_huyi_sms
from django_huyi_sms import signals
from django_huyi_sms.exceptions import HuyiRecipientError
from django_huyi_sms.models import OptOut, SmsLog, SmsTemplate, UpstreamReply

from .push_helpers import post_form
from .test_send import Catcher

pytestmark = pytest.mark.django_db


def reply_fields(content, mobile="13800138000", smsid="", reply_time="2026-11-25 10:01:00"):
    return {"mobilephone": mobile, "content": content, "smsid": smsid, "reply_time": reply_time}


def test_a_reply_is_stored_linked_and_signalled_once(client):
    log = django_huyi_sms.send_sms("13800138000", "您的订单已发货，回复1确认")
    with Catcher(signals.reply_received) as received:
        for _ in range(3):  # the provider's retries
            response = post_form(client, "reply_push", reply_fields("1", smsid=log.smsid))
            assert response.content == b"success"
    reply = UpstreamReply.objects.get()
    assert (reply.mobile, reply.content, reply.log, reply.is_opt_out) == ("13800138000", "1", log, False)
    assert [call["reply"].pk for call in received.calls] == [reply.pk]
    assert OptOut.objects.count() == 0


@pytest.mark.parametrize("word", ["T", "td", " T D ", "n", "退订", "TD\n", "ＴＤ", "ｔｄ", "Ｎ", "\u3000ＴＤ\u3000", "Ｔ Ｄ"])
def test_opt_out_words_add_the_number(client, word):
    assert post_form(client, "reply_push", reply_fields(word)).content == b"success"
    optout = OptOut.objects.get()
    assert (optout.mobile, optout.reason) == ("13800138000", "replied")
    assert optout.reply == UpstreamReply.objects.get()


@pytest.mark.parametrize("word", ["TDD", "不要退订", "1", "t d x", "ＴＤＤ"])
def test_other_words_do_not_opt_out(client, word):
    post_form(client, "reply_push", reply_fields(word))
    assert OptOut.objects.count() == 0


def test_marketing_sends_skip_opted_out_numbers(client):
    django_huyi_sms.send_sms("13800138000", "新品上市 回T退订", product="marketing")
    post_form(client, "reply_push", reply_fields("TD"))
    with pytest.raises(HuyiRecipientError) as caught:
        django_huyi_sms.send_sms("13800138000", "又一条促销 回T退订", product="marketing")
    assert caught.value.code == 4030
    assert SmsLog.objects.count() == 1
    # Verification codes still go through: opting out is about marketing.
    assert django_huyi_sms.send_sms("13800138000", "您的验证码是：1234。").status == "submitted"


def test_a_provider_blacklisting_adds_an_opt_out(fake_provider, settings):
    fake_provider.answer_json(code=4030, msg="手机号码已被列入黑名单", smsid="0")
    settings.HUYI_SMS = {
        "ACCOUNT": "C1", "API_KEY": "k", "API_URL": fake_provider.url,
        "BACKEND": "django_huyi_sms.backends.ihuyi.IhuyiBackend",
    }
    django_huyi_sms.send_sms("13800138000", "hello", fail_silently=True)
    assert OptOut.objects.get().reason == "blacklisted"


def test_template_review_updates_the_template_once(client):
    template = django_huyi_sms.add_template("您的验证码是：【变量】。")
    fields = {"code": "2", "msg": "审核通过", "templateid": str(template.templateid)}
    with Catcher(signals.template_reviewed) as reviewed:
        for _ in range(2):
            assert post_form(client, "template_push", fields).content == b"success"
    template.refresh_from_db()
    assert (template.status, template.review_msg) == ("approved", "审核通过")
    assert template.reviewed_at is not None
    assert len(reviewed.calls) == 1


def test_a_rejection_is_recorded(client):
    template = django_huyi_sms.add_template("内容【变量】")
    post_form(client, "template_push", {"code": "0", "msg": "签名不规范", "templateid": str(template.templateid)})
    template.refresh_from_db()
    assert (template.status, template.review_msg) == ("rejected", "签名不规范")


def test_a_review_of_a_template_submitted_elsewhere_is_kept(client):
    post_form(client, "template_push", {"code": "2", "msg": "ok", "templateid": "4242"})
    template = SmsTemplate.objects.get()
    assert (template.templateid, template.status) == (4242, "approved")
