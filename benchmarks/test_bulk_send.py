"""A 10,000-number bulk send through the queue (``make bench``), reported through ``benchmarks/report.py``.

``benchmarks/bulk_bench.py`` runs in a process of its own (its own Django, a fresh PostgreSQL
database, Redis as Celery's broker), against the fake provider of ``benchmarks/fake_provider.py``
in another. There is no target: the figures say what a bulk send costs on this machine, and
nothing here is a timed test.
"""

from __future__ import annotations

from benchmarks import report
from benchmarks.harness import FakeProviderProcess
from benchmarks.report import Figure, median_spread
from benchmarks.test_send_pipeline import REDIS, _needs_queue, _run


def test_a_bulk_send_of_10000_numbers_through_the_queue():
    section = report.section("bulk-send", "A bulk send of 10,000 numbers")
    _needs_queue(section, "the bulk send")
    provider = FakeProviderProcess()
    try:
        result = _run("benchmarks.bulk_bench", provider.url, REDIS)
    finally:
        provider.stop()
    report_bulk(section, result)
    assert all(run["submits"] == result["numbers"] // result["batch_size"] for run in result["sending"].values())


def report_bulk(section: report.Section, result: dict) -> None:
    call, command, numbers = result["call"], result["command"], result["numbers"]
    section.table(
        ["step", "seconds", "RSS before", "peak RSS"],
        [
            [f"`send_bulk()` (checked, {numbers:,} rows written, {numbers // result['batch_size']} tasks queued)",
             f"{call['seconds']:.2f}", f"{call['rss_before_mib']:.0f} MiB", f"{call['peak_rss_mib']:.0f} MiB"],
            ["`huyi_send_bulk FILE CONTENT --no-wait` (the same, read from a file)", f"{command['seconds']:.2f}",
             f"{command['rss_before_mib']:.0f} MiB", f"{command['peak_rss_mib']:.0f} MiB"],
        ],
        f"{numbers:,} numbers, {result['batch_size']} a Submit, PostgreSQL, Redis as Celery's broker.",
    )
    rows = []
    for count, run in result["sending"].items():
        rows.append([
            count, median_spread(run["messages_per_second_rounds"]), f"{run['submits_per_second']:.1f}",
            f"{run['seconds']:.1f}", ", ".join(f"{value:.0f} MiB" for value in run["peak_rss_mib"]),
        ])
        section.figure(Figure.of(f"{count} worker(s), messages a second", run["messages_per_second_rounds"], "messages/s"))
    section.table(
        ["workers", "messages a second (lowest–highest round)", "Submits a second", "seconds, from the call to the "
         "last row submitted (median round)", "peak RSS per worker"],
        rows,
    )
    section.figure(Figure("`send_bulk()` call", call["seconds"], "s"))
    section.figure(Figure("`send_bulk()` call, peak RSS", call["peak_rss_mib"], "MiB"))
