"""huyi_purge at 10,000 and at 1,000,000 rows: its peak memory must not grow with the table.

The rows are made by PostgreSQL itself (``INSERT … SELECT … FROM generate_series``) and
committed; then ``manage.py huyi_purge`` runs as cron runs it, a process of its own on the
same database, and its time and peak RSS are measured (``os.wait4``'s ``ru_maxrss`` for that
one process). For scale, the same Django process that only starts and finds nothing to
delete, and a naive ``SmsLog.objects.filter(created_at__lt=cutoff).delete()`` of 100,000
rows, which loads every row it deletes. Reported through ``benchmarks/report.py`` (the peak RSS
at a million rows against ten thousand: its target, ≤ 1.2×). ``BENCH_QUICK=1``: 50,000 rows.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from django.db import connection

from benchmarks import report
from benchmarks.report import Figure, Ratio
from django_huyi_sms.models import SmsLog

ROOT = Path(__file__).resolve().parent.parent
SMALL, LARGE, NAIVE = 10_000, report.sized(1_000_000, 50_000), report.sized(100_000, 10_000)
KEPT = 1_000  # young sends, and old queued ones, that must survive every purge

FILL_SQL = """
INSERT INTO huyi_sms_smslog
    (product, mobile, content, parts, status, smsid, provider_code, provider_msg, receipt_code, receipt_msg,
     purpose, carries_code, variables, created_at, submitted_at, delivered_at, updated_at, attempts, receipt_waiting)
SELECT
    'sms', '138' || lpad(((g::bigint * 7919) %% 1000003)::text, 8, '0'), '【测试】您的订单 ' || g || ' 已发货。', 1,
    %s, (17000000000000 + g)::text, 2, '提交成功', '2', 'DELIVRD', 'order', false, '[]',
    now() - %s * interval '1 day' - g * interval '1 second', now(), now(), now(), 1, false
FROM generate_series(%s, %s) AS g
"""

NAIVE_SCRIPT = """
import django; django.setup()
from datetime import timedelta
from django.utils import timezone
from django_huyi_sms.models import SmsLog
SmsLog.objects.filter(created_at__lt=timezone.now() - timedelta(days=180)).delete()
"""


def fill(first: int, last: int, *, days_old: int, status: str = "delivered") -> None:
    with connection.cursor() as cursor:
        cursor.execute(FILL_SQL, [status, days_old, first, last])
        cursor.execute("VACUUM ANALYZE huyi_sms_smslog")


def run_measured(*args: str) -> tuple[float, int, str]:
    """Run ``args`` in a process on this test's database: (seconds, peak RSS in KiB, its output)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PYTHONPATH": str(ROOT),
        "HUYI_WORKER_DB_NAME": str(connection.settings_dict["NAME"]),
    }
    with tempfile.TemporaryFile("w+") as output:  # not a pipe: a thousand progress lines would fill it
        started = time.perf_counter()
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        _pid, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        text = output.read()
    assert process.returncode == 0, text
    return seconds, usage.ru_maxrss, text


def purge() -> tuple[float, int, str]:
    return run_measured(sys.executable, "-m", "django", "huyi_purge")


def old_sends() -> int:
    return SmsLog.objects.filter(status="delivered").count()


@pytest.mark.django_db(transaction=True)  # real commits: the purge runs in another process
def test_purging_a_million_rows_takes_no_more_memory_than_ten_thousand(postgres):
    section = report.section("purge", "Purging a million rows")
    fill(1, KEPT // 2, days_old=10)  # young: kept
    fill(KEPT // 2 + 1, KEPT, days_old=400, status="queued")  # old but queued: kept
    base_seconds, base_rss, _ = purge()  # nothing to delete: the process itself

    fill(KEPT + 1, KEPT + SMALL, days_old=400)
    small_seconds, small_rss, small_output = purge()
    assert f"{SMALL:,} of {SMALL:,} deleted" in small_output
    assert old_sends() == KEPT // 2 and SmsLog.objects.count() == KEPT

    started = time.perf_counter()
    fill(KEPT + SMALL + 1, KEPT + SMALL + LARGE, days_old=400)
    fill_seconds = time.perf_counter() - started
    large_seconds, large_rss, large_output = purge()
    assert f"{LARGE:,} of {LARGE:,} deleted" in large_output
    assert old_sends() == KEPT // 2 and SmsLog.objects.count() == KEPT

    fill(KEPT + SMALL + LARGE + 1, KEPT + SMALL + LARGE + NAIVE, days_old=400)
    naive_seconds, naive_rss, _ = run_measured(sys.executable, "-c", NAIVE_SCRIPT)
    assert SmsLog.objects.count() == KEPT // 2  # the naive delete took the queued sends too

    mib = 1024
    section.table(
        ["what", "time", "peak RSS"],
        [
            ["`huyi_purge` with nothing to delete (Django starting)", f"{base_seconds:.1f} s", f"{base_rss / mib:.1f} MiB"],
            [f"`huyi_purge`, {SMALL:,} old sends", f"{small_seconds:.1f} s", f"{small_rss / mib:.1f} MiB"],
            [f"`huyi_purge`, {LARGE:,} old sends",
             f"{large_seconds:.1f} s (about {LARGE / (large_seconds - base_seconds):,.0f} rows a second)",
             f"{large_rss / mib:.1f} MiB"],
            [f"for contrast: `SmsLog.objects.filter(created_at__lt=cutoff).delete()`, {NAIVE:,} sends",
             f"{naive_seconds:.1f} s", f"{naive_rss / mib:.1f} MiB"],
        ],
        f"PostgreSQL {connection.pg_version // 10000}, batches of 1,000, `huyi_purge` in a process of its own; "
        f"filling {LARGE:,} rows took {fill_seconds:.0f} s.",
    )
    section.figure(Figure(f"`huyi_purge`, {LARGE:,} old sends, peak RSS", large_rss / mib, "MiB"))
    section.ratio(Ratio.of(f"`huyi_purge` peak RSS, {LARGE:,} rows / {SMALL:,} rows", [large_rss / small_rss], 1.2, "≤"))
    # A hundred times the rows, and the same memory give or take allocator noise: memory, not time,
    # so asserted as well.
    assert large_rss <= small_rss + 16 * mib, f"{large_rss / mib:.1f} MiB at {LARGE:,} vs {small_rss / mib:.1f} MiB"
