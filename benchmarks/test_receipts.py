"""Receipt pushes through gunicorn on PostgreSQL (``make bench``; the soak alone: ``make soak``).

* The receipt URL against two bare Django views on the same site: (a) the same durable work by hand
  (INSERT the raw receipt, UPDATE the status by smsid, one transaction) and (b) one UPDATE by smsid
  (``benchmarks/receipt_bench.py``). Targets: ≥ 0.9× (a), ≥ 0.6× (b). Printed with the CPU a receipt
  costs the workers and the database, and how busy the machine was; written to
  ``test-artifacts/bench-receipts.json``. Whether a target holds is said, not asserted: the figures
  depend on the machine. What is asserted is that every push was answered ``success`` and applied.
* The soak (``slow``): 500 receipts a second for 60 seconds, 5% of them retries, from a bounded
  generator on 127.0.0.1. Asserted: no error, every receipt stored and applied exactly once (each
  transition's signal counted), every status right. The rate reached is printed against its target.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from benchmarks import report
from benchmarks.harness import ARTIFACTS, ROOT, machine, pg_available
from benchmarks.report import Figure, Ratio, number

SOAK_RATE, SOAK_SECONDS = 500, 60
CONCURRENCIES = report.sized((1, 4, 16), (2, 8))


def _needs_site() -> None:
    if not pg_available():
        pytest.skip("the receipt benchmark needs PostgreSQL on 127.0.0.1:5432 (or BENCH_PG)")
    pytest.importorskip("gunicorn", reason="the receipt benchmark serves through gunicorn: `make bench` installs it")


def _run(*args: str, timeout: float = 1800) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.receipt_bench", *args], cwd=ROOT, capture_output=True, text=True,
        timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if done.returncode != 0:
        raise AssertionError(f"receipt_bench {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _write(name: str, result: dict) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    report = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(), **result}
    (ARTIFACTS / name).write_text(json.dumps(report, indent=2))


def summary_lines(result: dict) -> list[str]:
    t, cpu = result["throughput"], result["cpu_ms_per_receipt"]
    lines = [
        f"== receipt pushes, gunicorn ({result['workers']} sync workers) on PostgreSQL, {result['concurrency']} "
        f"in flight, {result['per_round']} a round, {result['rounds']} rounds (receipts a second, median and range) ==",
    ]
    names = {"ours": "receipt URL", "durable": "bare INSERT+UPDATE", "update": "bare UPDATE"}
    for side, label in names.items():
        low, high = t[side]["spread"]
        lines.append(
            f"{label:>19}: {t[side]['median']:6.0f}/s ({low:.0f}–{high:.0f}); CPU a receipt: workers "
            f"{cpu[side]['workers']:.2f} ms, database {cpu[side]['database']:.2f} ms"
        )
    for key, label, target in (("ratio_durable", "bare INSERT+UPDATE", 0.9), ("ratio_update", "bare UPDATE", 0.6)):
        ratio, low, high = result[key]
        holds = "holds" if ratio >= target else "DOES NOT HOLD"
        lines.append(f"receipt URL / {label}: {ratio:.2f}x ({low:.2f}–{high:.2f}), target >= {target}x: {holds}")
    before, after = result["load_before"], result["load_after"]
    lines.append(
        f"load average before {before['loadavg']} and after {after['loadavg']} on {before['cores']} cores"
        + (" — a busy machine: not final figures" if max(before["loadavg"][0], after["loadavg"][0]) > 1 else "")
    )
    return lines


def test_receipt_pushes_against_bare_views():
    _needs_site()
    results = []
    for concurrency in CONCURRENCIES:  # the chart of receipts a second against pushes in flight
        result = _run("bench", "--concurrency", str(concurrency), *report.sized((), ("--per-round", "200", "--rounds", "3")))
        _write(f"bench-receipts-{concurrency}.json", result)
        print("\n" + "\n".join(summary_lines(result)))
        results.append(result)
    report_receipts(results)
    for result in results:
        assert result["errors"] == {"ours": 0, "durable": 0, "update": 0}
        assert result["sends_left_unapplied"] == 0


@pytest.mark.slow
def test_receipts_at_500_a_second_for_a_minute_each_applied_once():
    _needs_site()
    result = _run("soak", "--rate", str(SOAK_RATE), "--seconds", str(SOAK_SECONDS))
    _write("soak-receipts.json", result)
    report_soak(result)
    latency = result["latency_ms"]
    reached = "reached" if result["rate_achieved"] >= 0.98 * SOAK_RATE else "NOT REACHED"
    print(
        f"\n== receipt soak: {result['pushes']} pushes in {result['seconds']:.0f} s, "
        f"{result['rate_achieved']:.0f}/s (target {SOAK_RATE}/s: {reached}); latency p50 {latency['p50']:.1f} ms, "
        f"p99 {latency['p99']:.1f} ms, max {latency['max']:.0f} ms; {result['errors']} errors; "
        f"load average {result['load_before']['loadavg']} → {result['load_after']['loadavg']} =="
    )
    assert result["errors"] == 0, result["error_samples"]
    assert result["stored"] == result["pushes"]  # every push kept, retries too
    assert result["originals"] == result["distinct_receipts"]  # and the retries labelled duplicates
    assert result["unlinked"] == 0
    assert result["wrong_status"] == 0
    assert result["transitions"] == result["distinct_receipts"] and result["sends_moved_twice"] == 0


SIDES = {"ours": "receipt URL", "durable": "bare INSERT+UPDATE view", "update": "bare UPDATE view"}


def report_receipts(results: list[dict]) -> None:
    """The bench's runs (one per concurrency) through ``benchmarks/report.py``: ratios, CPU, the chart."""
    section = report.section("receipts", "Receipt pushes")
    rows = []
    for result in results:
        t, cpu, c = result["throughput"], result["cpu_ms_per_receipt"], result["concurrency"]
        for side, label in SIDES.items():
            low, high = t[side]["spread"]
            rows.append([str(c), label, f"{number(t[side]['median'])} ({number(low)}–{number(high)})",
                         f"{cpu[side]['workers']:.2f}", f"{cpu[side]['database']:.2f}"])
        for key, side, target in (("ratio_durable", "durable", 0.9), ("ratio_update", "update", 0.6)):
            section.ratio(Ratio(f"receipt URL / {SIDES[side]}, {c} in flight", *result[key], result["rounds"], target))
    first = results[0]
    section.table(
        ["in flight", "URL", "receipts a second (lowest–highest round)", "CPU a receipt, workers (ms)",
         "CPU a receipt, database (ms)"],
        rows,
        f"gunicorn, {first['workers']} sync workers, PostgreSQL; {first['per_round']} receipts a round, "
        f"{first['rounds']} rounds, the URLs alternated.",
    )
    chart = section.chart("receipts", "Receipt pushes against concurrency", "pushes in flight", "receipts a second")
    ordered = sorted(results, key=lambda result: result["concurrency"])
    for side, label in SIDES.items():
        chart.add(label, [(r["concurrency"], r["throughput"][side]["median"]) for r in ordered],
                  [tuple(r["throughput"][side]["spread"]) for r in ordered])


def report_soak(result: dict) -> None:
    section = report.section("receipts", "Receipt pushes")
    section.ratio(Ratio.of(f"soak: receipts a second reached / {SOAK_RATE} asked, {SOAK_SECONDS} s",
                           [result["rate_achieved"] / SOAK_RATE], 0.98))
    latency = result["latency_ms"]
    section.figure(Figure("soak latency, p50", latency["p50"], "ms"))
    section.figure(Figure("soak latency, p99", latency["p99"], "ms"))
