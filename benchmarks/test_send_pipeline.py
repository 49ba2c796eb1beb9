"""The send pipeline, measured side by side (``make bench``), reported through ``benchmarks/report.py``.

* ``send_sms()`` against (a) a bare ``requests.Session`` posting the same signed form and (b) a
  hand-written crash-safe send (INSERT, POST, UPDATE), rounds alternated, on four databases
  (``benchmarks/send_bench.py``). Targets: ≥ 0.9× (b) on the durable settings, ≥ 0.5× (a) with
  the durability cost taken out of both sides.
* 10,000 queued messages through 1, 2 and 4 Celery worker processes (``benchmarks/worker_bench.py``,
  PostgreSQL and Redis), alternated with the bare Session's serial loop round by round. Target:
  4 workers ≥ 2× the bare Session's serial throughput; peak RSS per worker flat as the count grows.
* 100,000 messages queued with ``enqueue_sms()`` while 2 workers send them: the peak RSS of the
  enqueuing process and of the workers after the first tenth and at the end. Target: flat
  (the end within 1.2× the first tenth).

Each measurement runs in a process of its own (its own Django, its own database), against the
fake provider of ``benchmarks/fake_provider.py`` in yet another. Nothing here is a timed test:
the figures are reported, and whether each target holds is said, not asserted.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

import pytest

from benchmarks import report
from benchmarks.harness import DATABASES, ROOT, FakeProviderProcess, pg_available
from benchmarks.report import Figure, Ratio, median_spread, number

REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/13")
DURABLE = {"sqlite-disk", "postgres"}
SIDES = {"ours": "send_sms()", "bare": "bare Session (a)", "hand": "hand-written (b)"}
#: The end's peak RSS over the first tenth's: memory that does not grow with the count.
FLAT = 1.2


def _run(module: str, *args: str, timeout: float = 3600) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if done.returncode != 0:
        raise AssertionError(f"{module} failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _redis_available() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS, socket_connect_timeout=2).ping())
    except Exception:
        return False


def _needs_queue(section: report.Section, what: str) -> None:
    if not (pg_available() and _redis_available()):
        section.skip(f"{what}: needs PostgreSQL on 127.0.0.1:5432 and Redis ({REDIS})")
        pytest.skip(f"{what} needs PostgreSQL on 127.0.0.1:5432 and Redis ({REDIS})")
    pytest.importorskip("celery")


def test_the_send_pipeline_against_bare_and_hand_written_sends():
    section = report.section("send-pipeline", "The send pipeline")
    provider = FakeProviderProcess()
    try:
        sends = []
        for database in DATABASES:
            if database.startswith("postgres") and not pg_available():
                section.skip(f"{database}: no PostgreSQL on 127.0.0.1:5432")
                continue
            sends.append(_run("benchmarks.send_bench", database, provider.url))
    finally:
        provider.stop()
    report_sends(section, sends)
    assert sends, "nothing was measured"


def report_sends(section: report.Section, sends: list[dict]) -> None:
    rows = []
    for result in sends:
        t = result["throughput"]
        cells = [f"{number(t[side]['median'])}/s ({number(t[side]['spread'][0])}–{number(t[side]['spread'][1])})"
                 for side in SIDES]
        ratios = [f"{r[0]:.2f} ({r[1]:.2f}–{r[2]:.2f})" for r in (result["ratio_bare"], result["ratio_hand"])]
        rows.append([result["database"], *cells, *ratios])
        database, rounds = result["database"], result["rounds"]
        if database in DURABLE:
            section.ratio(Ratio(f"send_sms() / hand-written (b), {database}", *result["ratio_hand"], rounds, 0.9))
        else:
            section.ratio(Ratio(f"send_sms() / bare Session (a), {database}", *result["ratio_bare"], rounds, 0.5))
    if sends:
        section.table(
            ["database", *SIDES.values(), "send_sms() / (a)", "send_sms() / (b)"], rows,
            f"Messages a second, the median of {sends[0]['rounds']} rounds of {sends[0]['per_round']} "
            "(lowest–highest round); the ratios round by round.",
        )
        chart = section.chart("send-databases", "One send at a time, by database", "database", "messages a second",
                              kind="bars")
        for side, label in SIDES.items():
            chart.add(label, [(r["database"], r["throughput"][side]["median"]) for r in sends],
                      [tuple(r["throughput"][side]["spread"]) for r in sends])



def _worker_bench(mode: str) -> dict:
    """``benchmarks.worker_bench`` in ``mode`` ("scaling" or "memory") against a fake provider of its own."""
    provider = FakeProviderProcess()
    try:
        return _run("benchmarks.worker_bench", provider.url, REDIS, mode)
    finally:
        provider.stop()


def test_queued_sends_through_1_2_and_4_workers():
    section = report.section("send-workers", "Queued sends through the workers")
    _needs_queue(section, "worker scaling")
    result = _worker_bench("scaling")
    report_workers(section, result)
    assert all(len(run["throughput"]) == result["rounds"] for run in result["workers"].values())


def report_workers(section: report.Section, result: dict) -> None:
    bare = result["bare_serial"]
    workers = {int(count): run for count, run in result["workers"].items()}
    section.table(
        ["workers", "messages a second (lowest–highest round)", "seconds (median)", "peak RSS per worker"],
        [
            [str(count), median_spread(run["throughput"]), number(statistics.median(run["seconds"])),
             ", ".join(f"{value:.0f} MiB" for value in run["peak_rss_mib"])]
            for count, run in workers.items()
        ],
        f"{result['messages']:,} queued messages a run, PostgreSQL, Redis as Celery's broker, {result['rounds']} "
        "rounds; the bare Session's serial loop alternated with them.",
    )
    section.figure(Figure.of("bare Session, serial", bare, "messages/s"))
    most = max(workers)
    section.ratio(Ratio.of(f"{most} workers / bare Session serial",
                           [w / b for w, b in zip(workers[most]["throughput"], bare, strict=True)], 2.0))
    chart = section.chart("send-workers", "Queued sends against worker processes", "Celery worker processes",
                          "messages a second")
    chart.add("workers (PostgreSQL, Redis)",
              [(count, statistics.median(run["throughput"])) for count, run in workers.items()],
              [(min(run["throughput"]), max(run["throughput"])) for run in workers.values()])
    median_bare = statistics.median(bare)
    chart.reference("bare Session, serial", median_bare)
    chart.reference("target: 2× bare", 2 * median_bare)


def test_peak_memory_while_sending_100000_messages():
    section = report.section("send-memory", "Peak memory while sending 100,000 messages")
    _needs_queue(section, "the send path's memory")
    result = _worker_bench("memory")
    report_memory(section, result)


def report_memory(section: report.Section, result: dict) -> None:
    messages, tenth = result["messages"], result["messages"] // 10
    before, at_tenth, at_end = result["before"], result["at_tenth"], result["at_end"]
    section.table(
        ["process", "RSS before", f"peak after {tenth:,}", f"peak after {messages:,}"],
        [
            ["enqueuing (`enqueue_sms()`)", *(f"{peaks['enqueuer']:.1f} MiB" for peaks in (before, at_tenth, at_end))],
            *[
                [f"worker {index + 1}", *(f"{peaks['workers'][index]:.1f} MiB" for peaks in (before, at_tenth, at_end))]
                for index in range(result["workers"])
            ],
        ],
        f"{messages:,} messages queued with `enqueue_sms()`, {result['per_transaction']} to a transaction, while "
        f"{result['workers']} Celery workers send them (PostgreSQL, Redis); VmHWM of each process.",
    )
    section.figure(Figure(f"enqueuing process, peak RSS over {messages:,} messages", at_end["enqueuer"], "MiB"))
    section.figure(Figure(f"workers, peak RSS over {messages:,} messages (the larger)", max(at_end["workers"]), "MiB"))
    section.figure(Figure("enqueuing", result["enqueue_seconds"], "s"))
    section.figure(Figure("queued to the last one submitted", result["seconds"], "s"))
    section.figure(Figure("end to end", messages / result["seconds"], "messages/s"))
    section.ratio(Ratio.of(f"enqueuing process: peak RSS after {messages:,} / after {tenth:,}",
                           [at_end["enqueuer"] / at_tenth["enqueuer"]], FLAT, "≤"))
    worst = max(end / early for end, early in zip(at_end["workers"], at_tenth["workers"], strict=True))
    section.ratio(Ratio.of(f"workers: peak RSS after {messages:,} / after {tenth:,} (the larger)", [worst], FLAT, "≤"))
