"""What a page of the sends list costs: the same queries, templates and look-ups at 3 rows as at 100.

The time of a page is Django drawing it (its SQL is a few milliseconds): what is pinned here is
what the admin does per page rather than per row, and that the rows still read as Django's.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test.html import parse_html
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from django_huyi_sms.admin import base, display
from django_huyi_sms.models import Product, SmsLog, SmsTemplate

pytestmark = pytest.mark.django_db

URL = "admin:huyi_sms_smslog_changelist"
STATUSES = list(SmsLog.Status.values)
PRODUCTS = list(Product.values)


def fill(count: int, start: int = 0) -> None:
    """Rows of every status and product, delivered ones with a time to delivery."""
    now = timezone.now()
    SmsLog.objects.bulk_create(
        SmsLog(
            mobile=f"1380000{n:04d}",
            content=f"【测试】您的订单 {n} 已发货。",
            smsid=str(900000 + n),
            status=STATUSES[n % len(STATUSES)],
            product=PRODUCTS[n % len(PRODUCTS)],
            provider_code=2,
            provider_msg="提交成功",
            receipt_code="DELIVRD",
            created_at=now - timedelta(seconds=n),
            submitted_at=now - timedelta(seconds=n),
            delivered_at=now - timedelta(seconds=n) + timedelta(seconds=3),
        )
        for n in range(start, start + count)
    )


def assert_html_equal(ours: str, djangos: str) -> None:
    assert parse_html(ours) == parse_html(djangos), (ours, djangos)


@pytest.fixture
def hundred_a_page(monkeypatch):
    monkeypatch.setattr(admin.site.get_model_admin(SmsLog), "list_per_page", 100)


def test_a_page_makes_six_queries_whatever_its_rows(admin_client, hundred_a_page):
    fill(3)
    admin_client.get(reverse(URL))  # warm the content-type cache
    for rows in (3, 100):
        if rows > 3:
            fill(rows - 3, start=3)
        with CaptureQueriesContext(connection) as queries:
            page = admin_client.get(reverse(URL))
        assert len(page.context["cl"].result_list) == rows
        # The session, the user, the purposes (along their index), the newest bulk sends,
        # the capped count, the page's rows.
        assert len(queries.captured_queries) == 6, [q["sql"] for q in queries.captured_queries]


def test_no_template_is_rendered_per_row(admin_client, hundred_a_page):
    fill(3)
    few = [template.name for template in admin_client.get(reverse(URL)).templates]
    fill(97, start=3)
    many = [template.name for template in admin_client.get(reverse(URL)).templates]
    # Django's own checkbox renders a form widget's two templates for every row.
    assert many == few
    assert "django/forms/widgets/checkbox.html" not in many


def test_the_permission_to_see_whole_numbers_is_asked_once_a_page(client, monkeypatch, hundred_a_page):
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_smslog"))
    client.force_login(viewer)
    fill(100)
    asked = []
    original = base.can_see_full_mobile
    monkeypatch.setattr(base, "can_see_full_mobile", lambda request: asked.append(1) or original(request))
    page = client.get(reverse(URL))
    assert page.status_code == 200 and "138****0042" in page.content.decode()
    assert 0 < len(asked) <= 3  # once per column built (the list, its sort, its links), never per row


def test_the_row_checkbox_is_djangos_markup(admin_client):
    fill(len(STATUSES) * len(PRODUCTS))
    model_admin = admin.site.get_model_admin(SmsLog)
    for language in ("en", "zh-hans"):
        with translation.override(language):
            for log in SmsLog.objects.all():
                assert_html_equal(model_admin.action_checkbox(log), admin.ModelAdmin.action_checkbox(model_admin, log))
    page = admin_client.get(reverse(URL)).content.decode()
    log = SmsLog.objects.first()
    assert f'name="{helpers.ACTION_CHECKBOX_NAME}" value="{log.pk}" class="action-select"' in page


def test_a_row_label_is_escaped_once():
    class Odd:
        pk = 7

        def __str__(self) -> str:
            return 'a "quoted" <b>label</b> & more'

    model_admin = admin.site.get_model_admin(SmsLog)
    assert_html_equal(model_admin.action_checkbox(Odd()), admin.ModelAdmin.action_checkbox(model_admin, Odd()))


def test_each_row_links_to_its_page_with_one_reverse_a_page(admin_client, monkeypatch, hundred_a_page):
    fill(100)
    cl = admin_client.get(reverse(URL)).context["cl"]
    for log in cl.result_list:
        assert cl.url_for_result(log) == reverse("admin:huyi_sms_smslog_change", args=[log.pk])
    reversed_ = []

    def counted(*args, **kwargs):
        reversed_.append(args[0])
        return reverse(*args, **kwargs)

    # Where Django's change list reverses a row's address, and where ours does.
    monkeypatch.setattr("django.contrib.admin.views.main.reverse", counted)
    monkeypatch.setattr("django_huyi_sms.admin.base.reverse", counted, raising=False)
    page = admin_client.get(reverse(URL)).content.decode()
    assert reversed_.count("admin:huyi_sms_smslog_change") == 1, len(reversed_)
    for log in SmsLog.objects.all()[:100]:
        assert f'href="{reverse("admin:huyi_sms_smslog_change", args=[log.pk])}"' in page


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_labels_read_as_the_models_say(language):
    with translation.override(language):
        for status in STATUSES:
            log = SmsLog(status=status, product=PRODUCTS[0])
            assert display.choice_label(log, "status") == log.get_status_display()
            assert f">{log.get_status_display()}</span>" in display.status_badge(log)
        for product in PRODUCTS:
            log = SmsLog(product=product)
            assert display.choice_label(log, "product") == log.get_product_display()
            assert f'title="{log.get_product_display()}"' in display.product_tag(log)
        for status in SmsTemplate.Status.values:
            template = SmsTemplate(status=status)
            assert display.choice_label(template, "status") == template.get_status_display()
        # A value that is no choice reads as itself, as get_FOO_display() has it.
        assert display.choice_label(SmsLog(status="gone"), "status") == "gone"


def test_the_list_reads_in_the_language_of_each_request(admin_client):
    fill(len(STATUSES))
    english = admin_client.get(reverse(URL), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    chinese = admin_client.get(reverse(URL), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    for language, page, other in (("zh-hans", chinese, english), ("en", english, chinese)):
        with translation.override(language):
            delivered = str(SmsLog.Status.DELIVERED.label)
            marketing = str(Product.MARKETING.label)
        assert f">{delivered}</span>" in page and f">{delivered}</span>" not in other
        assert f'title="{marketing}"' in page and f'title="{marketing}"' not in other


def test_a_filtered_lists_rows_link_back_to_it_without_resolving_each_link(admin_client, monkeypatch, hundred_a_page):
    from django.contrib.admin.templatetags import admin_urls

    fill(len(STATUSES) * 100)
    params = {"status__exact": "failed"}
    resolved = []
    resolve = admin_urls.resolve
    monkeypatch.setattr(admin_urls, "resolve", lambda path: resolved.append(path) or resolve(path))
    page = admin_client.get(reverse(URL), params)
    cl = page.context["cl"]
    assert len(cl.result_list) == 100 and {log.status for log in cl.result_list} == {"failed"}
    assert len(resolved) <= 2, resolved  # once for the page's links, never for each row
    content = page.content.decode()
    for log in cl.result_list:
        # As Django's result list writes the link: the list's filters carried to the row's page.
        expected = admin_urls.add_preserved_filters(
            {"preserved_filters": "_changelist_filters=status__exact%3Dfailed", "opts": SmsLog._meta},
            reverse("admin:huyi_sms_smslog_change", args=[log.pk]),
        )
        assert cl.url_for_result(log) == expected
        assert f'href="{expected.replace("&", "&amp;")}"' in content
    # And the row's page leads back to the filtered list.
    row = admin_client.get(cl.url_for_result(cl.result_list[0])).content.decode()
    assert "status__exact=failed" in row.replace("%3D", "=")
