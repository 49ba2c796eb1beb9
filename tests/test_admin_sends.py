"""The sends list: what an operator sees, who sees whole numbers, exact search, filters, read-only."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

import django_huyi_sms
from django_huyi_sms import otp
from django_huyi_sms.models import SmsLog

from .push_helpers import post_form, receipt_fields

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:huyi_sms_smslog_changelist"


def make_staff(username: str = "operator", *codenames: str) -> User:
    """A staff user who may view every model of the app, plus ``codenames``."""
    user = User.objects.create_user(username, password="pw", is_staff=True)
    perms = Permission.objects.filter(content_type__app_label="huyi_sms", codename__startswith="view_").exclude(
        codename="view_full_mobile"
    )
    user.user_permissions.add(*perms)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="huyi_sms", codename__in=codenames))
    return user


@pytest.fixture
def staff_client(client):
    client.force_login(make_staff())
    return client


def log_row(**fields) -> SmsLog:
    defaults = {"mobile": "13800138000", "content": "【测试】您的订单已发货。", "status": SmsLog.Status.SUBMITTED}
    defaults.update(fields)
    return SmsLog.objects.create(**defaults)


def test_the_list_shows_time_badge_product_and_excerpt_and_explains_each_outcome(admin_client):
    submitted = timezone.now() - timedelta(minutes=5)
    log_row(
        status=SmsLog.Status.DELIVERED,
        smsid="9001",
        provider_code=2,
        provider_msg="提交成功",
        parts=2,
        submitted_at=submitted,
        delivered_at=submitted + timedelta(seconds=65),
        content="【测试】" + "很长的通知" * 20,
    )
    log_row(status=SmsLog.Status.FAILED, provider_code=4085, provider_msg="同一手机号验证码短信发送超出5条",
            product="international", mobile="44 7400123456")
    log_row(status=SmsLog.Status.UNDELIVERED, receipt_code="UNDELIV", receipt_msg="空号", product="voice_notice")
    page = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert 'class="huyi-badge huyi-status-delivered"' in page
    assert "#198754" in page  # delivered is green
    # Short product names in the column, the whole name in its title (and in the filter).
    assert '<span class="huyi-product-sms" title="Verification / notification SMS">SMS</span>' in page
    assert '<span class="huyi-product-international" title="International SMS">Intl. SMS</span>' in page
    assert '<span class="huyi-product-voice_notice" title="Voice notice">Voice notice</span>' in page
    assert "【测试】很长的通知很长的通知" in page and "很长的通知" * 20 not in page  # an excerpt, not the text
    # Under each badge, what explains it: how fast it arrived, the receipt, the provider's refusal.
    assert ">in 1 min 5 s</span>" in page
    assert ">UNDELIV 空号</span>" in page
    assert 'title="4085 同一手机号验证码短信发送超出5条"' in page
    # Billing parts and the submit and receipt times are on the message's page, not in the list.
    assert "field-parts" not in page and "field-submitted_at" not in page


def test_a_staff_user_without_the_permission_sees_masked_numbers_everywhere(staff_client, client):
    log = django_huyi_sms.send_sms("13800138000", "【测试】您的订单已发货。")
    post_form(client, "receipt_push", receipt_fields(log.smsid))
    listing = staff_client.get(reverse(CHANGELIST))
    assert listing.status_code == 200
    assert b"138****8000" in listing.content and b"13800138000" not in listing.content
    detail = staff_client.get(reverse("admin:huyi_sms_smslog_change", args=[log.pk]))
    assert b"138****8000" in detail.content and b"13800138000" not in detail.content
    receipt = log.receipts.get()
    receipt_page = staff_client.get(reverse("admin:huyi_sms_statusreceipt_change", args=[receipt.pk]))
    assert receipt_page.status_code == 200
    # Not even in the raw push as it came.
    assert b"13800138000" not in receipt_page.content and b"138****8000" in receipt_page.content


def test_the_permission_shows_whole_numbers(client):
    client.force_login(make_staff("supervisor", "view_full_mobile"))
    log_row()
    assert b"13800138000" in client.get(reverse(CHANGELIST)).content


def test_a_code_request_shows_no_code_in_the_list_the_page_or_the_export(admin_client):
    # The code is starred out where the row is written (send_sms(redact=[code])); the admin shows the row as is.
    record = otp.request_code("13800138000", purpose="login")
    record.refresh_from_db()
    code = re.search(r"\d{4,8}", django_huyi_sms.outbox[-1].content).group()  # what the person got
    plain = log_row(content="【测试】订单 12345678 已发货。")
    page = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert code not in page and "*" * len(code) in page
    assert "12345678" in page  # an ordinary notification keeps its numbers
    detail = admin_client.get(reverse("admin:huyi_sms_smslog_change", args=[record.sms_log_id])).content.decode()
    assert code not in detail and "*" * len(code) in detail
    # Why it cannot be resent: marked, neutrally.
    assert re.search(r'field-carries_code.*?<span class="huyi-mark"[^>]*>carries a code</span>', detail, re.S)
    response = admin_client.post(
        reverse(CHANGELIST), {"action": "export_csv", "_selected_action": [record.sms_log_id, plain.pk]}
    )
    body = b"".join(response.streaming_content).decode("utf-8")
    header, *rows = csv.reader(io.StringIO(body.lstrip("\ufeff")))
    contents = sorted(row[header.index("content")] for row in rows)
    assert len(contents) == 2 and code not in body
    assert "*" * len(code) in contents[1] and "12345678" in contents[0]


@pytest.mark.parametrize(
    "term",
    [
        "13800138000",
        "+86 138 0013 8000",
        "8613800138000",
        "0086-138-0013-8000",
        "１３８００１３８０００",  # full-width digits, as a Chinese input method types them
        "＋８６ １３８ ００１３ ８０００",
        "777001",
    ],
)
def test_search_finds_a_message_by_whole_number_or_smsid(admin_client, term):
    wanted = log_row(smsid="777001")
    log_row(mobile="13900139000", smsid="777002")
    found = admin_client.get(reverse(CHANGELIST), {"q": term}).context["cl"].result_list
    assert list(found) == [wanted]


def test_a_term_that_is_no_number_is_searched_as_an_smsid_only(admin_client):
    log_row(smsid="abc123")
    log_row(mobile="852 91234567", product="international", smsid="777003")
    assert len(admin_client.get(reverse(CHANGELIST), {"q": "abc123"}).context["cl"].result_list) == 1
    assert list(admin_client.get(reverse(CHANGELIST), {"q": "13800138000x"}).context["cl"].result_list) == []
    # An international number is searched as it is stored: country code and number.
    found = admin_client.get(reverse(CHANGELIST), {"q": "+852 9123 4567"}).context["cl"].result_list
    assert [log.smsid for log in found] == ["777003"]


def test_search_is_exact_so_the_indexes_serve_it(admin_client):
    log_row(smsid="777001")
    with CaptureQueriesContext(connection) as queries:
        found = admin_client.get(reverse(CHANGELIST), {"q": "1380013"}).context["cl"].result_list
        assert list(found) == []  # a part of a number finds nothing
    searches = [q["sql"] for q in queries.captured_queries if "huyi_sms_smslog" in q["sql"]]
    assert searches
    for sql in searches:
        assert "UPPER(" not in sql and " LIKE " not in sql, sql


def test_filters_by_status_product_purpose_and_date(admin_client):
    delivered = log_row(status=SmsLog.Status.DELIVERED, purpose="login")
    failed = log_row(status=SmsLog.Status.FAILED, product="marketing", purpose="promo")
    old = log_row(status=SmsLog.Status.FAILED)
    SmsLog.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))

    def shown(**params):
        return set(admin_client.get(reverse(CHANGELIST), params).context["cl"].result_list)

    assert shown(status__exact="delivered") == {delivered}
    assert shown(product__exact="marketing") == {failed}
    assert shown(purpose="promo") == {failed}
    now = timezone.localtime()
    since = (now - timedelta(days=7)).isoformat()
    until = (now + timedelta(days=1)).isoformat()
    assert shown(created_at__gte=since, created_at__lt=until) == {delivered, failed}
    page = admin_client.get(reverse(CHANGELIST)).content.decode()
    # The purpose filter offers the purposes found (blank left out), read along the index.
    assert "?purpose=login" in page and "?purpose=promo" in page
    assert "Past 7 days" in page


def test_the_detail_page_tells_the_whole_story(admin_client, client):
    log = django_huyi_sms.send_sms("13800138000", "【测试】您的订单已发货。")
    post_form(client, "receipt_push", receipt_fields(log.smsid, code="0", msg="UNDELIV"))
    post_form(client, "receipt_push", receipt_fields(log.smsid, code="0", msg="UNDELIV"))  # a provider retry
    post_form(client, "reply_push", {"mobilephone": "13800138000", "content": "收到谢谢", "smsid": log.smsid,
                                     "reply_time": "2026-11-25 10:01:00"})
    page = admin_client.get(reverse("admin:huyi_sms_smslog_change", args=[log.pk])).content.decode()
    assert log.smsid in page and "提交成功" in page
    assert page.count("UNDELIV") >= 3  # the log's receipt message and both pushes in the inline
    assert "收到谢谢" in page
    assert 'huyi-status-undelivered' in page


def test_logs_cannot_be_added_changed_or_deleted(admin_client):
    log = log_row()
    assert admin_client.get(reverse("admin:huyi_sms_smslog_add")).status_code == 403
    response = admin_client.post(reverse("admin:huyi_sms_smslog_change", args=[log.pk]), {"content": "changed"})
    assert response.status_code == 403
    assert admin_client.post(reverse("admin:huyi_sms_smslog_delete", args=[log.pk])).status_code == 403
    log.refresh_from_db()
    assert log.content == "【测试】您的订单已发货。"
    page = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert "delete_selected" not in page
