"""The sends list's actions: resend the failed ones, export as streamed CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone

import django_huyi_sms
from django_huyi_sms.models import SmsLog

from .test_admin_sends import log_row, make_staff

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:huyi_sms_smslog_changelist"


def act(client, action: str, logs, follow: bool = True):
    return client.post(
        reverse(CHANGELIST),
        {"action": action, "_selected_action": [log.pk for log in logs]},
        follow=follow,
    )


def test_resend_selected_sends_the_failed_ones_again_and_leaves_the_rest(admin_client):
    failed = log_row(status=SmsLog.Status.FAILED, provider_code=4051, provider_msg="剩余条数不足")
    delivered = log_row(status=SmsLog.Status.DELIVERED)
    response = act(admin_client, "resend_selected", [failed, delivered])
    assert response.status_code == 200
    assert "1 message resent." in response.content.decode()
    new = SmsLog.objects.get(resent_from=failed)
    assert new.status == SmsLog.Status.SUBMITTED
    assert not delivered.resends.exists()
    assert len(django_huyi_sms.outbox) == 1
    assert "None of the selected messages failed." in act(admin_client, "resend_selected", [delivered]).content.decode()
    # The old send's page links to its resend.
    page = admin_client.get(reverse("admin:huyi_sms_smslog_change", args=[failed.pk])).content.decode()
    assert reverse("admin:huyi_sms_smslog_change", args=[new.pk]) in page


def test_resending_twice_sends_once(admin_client):
    failed = log_row(status=SmsLog.Status.FAILED)
    act(admin_client, "resend_selected", [failed])
    response = act(admin_client, "resend_selected", [failed])
    assert "1 message not resent" in response.content.decode()
    assert len(django_huyi_sms.outbox) == 1


def test_only_users_who_may_add_sends_may_resend(client):
    client.force_login(make_staff())
    failed = log_row(status=SmsLog.Status.FAILED)
    page = client.get(reverse(CHANGELIST)).content.decode()
    assert 'value="export_csv"' in page and 'value="resend_selected"' not in page
    act(client, "resend_selected", [failed])
    assert django_huyi_sms.outbox == [] and not failed.resends.exists()


def read_csv(response) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))


def test_export_streams_the_selected_rows_with_masked_numbers(client):
    client.force_login(make_staff())
    chosen = log_row(smsid="5001", status=SmsLog.Status.DELIVERED, purpose="order")
    log_row(smsid="5002")  # not selected
    other = log_row(smsid="5003", purpose="login")
    rows = read_csv(act(client, "export_csv", [chosen, other], follow=False))
    header, *data = rows
    assert header[:4] == ["id", "created", "product", "mobile"]
    by_smsid = {row[header.index("smsid")]: row for row in data}
    assert set(by_smsid) == {"5001", "5003"}
    assert by_smsid["5001"][header.index("mobile")] == "138****8000"
    assert by_smsid["5001"][header.index("status")] == "delivered"
    assert by_smsid["5001"][header.index("content")] == "【测试】您的订单已发货。"


def test_export_shows_whole_numbers_to_users_with_the_permission(admin_client):
    chosen = log_row()
    rows = read_csv(act(admin_client, "export_csv", [chosen], follow=False))
    assert rows[1][rows[0].index("mobile")] == "13800138000"


def test_a_receipt_stamped_before_the_submission_reads_as_zero_in_the_list_and_the_export(admin_client):
    # The provider's report_time has whole seconds: a fast receipt often reads a fraction before submitted_at.
    submitted = timezone.now()
    early = log_row(status=SmsLog.Status.DELIVERED, submitted_at=submitted,
                    delivered_at=submitted - timedelta(seconds=0.3))
    header, row = read_csv(act(admin_client, "export_csv", [early], follow=False))
    assert row[header.index("seconds to delivery")] == "0.0"
    page = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert '<span class="huyi-outcome-detail" title="in 0.0 s">in 0.0 s</span>' in page


def test_export_never_hands_excel_a_formula(admin_client):
    chosen = log_row(content="=HYPERLINK(\"http://example.invalid\")【测试】", provider_msg="-1 失败")
    rows = read_csv(act(admin_client, "export_csv", [chosen], follow=False))
    header, row = rows
    assert row[header.index("content")].startswith("'=")
    assert row[header.index("provider message")] == "'-1 失败"



def test_resending_an_unknown_message_asks_first_and_says_why(admin_client):
    unknown = log_row(status=SmsLog.Status.UNKNOWN, provider_msg="Submit: no answer within 10s")
    failed = log_row(status=SmsLog.Status.FAILED)
    page = act(admin_client, "resend_selected", [unknown, failed])
    text = page.content.decode()
    assert "Resend messages whose outcome is unknown?" in text
    assert "may have accepted, charged and delivered it already" in text and "no answer within 10s" in text
    assert unknown.mobile in text  # a superuser sees whole numbers, as in the list
    assert django_huyi_sms.outbox == [] and not SmsLog.objects.filter(resent_from__isnull=False).exists()
    # Confirmed: both go out (the failed one was part of the selection too).
    response = admin_client.post(
        reverse(CHANGELIST),
        {"action": "resend_selected", "_selected_action": [unknown.pk, failed.pk], "confirm_unknown": "yes"},
        follow=True,
    )
    assert "2 messages resent." in response.content.decode()
    assert SmsLog.objects.filter(resent_from=unknown).count() == 1 and len(django_huyi_sms.outbox) == 2


def test_an_unknown_message_has_a_badge_of_its_own(admin_client):
    log_row(status=SmsLog.Status.UNKNOWN)
    page = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert "huyi-status-unknown" in page and "Unknown" in page
