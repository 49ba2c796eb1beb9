"""The sends admin at 1,000 and at 1,000,000 rows: the page must not take more than twice as long.

Rows are made by the database itself (``INSERT … SELECT … FROM generate_series``),
committed, then ``VACUUM ANALYZE``d so the planner sees the table as it would in
production. The thousand-row times are taken before the million rows go in and
again after they are deleted, and averaged, so a machine that gets busier or
quieter during the run does not decide the result. Each page is asked for several times through Django's test client
as a signed-in superuser and the median time is kept, with the median time
its SQL took beside it; the times are printed (run with ``-s``) and written to
``test-artifacts/bench-admin-scale.txt``.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

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


def median_ms(client: Client, url: str, params: dict[str, str]) -> tuple[float, float]:
    """The median time of the whole request, and of its SQL alone, in milliseconds."""
    for _ in range(2):  # warm caches (balance, content types, the database's buffers)
        assert client.get(url, params).status_code == 200
    times, sql_times = [], []
    for _ in range(REPEATS):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url, params)
            times.append((time.perf_counter() - started) * 1000)
        sql_times.append(sum(float(query["time"]) for query in queries.captured_queries) * 1000)
        assert response.status_code == 200
    return statistics.median(times), statistics.median(sql_times)


def past_seven_days() -> dict[str, str]:
    """The date filter's "Past 7 days" link, as ``DateFieldListFilter`` writes it."""
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    return {"created_at__gte": str(today - timedelta(days=7)), "created_at__lt": str(today + timedelta(days=1))}


def measure(client: Client) -> dict[str, tuple[float, float]]:
    url = reverse("admin:huyi_sms_smslog_changelist")
    return {
        "list": median_ms(client, url, {}),
        "search by mobile": median_ms(client, url, {"q": MOBILE}),
        "search by smsid": median_ms(client, url, {"q": SMSID}),
        "filter by status": median_ms(client, url, {"status__exact": "failed"}),
        "filter by product": median_ms(client, url, {"product__exact": "marketing"}),
        "filter by purpose": median_ms(client, url, {"purpose": "order"}),
        "filter by date": median_ms(client, url, past_seven_days()),
    }


@pytest.mark.django_db(transaction=True)  # real commits: VACUUM ANALYZE cannot run inside a transaction
def test_the_sends_admin_at_a_million_rows_is_within_twice_its_time_at_a_thousand(postgres):
    client = Client()
    client.force_login(User.objects.create_superuser("bench", "bench@example.com", "bench-pw"))
    balances.forget_balances()
    fill(1, SMALL)
    before = measure(client)
    started = time.perf_counter()
    fill(SMALL + 1, LARGE)
    fill_seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM huyi_sms_smslog")
        assert cursor.fetchone()[0] == LARGE
    large = measure(client)
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
    after = measure(client)
    small = {
        name: ((before[name][0] + after[name][0]) / 2, (before[name][1] + after[name][1]) / 2) for name in before
    }

    lines = [
        f"PostgreSQL {connection.pg_version}; median of {REPEATS} requests, page (SQL) in ms; "
        f"filling {LARGE - SMALL:,} rows took {fill_seconds:.1f}s; "
        f"{SMALL:,}-row times are the mean of before ({', '.join(f'{v[0]:.0f}' for v in before.values())}) "
        f"and after ({', '.join(f'{v[0]:.0f}' for v in after.values())})"
    ]
    lines += [
        f"{name:18} {SMALL:>9,} rows: {small[name][0]:6.1f} ({small[name][1]:4.1f})"
        f"   {LARGE:>9,} rows: {large[name][0]:6.1f} ({large[name][1]:4.1f})"
        f"   ratio {large[name][0] / small[name][0]:.2f}"
        for name in small
    ]
    report = "\n".join(lines)
    print("\n" + report)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(report + "\n", encoding="utf-8")
    for name in small:
        assert large[name][0] <= 2 * small[name][0], (
            f"{name}: {large[name][0]:.1f} ms at {LARGE:,} rows vs {small[name][0]:.1f} ms at {SMALL:,}"
        )
