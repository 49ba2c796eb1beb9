"""The other lists: receipts, replies, opt-outs, templates (submitted from the admin) and one-time codes."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

import django_huyi_sms
from django_huyi_sms import otp
from django_huyi_sms.models import OptOut, OtpRecord, SmsTemplate, StatusReceipt, UpstreamReply

from .push_helpers import post_form, receipt_fields
from .test_admin_sends import make_staff

pytestmark = pytest.mark.django_db


def changelist(model) -> str:
    return reverse(f"admin:huyi_sms_{model._meta.model_name}_changelist")


def test_receipts_and_replies_are_found_by_smsid_or_number_and_are_read_only(admin_client, client):
    log = django_huyi_sms.send_sms("13800138000", "【测试】您的订单已发货。")
    post_form(client, "receipt_push", receipt_fields(log.smsid))
    post_form(client, "reply_push", {"mobilephone": "13800138000", "content": "好的", "smsid": log.smsid,
                                     "reply_time": "2026-11-25 10:01:00"})
    post_form(client, "receipt_push", receipt_fields("999", mobile="13900139000"))
    for model in (StatusReceipt, UpstreamReply):
        for term in (log.smsid, "13800138000"):
            found = admin_client.get(changelist(model), {"q": term}).context["cl"].result_list
            assert [row.smsid for row in found] == [log.smsid], (model, term)
        row = model.objects.filter(smsid=log.smsid).get()
        assert admin_client.post(reverse(f"admin:huyi_sms_{model._meta.model_name}_delete", args=[row.pk])).status_code == 403
        assert admin_client.get(reverse(f"admin:huyi_sms_{model._meta.model_name}_add")).status_code == 403


def test_the_reply_page_masks_the_number_in_the_raw_push(client):
    log = django_huyi_sms.send_sms("13800138000", "【测试】您的订单已发货。")
    post_form(client, "reply_push", {"mobilephone": "13800138000", "content": "TD", "smsid": log.smsid,
                                     "reply_time": "2026-11-25 10:01:00"})
    client.force_login(make_staff())
    reply = UpstreamReply.objects.get()
    for url in (changelist(UpstreamReply), reverse("admin:huyi_sms_upstreamreply_change", args=[reply.pk]),
                changelist(OptOut)):
        page = client.get(url).content.decode()
        assert "13800138000" not in page and "138****8000" in page, url


def test_staff_add_an_opt_out_through_receipts_and_see_it_masked(admin_client):
    response = admin_client.post(reverse("admin:huyi_sms_optout_add"), {"mobile": "+86 139-0013-9000"})
    assert response.status_code == 302
    optout = OptOut.objects.get()
    assert (optout.mobile, optout.reason) == ("13900139000", OptOut.Reason.MANUAL)
    again = admin_client.post(reverse("admin:huyi_sms_optout_add"), {"mobile": "13900139000"})
    assert again.status_code == 200 and OptOut.objects.count() == 1  # already there: a form error
    bad = admin_client.post(reverse("admin:huyi_sms_optout_add"), {"mobile": "12345"})
    assert "Not a valid mobile number." in bad.content.decode()
    found = admin_client.get(changelist(OptOut), {"q": "13900139000"}).context["cl"].result_list
    assert list(found) == [optout]


def test_a_template_is_submitted_to_the_provider_from_the_admin_and_shows_its_review(admin_client, client):
    add = reverse("admin:huyi_sms_smstemplate_add")
    assert admin_client.get(add).status_code == 200
    response = admin_client.post(add, {"product": "sms", "content": "您的验证码是：【变量】。"}, follow=True)
    template = SmsTemplate.objects.get()
    assert template.status == SmsTemplate.Status.PENDING and template.templateid
    assert f"Template submitted for review as #{template.templateid}." in response.content.decode()
    assert "huyi-status-pending" in admin_client.get(changelist(SmsTemplate)).content.decode()
    post_form(client, "template_push", {"code": "0", "msg": "含有营销词汇", "templateid": str(template.templateid)})
    page = admin_client.get(changelist(SmsTemplate)).content.decode()
    assert "huyi-status-rejected" in page and "含有营销词汇" in page
    found = admin_client.get(changelist(SmsTemplate), {"q": str(template.templateid)}).context["cl"].result_list
    assert list(found) == [template]
    assert list(admin_client.get(changelist(SmsTemplate), {"q": "abc"}).context["cl"].result_list) == []


def test_the_provider_refusing_a_template_is_shown_on_the_form(admin_client, fake_provider):
    from django.test import override_settings

    fake_provider.answer_json(code=407, msg="短信内容含有敏感字符", templateid=0)
    with override_settings(HUYI_SMS={"ACCOUNT": "a", "API_KEY": "k", "API_URL": fake_provider.url}):
        response = admin_client.post(reverse("admin:huyi_sms_smstemplate_add"),
                                     {"product": "sms", "content": "赌博【变量】"})
    assert response.status_code == 200
    assert "The provider did not accept the template" in response.content.decode()
    assert "407" in response.content.decode()
    assert not SmsTemplate.objects.exists()


def test_staff_without_the_add_right_cannot_submit_templates(client):
    client.force_login(make_staff())
    assert client.get(reverse("admin:huyi_sms_smstemplate_add")).status_code == 403
    assert client.get(changelist(SmsTemplate)).status_code == 200


def test_one_time_code_records_never_show_the_code_its_hash_or_salt(admin_client):
    record = otp.request_code("13800138000", purpose="login")
    record.refresh_from_db()
    code = django_huyi_sms.outbox[-1].content.split("：")[1][:6]
    assert code.isdigit() and len(code) == 6
    pages = [admin_client.get(changelist(OtpRecord)).content.decode(),
             admin_client.get(changelist(OtpRecord), {"q": "13800138000"}).content.decode(),
             admin_client.get(reverse("admin:huyi_sms_otprecord_change", args=[record.pk])).content.decode(),
             admin_client.get(changelist(django_huyi_sms.models.SmsLog)).content.decode(),
             admin_client.get(reverse("admin:huyi_sms_smslog_change", args=[record.sms_log_id])).content.decode()]
    for page in pages:
        assert record.code_hash not in page and record.salt not in page
        assert code not in page
    assert "Code hash" not in pages[2] and "Salt" not in pages[2]
    assert admin_client.get(reverse("admin:huyi_sms_otprecord_add")).status_code == 403
    assert record.expires_at > timezone.now()
