"""Queued sends through Celery worker processes against the fake provider. PostgreSQL and Redis (the
broker) on this machine; the workers are started and idle before the clock runs.

    python -m benchmarks.worker_bench URL BROKER scaling|memory

``scaling``: 10,000 queued messages through 1, 2 and 4 workers. The rows are written first; the
clock runs from handing them to the queue (100 tasks of 100) to the last one recorded as
submitted. Beside it, a bare requests.Session posting the same signed form, one after another
(the serial throughput the target compares with). ``ROUNDS`` rounds, the bare loop and the
worker counts alternated in a rotating order.

``memory``: 100,000 messages through 2 workers, queued the way a site's batch job queues them:
``enqueue_sms()`` one by one, 100 to a transaction (each transaction's rows go to a worker as one
task on commit), while the workers send. The peak RSS (VmHWM) of the enqueuing process and of
each worker after the first tenth has been sent, and at the end: memory must not grow with the
count.

``BENCH_QUICK=1``: a few thousand messages, one round. Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from benchmarks.harness import ROOT, drop_pg_database, setup_django
from benchmarks.report import sized
from benchmarks.send_bench import CONTENT, bare_loop

T = TypeVar("T")

MESSAGES = sized(10_000, 1_000)
WORKER_COUNTS = (1, 2, 4)
ROUNDS = sized(3, 1)
BARE_MESSAGES = sized(2_000, 300)
MEMORY_MESSAGES, MEMORY_WORKERS, PER_TRANSACTION = sized(100_000, 3_000), 2, 100


def main() -> None:
    url, broker, mode = sys.argv[1], sys.argv[2], sys.argv[3]
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
        print(json.dumps((run if mode == "scaling" else memory)(url, broker, queue, huyi_sms)))
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


@contextmanager
def workers_running(count: int, env: dict[str, str], queue: str) -> Iterator[list[subprocess.Popen]]:
    """``count`` workers, started and idle, stopped on the way out."""
    workers = _start_workers(count, env, queue)
    try:
        yield workers
    finally:
        for worker in workers:
            os.killpg(worker.pid, signal.SIGTERM)
        for worker in workers:
            worker.wait(30)


def wait_submitted(expected: int, started: float) -> float:
    """Wait until ``expected`` rows are submitted; the seconds since ``started``."""
    from django_huyi_sms.models import SmsLog

    while SmsLog.objects.filter(status="submitted").count() < expected:
        time.sleep(0.05)
        if time.perf_counter() - started > 1800:
            raise RuntimeError("workers did not finish in 30 minutes")
    return time.perf_counter() - started


def until_submitted(count: int, env: dict[str, str], queue: str, expected: int, start: Callable[[], T]) -> tuple[float, list[float], T]:
    """Start ``count`` workers, call ``start`` (it hands the work to the queue), wait until ``expected``
    rows are submitted, stop the workers. Returns the seconds from ``start`` to the last row
    submitted, each worker's peak RSS in MiB, and what ``start`` returned."""
    with workers_running(count, env, queue) as workers:
        started = time.perf_counter()
        handed = start()
        elapsed = wait_submitted(expected, started)
        return elapsed, [_peak_rss_mib(worker.pid) for worker in workers], handed


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # Linux: VmHWM starts again from the current RSS


def _worker_env(broker: str, queue: str, huyi_sms: dict) -> dict[str, str]:
    """The workers' environment (Django and Celery from BENCH_DJANGO); this process's Celery app the same."""
    from django.db import connection

    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "BENCH_DJANGO": json.dumps(
            {"database": {**connection.settings_dict, "TIME_ZONE": None}, "huyi_sms": huyi_sms, "broker": broker,
             "queue": queue},
            default=str,
        ),
    }
    os.environ["BENCH_DJANGO"] = env["BENCH_DJANGO"]
    import benchmarks.celery_app  # noqa: F401  the same broker and queue in this process

    return env


def run(url: str, broker: str, queue: str, huyi_sms: dict) -> dict:
    from django.utils import timezone

    from django_huyi_sms import tasks
    from django_huyi_sms.models import SmsLog

    env = _worker_env(broker, queue, huyi_sms)

    def with_workers(count: int) -> tuple[float, list[float]]:
        SmsLog.objects.all().delete()
        now = timezone.now()
        rows = SmsLog.objects.bulk_create(
            SmsLog(mobile=f"138{n:08d}", content=CONTENT, dispatched_at=now) for n in range(MESSAGES)
        )
        pks = [row.pk for row in rows]
        elapsed, rss, _ = until_submitted(count, env, queue, MESSAGES, lambda: tasks.dispatch(pks))
        return elapsed, rss

    sides: list[int | str] = ["bare", *WORKER_COUNTS]
    bare: list[float] = []
    results: dict[int, dict[str, Any]] = {
        count: {"throughput": [], "seconds": [], "peak_rss_mib": [0.0] * count} for count in WORKER_COUNTS
    }
    for index in range(ROUNDS):
        for side in sides[index % len(sides) :] + sides[: index % len(sides)]:
            if side == "bare":
                bare.append(bare_loop(url, BARE_MESSAGES))
                continue
            assert isinstance(side, int)
            elapsed, rss = with_workers(side)
            result = results[side]
            result["throughput"].append(MESSAGES / elapsed)
            result["seconds"].append(elapsed)
            result["peak_rss_mib"] = [max(pair) for pair in zip(result["peak_rss_mib"], rss, strict=True)]
    return {"messages": MESSAGES, "rounds": ROUNDS, "bare_serial": bare, "workers": results}


def memory(url: str, broker: str, queue: str, huyi_sms: dict) -> dict:
    """Peak RSS of the enqueuing process and of each worker while MEMORY_MESSAGES are queued and sent."""
    from django.db import transaction

    import django_huyi_sms
    from django_huyi_sms.models import SmsLog

    env = _worker_env(broker, queue, huyi_sms)
    django_huyi_sms.enqueue_sms("13800000000", CONTENT)  # connect to the broker, first imports: not counted
    SmsLog.objects.all().delete()
    tenth = MEMORY_MESSAGES // 10

    def enqueue(first: int, last: int) -> None:
        for start in range(first, last, PER_TRANSACTION):
            with transaction.atomic():
                for n in range(start, min(start + PER_TRANSACTION, last)):
                    django_huyi_sms.enqueue_sms(f"139{n:08d}", CONTENT)

    def peaks(workers: list[subprocess.Popen]) -> dict[str, Any]:
        return {"enqueuer": _peak_rss_mib(os.getpid()), "workers": [_peak_rss_mib(w.pid) for w in workers]}

    with workers_running(MEMORY_WORKERS, env, queue) as workers:
        import gc

        gc.collect()
        reset_peak_rss()
        before = peaks(workers)
        started = time.perf_counter()
        enqueue(0, tenth)
        wait_submitted(tenth, started)
        at_tenth = peaks(workers)
        enqueue(tenth, MEMORY_MESSAGES)
        enqueued = time.perf_counter() - started
        seconds = wait_submitted(MEMORY_MESSAGES, started)
        at_end = peaks(workers)
    assert SmsLog.objects.count() == MEMORY_MESSAGES
    return {
        "messages": MEMORY_MESSAGES,
        "per_transaction": PER_TRANSACTION,
        "workers": MEMORY_WORKERS,
        "enqueue_seconds": enqueued,
        "seconds": seconds,
        "before": before,
        "at_tenth": at_tenth,
        "at_end": at_end,
    }


if __name__ == "__main__":
    main()
