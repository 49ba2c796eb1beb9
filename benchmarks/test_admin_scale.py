"""The sends admin at 1,000, 10,000, 100,000 and 1,000,000 rows. Target: the page at a million rows
within twice its cost at a thousand (said, not asserted: reported through ``benchmarks/report.py``).

Rows are made by the database itself (``INSERT … SELECT … FROM generate_series``),
committed, then ``VACUUM ANALYZE``d so the planner sees the table as it would in
production. The thousand-row times are taken before the other rows go in and
again after they are deleted: the ratio is quoted against both (its two rounds), so a
machine that gets busier or quieter during the run does not decide the result. Each page
is asked for several times as a browser asks for it (``Browser``: Django's WSGI handler,
templates rendered as in production; the test client would copy the template context on
every render) by a signed-in superuser, and the medians are kept: of the whole request
(wall-clock), of this process's CPU time, and of the time its SQL took.

A page's cost is its CPU time and its SQL: what the target compares. Its wall-clock is in the
table beside it, but on a shared machine it swings with whatever else runs (two runs of the
same 1,000-row page have differed by a third), which a ratio of wall-clocks would report as the
table's doing.
``BENCH_QUICK=1``: 1,000 and 10,000 rows, fewer requests.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta
from itertools import pairwise
from typing import NamedTuple

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from benchmarks import report
from benchmarks.report import Ratio
from benchmarks.test_admin_speed import Browser, production_rendering
from django_huyi_sms import balances

SIZES = report.sized((1_000, 10_000, 100_000, 1_000_000), (1_000, 10_000))
SMALL, LARGE = SIZES[0], SIZES[-1]
REPEATS = report.sized(21, 5)
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
def test_the_sends_admin_from_a_thousand_to_a_million_rows(postgres):
    section = report.section("admin-scale", "The sends admin at scale")
    client = Client()
    client.force_login(User.objects.create_superuser("bench", "bench@example.com", "bench-pw"))
    browser = Browser(client)
    balances.forget_balances()
    fill(1, SMALL)
    before = measure(browser)
    sizes: dict[int, dict[str, Times]] = {}
    fill_seconds = 0.0
    for previous, size in pairwise(SIZES):
        started = time.perf_counter()
        fill(previous + 1, size)
        fill_seconds += time.perf_counter() - started
        sizes[size] = measure(browser)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM huyi_sms_smslog")
        assert cursor.fetchone()[0] == LARGE
    # The searches really find what they look for.
    url = reverse("admin:huyi_sms_smslog_changelist")
    assert len(client.get(url, {"q": MOBILE}).context["cl"].result_list) == 1
    assert len(client.get(url, {"q": SMSID}).context["cl"].result_list) == 1
    # The filters really filter, and a page of them is full at the largest size.
    for params, field, value in (
        ({"product__exact": "marketing"}, "product", "marketing"),
        ({"purpose": "order"}, "purpose", "order"),
    ):
        shown = client.get(url, params).context["cl"].result_list
        assert len(shown) == 50 and {getattr(log, field) for log in shown} == {value}
    week = client.get(url, past_seven_days()).context["cl"]
    assert len(week.result_list) == 50
    if LARGE >= 1_000_000:
        assert not week.paginator.count_is_exact  # over 100,000 rows in the week
    # Back to a thousand rows and measure again: the ratio is quoted against before and after,
    # so that the machine getting busier or quieter meanwhile does not decide the result.
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM huyi_sms_smslog WHERE id IN (SELECT id FROM huyi_sms_smslog ORDER BY id OFFSET %s)",
                       [SMALL])
        cursor.execute("VACUUM ANALYZE huyi_sms_smslog")
    after = measure(browser)
    small = {name: Times(*((b + a) / 2 for b, a in zip(before[name], after[name], strict=True))) for name in before}
    report_admin(section, {SMALL: small, **sizes}, before, after, fill_seconds)


def report_admin(
    section: report.Section,
    sizes: dict[int, dict[str, Times]],
    before: dict[str, Times],
    after: dict[str, Times],
    fill_seconds: float,
) -> None:
    """The page times at every size, the cost at the largest against the smallest, and the chart of cost against rows."""
    large = sizes[LARGE]
    section.table(
        ["page", *(f"{size:,} rows" for size in sizes)],
        [
            [name, *(f"{times[name].wall:.0f} [{times[name].cpu:.0f} + {times[name].sql:.1f}]" for times in sizes.values())]
            for name in before
        ],
        f"PostgreSQL {connection.pg_version // 10000}; ms, the median of {REPEATS} requests: the whole page's "
        f"wall-clock [its CPU time + its SQL]; the {SMALL:,}-row times are the mean of before and after the larger "
        f"sizes; filling the rows took {fill_seconds:.0f} s.",
    )
    for name in before:
        section.ratio(Ratio.of(f"{name}: {LARGE:,} rows / {SMALL:,} rows (CPU + SQL)",
                               [large[name].cost / before[name].cost, large[name].cost / after[name].cost], 2.0, "≤"))
    chart = section.chart("admin-rows", "The sends admin against rows", "rows in the sends table",
                          "ms a page (CPU + SQL)", x_scale="log")
    for name in before:
        chart.add(name, [(size, times[name].cost) for size, times in sizes.items()])
