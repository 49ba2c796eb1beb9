"""The sends admin at 1,000 and at 1,000,000 rows: the page must not take more than twice as long.

Rows are made by the database itself (``INSERT … SELECT … FROM generate_series``),
committed, then ``VACUUM ANALYZE``d so the planner sees the table as it would in
production. The thousand-row times are taken before the million rows go in and
again after they are deleted, and averaged, so a machine that gets busier or
quieter during the run does not decide the result. Each page is asked for several times as a
browser asks for it (``Browser``: Django's WSGI handler, templates rendered as in production; the
test client would copy the template context on every render) by a signed-in superuser, and the
medians are kept: of the whole request (wall-clock), of this process's CPU time, and of the
time its SQL took. The times are printed (run with ``-s``) and written to
``test-artifacts/bench-admin-scale.txt``.

The machine may be shared: the wall-clock of a page then swings with whatever else runs (two
runs of the same 1,000-row page have differed by half). What is asserted is what the page
costs, its CPU time and its SQL: at a million rows at most twice that at a thousand.
"""

from __future__ import annotations

import os
import statistics
import time
from datetime import timedelta
from pathlib import Path
from typing import NamedTuple

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from benchmarks.test_admin_speed import Browser, production_rendering
from django_huyi_sms import balances

SMALL, LARGE = 1_000, 1_000_000
REPEATS = 21
RESULTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "bench-admin-scale.txt"
# Searched for: row 500's number and row 700's smsid. Each finds one row at either size, so
# both sizes render the same page and only the lookup can differ.
MOBILE = f"138{500 * 7919 % 1000003:08d}"
SMSID = str(17000000000000 + 700)

# Row g: its own number (g * 7919 mod a prime: no two rows alike), an smsid,
# a spread of statuses, products and purposes, one send every five seconds going back in time.
FILL_SQL = """
INSERT INTO huyi_sms_smslog
    (product, mobile, content, parts, status, smsid, provider_code, provider_msg,
     receipt_code, receipt_msg, purpose, created_at, submitted_at, delivered_at, updated_at,
     attempts, receipt_waiting, carries_code, variables)
SELECT
    (ARRAY['sms', 'sms', 'sms', 'marketing'])[1 + g %% 4],
    '138' || lpad(((g::bigint * 7919) %% 1000003)::text, 8, '0'),
    '【测试】您的订单 ' || g || ' 已发货。',
    1,
    (ARRAY['delivered', 'delivered', 'delivered', 'undelivered', 'failed', 'submitted'])[1 + g %% 6],
    (17000000000000 + g)::text,
    2, '提交成功', '2', 'DELIVRD',
    (ARRAY['', 'order', 'notice', 'promo'])[1 + g %% 4],
    now() - g * interval '5 seconds',
    now() - g * interval '5 seconds' + interval '1 second',
    now() - g * interval '5 seconds' + interval '4 seconds',
    now(),
    1, false, false, '[]'
FROM generate_series(%s, %s) AS g
"""


