"""Every admin page of the app renders, with a send, its receipt and its reply."""

from __future__ import annotations

import pytest
from django.urls import reverse

import django_huyi_sms
from django_huyi_sms.models import OptOut, SmsLog, SmsTemplate, StatusReceipt, UpstreamReply

from .push_helpers import post_form, receipt_fields

pytestmark = pytest.mark.django_db


def test_the_admin_shows_a_send_with_its_receipt_and_reply(admin_client, client):
    log = django_huyi_sms.send_sms("13800138000", "您的验证码是：1234。")
    post_form(client, "receipt_push", receipt_fields(log.smsid))
    post_form(client, "reply_push", {"mobilephone": "13800138000", "content": "TD", "smsid": log.smsid,
                                     "reply_time": "2026-11-25 10:01:00"})
    django_huyi_sms.add_template("模板【变量】")
    listing = admin_client.get(reverse("admin:huyi_sms_smslog_changelist"))
    assert listing.status_code == 200
    # A superuser has every permission, view_full_mobile included (test_admin_sends.py covers the masking).
    assert b"13800138000" in listing.content
    found = admin_client.get(reverse("admin:huyi_sms_smslog_changelist"), {"q": log.smsid})
    assert found.context["cl"].result_list[0] == log
    detail = admin_client.get(reverse("admin:huyi_sms_smslog_change", args=[log.pk]))
    assert detail.status_code == 200
    assert b"DELIVRD" in detail.content and b"TD" in detail.content
    for model in (StatusReceipt, UpstreamReply, OptOut, SmsTemplate, SmsLog):
        url = reverse(f"admin:huyi_sms_{model._meta.model_name}_changelist")
        assert admin_client.get(url).status_code == 200, url
    assert admin_client.post(reverse("admin:huyi_sms_smslog_delete", args=[log.pk])).status_code == 403
    assert SmsLog.objects.filter(pk=log.pk).exists()
