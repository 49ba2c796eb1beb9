"""The sends list costs the same at any size: a fixed number of queries, and never a COUNT of the table."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from django_huyi_sms.admin.base import ScaleAdminMixin
from django_huyi_sms.admin.pagination import CappedCountPaginator
from django_huyi_sms.models import SmsLog, StatusReceipt

pytestmark = pytest.mark.django_db

SCALE_ADMINS = [
    model_admin
    for model, model_admin in admin.site._registry.items()
    if model._meta.app_label == "huyi_sms" and isinstance(model_admin, ScaleAdminMixin)
]


def indexed_columns(model) -> list[list[str]]:
    """The columns of each index of ``model``, in order (descending or not), unique ones included."""
    columns = [[name.lstrip("-") for name in index.fields] for index in model._meta.indexes]
    columns += [list(constraint.fields) for constraint in model._meta.constraints if getattr(constraint, "fields", ())]
    columns += [[field.name] for field in model._meta.fields if field.db_index or field.unique]
    return columns


@pytest.mark.parametrize("model_admin", SCALE_ADMINS, ids=lambda model_admin: model_admin.model.__name__)
def test_every_list_orders_filters_and_searches_along_an_index(model_admin):
    model = model_admin.model
    indexes = indexed_columns(model)
    ordered_by = model._meta.ordering[0].lstrip("-")
    # The default order: the first page is the top of an index, not a sort of the table.
    assert [ordered_by] in [columns[:1] for columns in indexes], f"{model.__name__} orders by {ordered_by}"
    for list_filter in model_admin.list_filter:
        field = list_filter[0] if isinstance(list_filter, tuple) else list_filter
        if isinstance(field, type):  # a filter class of its own: it filters the field its parameter names
            field = field.parameter_name
        if field == ordered_by:  # a date range on the ordering column: the same index
            continue
        # Filtered and still in order: the filter's column, then the ordering column.
        assert [field, ordered_by] in [columns[:2] for columns in indexes], f"{model.__name__} filter {field}"
    for field in model_admin.exact_search_fields:
        assert [field] in [columns[:1] for columns in indexes], f"{model.__name__} search {field}"



def fill(count: int, start: int = 0) -> None:
    SmsLog.objects.bulk_create(
        SmsLog(mobile=f"1380000{n:04d}", content="【测试】通知", smsid=str(900000 + n), purpose=f"p{n % 3}",
               status=SmsLog.Status.SUBMITTED, user=None)
        for n in range(start, start + count)
    )


def page_queries(client, **params) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("admin:huyi_sms_smslog_changelist"), params)
        assert response.status_code == 200
    return [q["sql"] for q in queries.captured_queries]


@pytest.mark.parametrize("params", [{}, {"status__exact": "submitted"}, {"q": "13800000001"}, {"purpose": "p1"}])
def test_the_number_of_queries_does_not_grow_with_the_rows(admin_client, params):
    fill(3)
    page_queries(admin_client, **params)  # warm the content-type cache
    few = page_queries(admin_client, **params)
    fill(120, start=3)
    many = page_queries(admin_client, **params)
    assert len(many) == len(few), many


def test_a_page_stays_under_a_fixed_number_of_queries(admin_client, django_assert_max_num_queries):
    fill(120)
    admin_client.get(reverse("admin:huyi_sms_smslog_changelist"))  # warm the content-type cache
    with django_assert_max_num_queries(6):  # session, user, purpose values, count, rows, (savepoint)
        assert admin_client.get(reverse("admin:huyi_sms_smslog_changelist")).status_code == 200


def test_no_page_counts_the_whole_table(admin_client):
    fill(60)
    for sql in page_queries(admin_client) + page_queries(admin_client, q="13800000001"):
        if "COUNT(" in sql.upper():
            # Every count is over a LIMITed subquery: the capped paginator's.
            assert re.search(r"LIMIT \d+", sql), sql


def test_the_detail_page_has_a_fixed_number_of_queries(admin_client):
    fill(1)
    log = SmsLog.objects.get()
    url = reverse("admin:huyi_sms_smslog_change", args=[log.pk])
    admin_client.get(url)  # warm the content-type cache
    with CaptureQueriesContext(connection) as one:
        admin_client.get(url)
    StatusReceipt.objects.bulk_create(
        # The provider's retries: one original, then copies.
        StatusReceipt(smsid=log.smsid, mobile=log.mobile, code="2", report_time=log.created_at, log=log, duplicate=n > 0)
        for n in range(5)
    )
    with CaptureQueriesContext(connection) as five:
        page = admin_client.get(url)
    assert page.content.decode().count("field-code") >= 5
    assert len(five.captured_queries) == len(one.captured_queries)


def test_the_capped_paginator_is_exact_under_the_cap_and_stops_counting_over_it():
    fill(30)
    queryset = SmsLog.objects.order_by("-created_at")

    class Small(CappedCountPaginator):
        cap = 10

    assert CappedCountPaginator(queryset, 10).count == 30
    assert CappedCountPaginator(queryset, 10).count_is_exact
    small = Small(queryset, 10)
    with CaptureQueriesContext(connection) as queries:
        count = small.count
    assert not small.count_is_exact
    if connection.vendor == "postgresql":
        assert count >= 11  # the planner's estimate, at least what was counted
    else:
        assert count == 11  # "more than 10": the pages after stay reachable one by one
    assert "LIMIT 11" in queries.captured_queries[0]["sql"]
    assert list(Small(queryset, 10).page(2).object_list) == list(queryset[10:20])


def test_the_list_says_when_its_count_is_an_estimate(admin_client, monkeypatch):
    monkeypatch.setattr(CappedCountPaginator, "cap", 2)
    for _ in range(3):
        SmsLog.objects.create(mobile="13800138000", content="【测试】通知")
    page = admin_client.get(reverse("admin:huyi_sms_smslog_changelist")).content.decode()
    assert "huyi-estimated-count" in page
    # "About 3" here; on PostgreSQL the planner's estimate, at least 3.
    assert re.search(r"About (\d+) SMS logs", page) and int(re.search(r"About (\d+)", page).group(1)) >= 3
    monkeypatch.setattr(CappedCountPaginator, "cap", 10)
    page = admin_client.get(reverse("admin:huyi_sms_smslog_changelist")).content.decode()
    assert "huyi-estimated-count" not in page and "3 SMS logs" in page