def fill(first: int, last: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(FILL_SQL, [first, last])
        cursor.execute("VACUUM ANALYZE huyi_sms_smslog")


class Times(NamedTuple):
    """Medians of a page, in milliseconds."""

    wall: float
    cpu: float  # this process's CPU time
    sql: float

    @property
    def cost(self) -> float:
        """What the page costs, apart from waiting for a CPU: its CPU time and its SQL."""
        return self.cpu + self.sql


def median_ms(browser: Browser, url: str, params: dict[str, str]) -> Times:
    """The medians of the whole request, of its CPU time and of its SQL, in milliseconds."""
    for _ in range(2):  # warm caches (balance, content types, the database's buffers)
        browser.get(url, params)
    times, cpu_times, sql_times = [], [], []
    for _ in range(REPEATS):
        with CaptureQueriesContext(connection) as queries:
            started, cpu_started = time.perf_counter(), time.process_time()
            browser.get(url, params)
            cpu_times.append((time.process_time() - cpu_started) * 1000)
            times.append((time.perf_counter() - started) * 1000)
        sql_times.append(sum(float(query["time"]) for query in queries.captured_queries) * 1000)
    return Times(statistics.median(times), statistics.median(cpu_times), statistics.median(sql_times))


def past_seven_days() -> dict[str, str]:
    """The date filter's "Past 7 days" link, as ``DateFieldListFilter`` writes it."""
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    return {"created_at__gte": str(today - timedelta(days=7)), "created_at__lt": str(today + timedelta(days=1))}


def measure(browser: Browser) -> dict[str, Times]:
    url = reverse("admin:huyi_sms_smslog_changelist")
    with production_rendering():
        return {
            "list": median_ms(browser, url, {}),
            "search by mobile": median_ms(browser, url, {"q": MOBILE}),
            "search by smsid": median_ms(browser, url, {"q": SMSID}),
            "filter by status": median_ms(browser, url, {"status__exact": "failed"}),
            "filter by product": median_ms(browser, url, {"product__exact": "marketing"}),
            "filter by purpose": median_ms(browser, url, {"purpose": "order"}),
            "filter by date": median_ms(browser, url, past_seven_days()),
        }


@pytest.mark.django_db(transaction=True)  # real commits: VACUUM ANALYZE cannot run inside a transaction
def test_the_sends_admin_at_a_million_rows_is_within_twice_its_time_at_a_thousand(postgres):
    client = Client()
    client.force_login(User.objects.create_superuser("bench", "bench@example.com", "bench-pw"))
    browser = Browser(client)
    balances.forget_balances()
    load = [os.getloadavg()[0]]
    fill(1, SMALL)
    before = measure(browser)
    started = time.perf_counter()
    fill(SMALL + 1, LARGE)
    fill_seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM huyi_sms_smslog")
        assert cursor.fetchone()[0] == LARGE
    large = measure(browser)
    # The searches really find what they look for.
    url = reverse("admin:huyi_sms_smslog_changelist")
    assert len(client.get(url, {"q": MOBILE}).context["cl"].result_list) == 1
    assert len(client.get(url, {"q": SMSID}).context["cl"].result_list) == 1
    # The filters really filter, and a page of them is full at a million rows.
    for params, field, value in (
        ({"product__exact": "marketing"}, "product", "marketing"),
        ({"purpose": "order"}, "purpose", "order"),
    ):
        shown = client.get(url, params).context["cl"].result_list
        assert len(shown) == 50 and {getattr(log, field) for log in shown} == {value}
    week = client.get(url, past_seven_days()).context["cl"]
    assert len(week.result_list) == 50 and not week.paginator.count_is_exact  # over 100,000 rows in the week
    # Back to a thousand rows and measure again: the baseline is the mean of before and after,
    # so that the machine getting busier or quieter meanwhile does not decide the result.
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM huyi_sms_smslog WHERE id IN (SELECT id FROM huyi_sms_smslog ORDER BY id OFFSET %s)",
                       [SMALL])
        cursor.execute("VACUUM ANALYZE huyi_sms_smslog")
    after = measure(browser)
    load.append(os.getloadavg()[0])
    small = {name: Times(*((b + a) / 2 for b, a in zip(before[name], after[name], strict=True))) for name in before}

    lines = [
        f"PostgreSQL {connection.pg_version}; median of {REPEATS} requests, in ms: the page's wall-clock, "
        f"[its CPU + its SQL]; load average {load[0]:.2f} before, {load[1]:.2f} after, on {os.cpu_count()} cores; "
        f"filling {LARGE - SMALL:,} rows took {fill_seconds:.1f}s; "
        f"{SMALL:,}-row times are the mean of before ({', '.join(f'{v.wall:.0f}' for v in before.values())}) "
        f"and after ({', '.join(f'{v.wall:.0f}' for v in after.values())})"
    ]
    lines += [
        f"{name:18} {SMALL:>9,} rows: {small[name].wall:6.1f} [{small[name].cpu:5.1f} + {small[name].sql:4.1f}]"
        f"   {LARGE:>9,} rows: {large[name].wall:6.1f} [{large[name].cpu:5.1f} + {large[name].sql:4.1f}]"
        f"   ratio {large[name].wall / small[name].wall:.2f} [{large[name].cost / small[name].cost:.2f}]"
        for name in small
    ]
    report = "\n".join(lines)
    print("\n" + report)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(report + "\n", encoding="utf-8")
    for name in small:
        assert large[name].cost <= 2 * small[name].cost, (
            f"{name}: CPU + SQL {large[name].cost:.1f} ms at {LARGE:,} rows vs {small[name].cost:.1f} ms at {SMALL:,}"
        )
