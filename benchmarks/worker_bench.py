"""10,000 queued messages through 1, 2 and 4 Celery worker processes against the fake provider.

    python -m benchmarks.worker_bench URL

PostgreSQL and Redis (the broker) on this machine. The rows are written first; the clock runs
from handing them to the queue (100 tasks of 100) to the last one recorded as submitted, with
the workers already started and idle. Beside it, a bare requests.Session posting the same
signed form, one after another (the serial throughput the target compares with), measured
before and after. Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from benchmarks.harness import ROOT, drop_pg_database, setup_django
from benchmarks.send_bench import CONTENT, bare_loop

T = TypeVar("T")

MESSAGES = 10_000
WORKER_COUNTS = (1, 2, 4)


def main() -> None:
    url, broker = sys.argv[1], sys.argv[2]
    queue = f"huyi-bench-{os.getpid()}"
    huyi_sms = {
        "ACCOUNT": "C12345678",
        "API_KEY": "bench-api-key-0123456789abcdef",
        "API_URL": url,
        "BACKEND": "django_huyi_sms.backends.ihuyi.IhuyiBackend",
        "CALLBACK_TOKEN": "bench",
        "QUEUE": {"RUNNER": "celery", "QUEUE_NAME": queue, "BATCH_SIZE": 100},
    }
    pg_name = setup_django("postgres", huyi_sms)
    try:
        print(json.dumps(run(url, broker, queue, huyi_sms)))
    finally:
        from django.db import connections

        connections.close_all()
        if pg_name:
            drop_pg_database(pg_name)


def _start_workers(count: int, env: dict[str, str], queue: str) -> list[subprocess.Popen]:
    # Kept open (and so on disk) while the workers run: closed with them, at the end of the process.
    logs = [tempfile.NamedTemporaryFile(prefix="huyi-bench-worker-", suffix=".log") for _ in range(count)]  # noqa: SIM115
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "benchmarks.celery_app", "worker", "--pool", "solo",
             "--loglevel", "INFO", "--without-heartbeat", "--without-gossip", "--without-mingle",
             "--queues", queue, "--hostname", f"bench{n}@%h"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True,
        )
        for n, log in enumerate(logs)
    ]
    deadline = time.monotonic() + 60
    for log in logs:  # each is ready when it says so (its log goes to a file: a pipe would fill and stall it)
        while b" ready." not in Path(log.name).read_bytes():
            if time.monotonic() > deadline:
                raise RuntimeError("a worker did not start within 60 s")
            time.sleep(0.05)
    for worker, log in zip(workers, logs, strict=True):
        worker.log = log  # type: ignore[attr-defined]  kept open (and so on disk) while it runs
    return workers


def until_submitted(count: int, env: dict[str, str], queue: str, expected: int, start: Callable[[], T]) -> tuple[float, list[float], T]:
    """Start ``count`` workers, call ``start`` (it hands the work to the queue), wait until ``expected``
    rows are submitted, stop the workers. Returns the seconds from ``start`` to the last row
    submitted, each worker's peak RSS in MiB, and what ``start`` returned."""
    from django_huyi_sms.models import SmsLog

    workers = _start_workers(count, env, queue)
    try:
        started = time.perf_counter()
        handed = start()
        while SmsLog.objects.filter(status="submitted").count() < expected:
            time.sleep(0.05)
            if time.perf_counter() - started > 600:
                raise RuntimeError("workers did not finish in 10 minutes")
        elapsed = time.perf_counter() - started
        return elapsed, [_peak_rss_mib(worker.pid) for worker in workers], handed
    finally:
        for worker in workers:
            os.killpg(worker.pid, signal.SIGTERM)
        for worker in workers:
            worker.wait(30)


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run(url: str, broker: str, queue: str, huyi_sms: dict) -> dict:
    from django.db import connection
    from django.utils import timezone

    from django_huyi_sms import tasks
    from django_huyi_sms.models import SmsLog

    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "BENCH_DJANGO": json.dumps(
            {"database": {**connection.settings_dict, "TIME_ZONE": None}, "huyi_sms": huyi_sms, "broker": broker, "queue": queue},
            default=str,
        ),
    }
    os.environ["BENCH_DJANGO"] = env["BENCH_DJANGO"]
    import benchmarks.celery_app  # noqa: F401  the same broker and queue in this process

    bare = [bare_loop(url, 2000)]
    results = {}
    for count in WORKER_COUNTS:
        SmsLog.objects.all().delete()
        now = timezone.now()
        rows = SmsLog.objects.bulk_create(
            SmsLog(mobile=f"138{n:08d}", content=CONTENT, dispatched_at=now) for n in range(MESSAGES)
        )
        pks = [row.pk for row in rows]
        elapsed, rss, _ = until_submitted(count, env, queue, MESSAGES, lambda pks=pks: tasks.dispatch(pks))
        results[count] = {"throughput": MESSAGES / elapsed, "seconds": elapsed, "peak_rss_mib": rss}
    bare.append(bare_loop(url, 2000))
    return {"messages": MESSAGES, "bare_serial": statistics.median(bare), "bare_rounds": bare, "workers": results}


if __name__ == "__main__":
    main()
