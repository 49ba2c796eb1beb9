"""A 10,000-number bulk send through the queue, against the fake provider on loopback
(``BENCH_QUICK=1``: 1,000 numbers, one round).

    python -m benchmarks.bulk_bench URL BROKER

PostgreSQL and Redis (Celery's broker) on this machine. Measured, in order:

* **the call**: ``send_bulk()`` with 10,000 numbers, what a request that starts a bulk send
  pays: every number checked, the opt-out list looked up, 10,000 rows inserted in chunks,
  100 batch tasks handed to the broker on commit. Its time, and this process's peak RSS over
  the call (the high-water mark is reset just before it: ``/proc/self/clear_refs``).
* **the command**: ``huyi_send_bulk FILE CONTENT --no-wait`` on a 10,000-line file (reading,
  checking, recording, queueing), the same way.
* **the sending**: 1 and 2 Celery worker processes (solo pool), already started and idle,
  send the batches: 100 Submits of 100 numbers each. The clock runs from the ``send_bulk()``
  call to the last row recorded as submitted (the workers start on the first batches while
  the call is still handing out the rest). Throughput in messages and in Submits a second,
  and each worker's peak RSS. ``ROUNDS`` rounds, the worker counts alternated, quoted as the
  median with the lowest and highest round: the machine is shared, and one run says little.

No target: the figures say what a bulk send costs here. Prints one JSON object.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import drop_pg_database, setup_django
from benchmarks.report import sized
from benchmarks.worker_bench import _peak_rss_mib, _worker_env, reset_peak_rss, until_submitted

NUMBERS = sized(10_000, 1_000)
BATCH_SIZE = 100
WORKER_COUNTS = (1, 2)
ROUNDS = sized(3, 1)
CONTENT = "【商城】双十一全场五折，详询门店。"


def main() -> None:
    url, broker = sys.argv[1], sys.argv[2]
    queue = f"huyi-bulk-bench-{os.getpid()}"
    marketing_url = url.replace("/webservice/sms.php", "/yx/webservice/sms.php")
    huyi_sms = {
        "ACCOUNT": "C12345678",
        "API_KEY": "bench-api-key-0123456789abcdef",
        "API_URL": url,
        "PRODUCTS": {"marketing": {"ACCOUNT": "M12345678", "API_KEY": "bench-marketing-key", "API_URL": marketing_url}},
        "BACKEND": "django_huyi_sms.backends.ihuyi.IhuyiBackend",
        "CALLBACK_TOKEN": "bench",
        "QUEUE": {"RUNNER": "celery", "QUEUE_NAME": queue},
        "MARKETING": {"BATCH_SIZE": BATCH_SIZE},
    }
    pg_name = setup_django("postgres", huyi_sms)
    try:
        print(json.dumps(run(broker, queue, huyi_sms)))
    finally:
        from django.db import connections

        connections.close_all()
        if pg_name:
            drop_pg_database(pg_name)


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _measured(call) -> dict:
    """Seconds ``call()`` takes, and this process's RSS before it and at its peak."""
    import gc

    gc.collect()
    before = _rss_mib()
    reset_peak_rss()
    started = time.perf_counter()
    call()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rss_before_mib": before, "peak_rss_mib": _peak_rss_mib(os.getpid())}


def _clear(queue: str, broker: str) -> None:
    """An empty table and queue between runs."""
    import redis

    from django_huyi_sms.models import BulkSend, SmsLog

    SmsLog.objects.all().delete()
    BulkSend.objects.all().delete()
    redis.Redis.from_url(broker).delete(queue)


def run(broker: str, queue: str, huyi_sms: dict) -> dict:
    from django.core.management import call_command

    import django_huyi_sms
    from django_huyi_sms.models import SmsLog

    env = _worker_env(broker, queue, huyi_sms)

    numbers = [f"138{n * 7919 % 100_000_000:08d}" for n in range(NUMBERS)]

    # The call, with no worker running: only what the request pays (after a small one, so that
    # connecting to the broker and first imports are not counted).
    _clear(queue, broker)
    django_huyi_sms.send_bulk(numbers[:100], CONTENT)
    _clear(queue, broker)
    call = _measured(lambda: django_huyi_sms.send_bulk(numbers, CONTENT))
    assert SmsLog.objects.filter(status="queued").count() == NUMBERS

    # The command, on a file.
    _clear(queue, broker)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as file:
        file.write("".join(f"{number}\n" for number in numbers))
    try:
        command = _measured(
            lambda: call_command("huyi_send_bulk", file.name, CONTENT, "--no-wait", stdout=io.StringIO(),
                                 stderr=io.StringIO())
        )
    finally:
        os.unlink(file.name)
    assert SmsLog.objects.filter(status="queued").count() == NUMBERS

    # The sending.
    runs: dict[int, list[dict]] = {count: [] for count in WORKER_COUNTS}
    for index in range(ROUNDS):
        order = WORKER_COUNTS[index % len(WORKER_COUNTS) :] + WORKER_COUNTS[: index % len(WORKER_COUNTS)]
        for count in order:
            runs[count].append(_send_with_workers(count, numbers, env, queue, broker))
    sending = {count: _summarised(results) for count, results in runs.items()}
    return {"numbers": NUMBERS, "batch_size": BATCH_SIZE, "call": call, "command": command, "sending": sending}


def _send_with_workers(count: int, numbers: list[str], env: dict[str, str], queue: str, broker: str) -> dict:
    import django_huyi_sms
    from django_huyi_sms.models import SmsLog

    _clear(queue, broker)

    def start() -> float:
        started = time.perf_counter()
        django_huyi_sms.send_bulk(numbers, CONTENT)  # its batches go to the workers on commit
        return time.perf_counter() - started

    elapsed, rss, call_seconds = until_submitted(count, env, queue, NUMBERS, start)
    return {
        "seconds": elapsed,
        "call_seconds": call_seconds,
        "submits": SmsLog.objects.values("smsid").distinct().count(),
        "peak_rss_mib": rss,
    }


def _summarised(results: list[dict]) -> dict:
    """The median round (by time) of one worker count, with the range of all rounds."""
    ordered = sorted(results, key=lambda result: result["seconds"])
    median = ordered[len(ordered) // 2]
    return {
        **median,
        "messages_per_second": NUMBERS / median["seconds"],
        "submits_per_second": median["submits"] / median["seconds"],
        "messages_per_second_range": [NUMBERS / ordered[-1]["seconds"], NUMBERS / ordered[0]["seconds"]],
        "messages_per_second_rounds": [NUMBERS / result["seconds"] for result in results],
        "peak_rss_mib": [max(values) for values in zip(*(result["peak_rss_mib"] for result in results), strict=True)],
        "rounds": len(results),
    }


if __name__ == "__main__":
    main()
