"""A 10,000-number bulk send through the queue (``make bench``): printed, and written to
``docs/benchmarks.md`` (with the machine it ran on) and ``test-artifacts/bench-bulk.json``.

``benchmarks/bulk_bench.py`` runs in a process of its own (its own Django, a fresh PostgreSQL
database, Redis as Celery's broker), against the fake provider of ``benchmarks/fake_provider.py``
in another. There is no target: the figures say what a bulk send costs on this machine, and
nothing here is a timed test.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from benchmarks.harness import ARTIFACTS, FakeProviderProcess, machine, pg_available
from benchmarks.test_send_pipeline import DOC, REDIS, _redis_available, _run

START, END = "<!-- bulk-send: begin (written by make bench) -->", "<!-- bulk-send: end -->"


def test_a_bulk_send_of_10000_numbers_through_the_queue():
    if not (pg_available() and _redis_available()):
        pytest.skip("the bulk send benchmark needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379")
    pytest.importorskip("celery")
    provider = FakeProviderProcess()
    try:
        result = _run("benchmarks.bulk_bench", provider.url, REDIS)
    finally:
        provider.stop()
    report = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(), **result}
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "bench-bulk.json").write_text(json.dumps(report, indent=2))
    print("\n" + "\n".join(summary_lines(report)))
    write_doc(report)
    assert all(run["submits"] == result["numbers"] // result["batch_size"] for run in result["sending"].values())


def summary_lines(report: dict) -> list[str]:
    call, command = report["call"], report["command"]
    lines = [
        f"== a bulk send of {report['numbers']:,} numbers, {report['batch_size']} a Submit (no target) ==",
        f"send_bulk() call: {call['seconds']:.2f} s, RSS {call['rss_before_mib']:.0f} -> peak {call['peak_rss_mib']:.0f} MiB",
        f"huyi_send_bulk --no-wait: {command['seconds']:.2f} s, RSS {command['rss_before_mib']:.0f} -> peak "
        f"{command['peak_rss_mib']:.0f} MiB",
    ]
    for count, run in report["sending"].items():
        rss = ", ".join(f"{value:.0f}" for value in run["peak_rss_mib"])
        low, high = run["messages_per_second_range"]
        lines.append(
            f"{count} worker(s): {run['messages_per_second']:.0f} messages/s ({low:.0f}–{high:.0f} over {run['rounds']} "
            f"rounds; {run['submits_per_second']:.1f} Submits/s), {run['seconds']:.1f} s in all, peak RSS per worker {rss} MiB"
        )
    return lines


def write_doc(report: dict) -> None:
    """Replace the bulk-send section of docs/benchmarks.md (the rest of the page is left alone)."""
    m = report["machine"]
    call, command = report["call"], report["command"]
    rows = [
        START,
        "",
        f"Run {report['when']} on {m['cpu']}, {m['cores']} cores, {m['memory']}, {m['system']}, Python {m['python']}:",
        f"{report['numbers']:,} numbers, {report['batch_size']} a Submit, PostgreSQL, Redis as Celery's broker.",
        "",
        "| step | seconds | RSS before | peak RSS |",
        "|---|---:|---:|---:|",
        f"| `send_bulk()` (checked, 10,000 rows written, 100 tasks queued) | {call['seconds']:.2f} | "
        f"{call['rss_before_mib']:.0f} MiB | {call['peak_rss_mib']:.0f} MiB |",
        f"| `huyi_send_bulk FILE CONTENT --no-wait` (the same, read from a file) | {command['seconds']:.2f} | "
        f"{command['rss_before_mib']:.0f} MiB | {command['peak_rss_mib']:.0f} MiB |",
        "",
        "| workers | messages a second (lowest–highest round) | Submits a second | seconds, from the call to the last "
        "row submitted | peak RSS per worker |",
        "|---:|---:|---:|---:|---|",
    ]
    for count, run in report["sending"].items():
        rss = ", ".join(f"{value:.0f} MiB" for value in run["peak_rss_mib"])
        low, high = run["messages_per_second_range"]
        rows.append(
            f"| {count} | {run['messages_per_second']:.0f} ({low:.0f}–{high:.0f}) | {run['submits_per_second']:.1f} | "
            f"{run['seconds']:.1f} | {rss} |"
        )
    rows += ["", END]
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n\n"
    section = "\n".join(rows)
    if START in text and END in text:
        text = text[: text.index(START)] + section + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n## A bulk send of 10,000 numbers\n\n" + section + "\n"
    DOC.write_text(text, encoding="utf-8")
