"""The delivery dashboard: the last 30 days as SVG charts drawn on the server."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from django_huyi_sms.models import SmsLog

from .test_admin_sends import make_staff

pytestmark = pytest.mark.django_db

DASHBOARD = "admin:huyi_sms_smslog_dashboard"


def delivered(delay: float, days_ago: int = 0) -> None:
    log = SmsLog.objects.create(mobile="13800138000", content="【测试】通知", status=SmsLog.Status.DELIVERED)
    created = timezone.now() - timedelta(days=days_ago)
    SmsLog.objects.filter(pk=log.pk).update(
        created_at=created, submitted_at=created, delivered_at=created + timedelta(seconds=delay)
    )


def test_the_dashboard_draws_three_charts_without_scripts_or_cdn(admin_client):
    delivered(4)
    delivered(6)
    SmsLog.objects.create(mobile="13800138000", content="【测试】通知", status=SmsLog.Status.FAILED)
    response = admin_client.get(reverse(DASHBOARD))
    assert response.status_code == 200
    page = response.content.decode()
    svgs = re.findall(r'<svg [^>]*class="huyi-chart".*?</svg>', page, re.DOTALL)
    assert len(svgs) == 3
    assert len(re.findall(r"<rect ", svgs[0])) == 30  # one bar a day
    assert "<script" not in "".join(svgs)
    # Nothing loaded from elsewhere: the only absolute URL in the charts is the SVG namespace.
    assert set(re.findall(r"https?://[^\"' ]+", "".join(svgs))) == {"http://www.w3.org/2000/svg"}
    assert "3 messages in the last 30 days." in page
    assert "66.7% of those with an outcome were delivered." in page
    assert "<td>5.0</td>" in page  # today's median time to delivery, in the table
    assert "67%" in page


def test_the_sends_list_links_to_the_dashboard(admin_client):
    page = admin_client.get(reverse("admin:huyi_sms_smslog_changelist")).content.decode()
    assert reverse(DASHBOARD) in page


def test_the_dashboard_needs_the_right_to_view_sends(client):
    assert client.get(reverse(DASHBOARD)).status_code == 302  # to the login page
    client.force_login(User.objects.create_user("clerk", password="pw", is_staff=True))
    assert client.get(reverse(DASHBOARD)).status_code == 403
    client.force_login(make_staff("viewer"))
    assert client.get(reverse(DASHBOARD)).status_code == 200


def test_an_empty_month_draws_empty_charts(admin_client):
    response = admin_client.get(reverse(DASHBOARD))
    assert response.status_code == 200
    assert "0 messages in the last 30 days." in response.content.decode()


def test_chart_axes_read_true():
    from django_huyi_sms.admin.charts import Point, bar_chart, line_chart

    one = bar_chart("t", [Point("a", 1), Point("b", 0)], fmt=lambda v: f"{v:.0f}")
    labels = re.findall(r'text-anchor="end">([^<]*)<', one)
    assert labels == ["0", "1"]  # no second "0" half-way up
    three = bar_chart("t", [Point("a", 3)], fmt=lambda v: f"{v:.0f}")
    assert re.findall(r'text-anchor="end">([^<]*)<', three) == ["0", "2", "4"]
    escaped = line_chart("<b>", [Point("<i>", 1.0)])
    assert "<b>" not in escaped and "<i>" not in escaped and "&lt;i&gt;" in escaped
