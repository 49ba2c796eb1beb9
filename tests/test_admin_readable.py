"""The admin says what it shows: purposes by label, neutral marks, field labels, time zones,
one masking rule per page, the dashboard in the index, one form markup."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime

import pytest
from django.test import override_settings
from django.urls import reverse

import django_huyi_sms
from django_huyi_sms import otp
from django_huyi_sms.models import OtpRecord, SmsLog, StatusReceipt, UpstreamReply
from django_huyi_sms.provider import CHINA

from .push_helpers import post_form, receipt_fields
from .test_admin_sends import log_row, make_staff

pytestmark = pytest.mark.django_db

MOBILE = "13800138000"
SENDS = "admin:huyi_sms_smslog_changelist"


def change_page(model, pk) -> str:
    return reverse(f"admin:huyi_sms_{model._meta.model_name}_change", args=[pk])


# -- purposes ---------------------------------------------------------------------------


def test_purposes_read_as_labels_in_the_filter_the_pages_and_the_export(admin_client):
    reset = log_row(purpose="password_reset")
    log_row(purpose="order_notice")  # a site's own purpose: shown as given
    page = admin_client.get(reverse(SENDS)).content.decode()
    assert re.search(r'href="\?purpose=password_reset"[^>]*>password reset</a>', page)
    assert re.search(r'href="\?purpose=order_notice"[^>]*>order_notice</a>', page)
    assert ">password_reset<" not in page
    detail = admin_client.get(change_page(SmsLog, reset.pk)).content.decode()
    assert re.search(r'field-purpose.*?<div class="readonly">password reset</div>', detail, re.S)
    response = admin_client.post(reverse(SENDS), {"action": "export_csv", "_selected_action": [reset.pk]})
    header, row = csv.reader(io.StringIO(b"".join(response.streaming_content).decode().lstrip("\ufeff")))
    assert row[header.index("purpose")] == "password reset"


def test_a_code_record_shows_its_purpose_by_label(admin_client):
    record = otp.request_code(MOBILE, purpose="verify_phone")
    listing = admin_client.get(reverse("admin:huyi_sms_otprecord_changelist")).content.decode()
    assert '<td class="field-purpose">phone verification</td>' in listing
    detail = admin_client.get(change_page(OtpRecord, record.pk)).content.decode()
    assert "phone verification" in detail and "verify_phone" not in detail


# -- marks --------------------------------------------------------------------------------


def test_a_receipt_that_is_no_duplicate_shows_no_red_cross_and_a_duplicate_a_neutral_tag(admin_client, client):
    log = django_huyi_sms.send_sms(MOBILE, "【测试】您的订单已发货。")
    post_form(client, "receipt_push", receipt_fields(log.smsid))
    post_form(client, "receipt_push", receipt_fields(log.smsid))  # a provider retry: a duplicate
    original, retry = StatusReceipt.objects.order_by("pk")
    assert (original.duplicate, retry.duplicate) == (False, True)
    pages = {
        "list": admin_client.get(reverse("admin:huyi_sms_statusreceipt_changelist")).content.decode(),
        "original": admin_client.get(change_page(StatusReceipt, original.pk)).content.decode(),
        "send": admin_client.get(change_page(SmsLog, log.pk)).content.decode(),
    }
    for name, page in pages.items():
        cells = re.findall(r'<(?:td|div) class="(?:field-duplicate|readonly)[^"]*">(.*?)</(?:td|div)>', page, re.S)
        assert not re.search(r'field-duplicate[^>]*>\s*<img', page), name  # Django's boolean icons
        assert 'alt="False"' not in page, name
        assert cells, name
    tag = '<span class="huyi-mark"'
    assert pages["list"].count(tag) == 1 and pages["send"].count(tag) == 1  # the retry's
    assert tag not in pages["original"]
    retry_page = admin_client.get(change_page(StatusReceipt, retry.pk)).content.decode()
    assert re.search(r'field-duplicate.*?<span class="huyi-mark"[^>]*>duplicate</span>', retry_page, re.S)


# -- labels -------------------------------------------------------------------------------


def test_no_page_labels_a_field_smsid_as_a_bare_identifier(admin_client, client):
    log = django_huyi_sms.send_sms(MOBILE, "【测试】您的订单已发货。")
    post_form(client, "receipt_push", receipt_fields(log.smsid))
    post_form(client, "reply_push", {"mobilephone": MOBILE, "content": "好", "smsid": log.smsid,
                                     "reply_time": "2026-11-25 10:01:00"})
    pages = [
        change_page(SmsLog, log.pk),
        change_page(StatusReceipt, StatusReceipt.objects.get().pk),
        change_page(UpstreamReply, UpstreamReply.objects.get().pk),
        reverse("admin:huyi_sms_statusreceipt_changelist"),
        reverse("admin:huyi_sms_upstreamreply_changelist"),
    ]
    for url in pages:
        page = admin_client.get(url).content.decode()
        assert "Smsid" not in page and "SMSID" not in page, url
        assert "Provider serial no. (smsid)" in page, url


# -- time zones ---------------------------------------------------------------------------


@override_settings(TIME_ZONE="Europe/London")
def test_the_providers_times_show_in_china_time_and_ours_name_the_sites_zone(admin_client, client):
    log = django_huyi_sms.send_sms(MOBILE, "【测试】您的订单已发货。")
    post_form(client, "receipt_push", receipt_fields(log.smsid, report_time="2026-11-25 10:01:00"))
    post_form(client, "reply_push", {"mobilephone": MOBILE, "content": "好", "smsid": log.smsid,
                                     "reply_time": "2026-11-25 10:02:00"})
    receipt = StatusReceipt.objects.get()
    assert receipt.report_time == datetime(2026, 11, 25, 10, 1, tzinfo=CHINA)
    # In London that receipt came at 02:01; the provider's console and push say 10:01.
    for url in (change_page(StatusReceipt, receipt.pk), reverse("admin:huyi_sms_statusreceipt_changelist"),
                change_page(SmsLog, log.pk)):
        page = admin_client.get(url).content.decode()
        assert "2026-11-25 10:01:00" in page and "02:01" not in page, url
        assert "(China time)" in page, url
    replies = admin_client.get(reverse("admin:huyi_sms_upstreamreply_changelist")).content.decode()
    assert "2026-11-25 10:02:00" in replies and "Reply time (China time)" in replies
    send = admin_client.get(change_page(SmsLog, log.pk)).content.decode()
    assert "Receipt time (China time)" in send and "Report time (China time)" in send
    assert "Times are in the site's time zone (Europe/London)" in send
    listing = admin_client.get(reverse(SENDS)).content.decode()
    assert "Created (Europe/London)" in listing


# -- one masking rule per page ------------------------------------------------------------


def heading_title_and_breadcrumb(page: str) -> list[str]:
    return [
        re.search(r"<title>(.*?)</title>", page, re.S).group(1),
        re.search(r"<h2>(.*?)</h2>", page, re.S).group(1),
        re.search(r'<li aria-current="page">(.*?)</li>', page, re.S).group(1),
    ]


@pytest.mark.parametrize("full", [True, False], ids=["with the permission", "without"])
def test_a_rows_heading_and_breadcrumb_show_the_number_as_its_fields_do(client, full):
    client.force_login(make_staff("viewer", *(["view_full_mobile"] if full else [])))
    log = django_huyi_sms.send_sms(MOBILE, "【测试】您的订单已发货。")
    post_form(client, "receipt_push", receipt_fields(log.smsid))
    record = otp.request_code("13900139000", purpose="login")
    shown, hidden = (MOBILE, "138****8000") if full else ("138****8000", MOBILE)
    for url in (change_page(SmsLog, log.pk), change_page(StatusReceipt, StatusReceipt.objects.get().pk)):
        page = client.get(url).content.decode()
        assert re.search(rf'field-mobile.*?<div class="readonly">{re.escape(shown)}</div>', page, re.S), url
        for place in heading_title_and_breadcrumb(page):
            assert shown in place and hidden not in place, (url, place)
    page = client.get(change_page(OtpRecord, record.pk)).content.decode()
    for place in heading_title_and_breadcrumb(page):
        assert ("13900139000" if full else "139****9000") in place


# -- the dashboard in the index -----------------------------------------------------------


def test_the_dashboard_is_listed_in_the_admin_index_and_the_apps_index(admin_client):
    entry = reverse("admin:huyi_sms_deliverydashboard_changelist")
    for url in (reverse("admin:index"), reverse("admin:app_list", args=["huyi_sms"])):
        page = admin_client.get(url).content.decode()
        assert re.search(rf'<a href="{entry}"[^>]*>Delivery dashboard</a>', page), url
    response = admin_client.get(entry)
    assert response.status_code == 302 and response["Location"] == reverse("admin:huyi_sms_smslog_dashboard")
    assert admin_client.get(response["Location"]).status_code == 200


def test_the_dashboard_entry_follows_the_right_to_view_the_sends(client):
    from django.contrib.auth.models import User

    client.force_login(make_staff())  # may view every list
    assert "Delivery dashboard" in client.get(reverse("admin:index")).content.decode()
    stranger = User.objects.create_user("stranger", password="pw", is_staff=True)
    client.force_login(stranger)
    assert "Delivery dashboard" not in client.get(reverse("admin:index")).content.decode()
    assert client.get(reverse("admin:huyi_sms_deliverydashboard_changelist")).status_code == 403


# -- one form markup ----------------------------------------------------------------------


def test_both_one_page_forms_are_drawn_by_one_include(admin_client):
    include = "admin/huyi_sms/includes/form.html"
    for url, form_id, button in (
        (reverse("admin:huyi_sms_smstemplate_add"), "huyi-submit-template", "Submit for review"),
        (reverse("admin:huyi_sms_smslog_send_template"), "huyi-send-template", "Send"),
    ):
        response = admin_client.get(url)
        assert include in [template.name for template in response.templates], url
        page = response.content.decode()
        assert f'<form method="post" id="{form_id}">' in page
        assert f'<input type="submit" class="default" value="{button}">' in page
        assert 'class="module aligned"' in page
