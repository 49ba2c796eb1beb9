"""The send pipeline, measured side by side (``make bench``): printed with its targets, and written
to ``docs/benchmarks.md`` (with the machine it ran on) and ``test-artifacts/bench-send.json``.

* ``send_sms()`` against (a) a bare ``requests.Session`` posting the same signed form and (b) a
  hand-written crash-safe send (INSERT, POST, UPDATE), rounds alternated, on four databases
  (``benchmarks/send_bench.py``). Targets: ≥ 0.9× (b) on the durable settings, ≥ 0.5× (a) with
  the durability cost taken out of both sides.
* 10,000 queued messages through 1, 2 and 4 Celery worker processes (``benchmarks/worker_bench.py``,
  PostgreSQL and Redis). Target: 4 workers ≥ 2× the bare Session's serial throughput; peak RSS
  per worker flat as the count grows.

Each measurement runs in a process of its own (its own Django, its own database), against the
fake provider of ``benchmarks/fake_provider.py`` in yet another. Nothing here is a timed test:
the figures are printed and written down, and whether each target holds is said, not asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from benchmarks.harness import ARTIFACTS, DATABASES, ROOT, FakeProviderProcess, machine, pg_available

DOC = ROOT / "docs" / "benchmarks.md"
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/13")
DURABLE = {"sqlite-disk", "postgres"}


def _run(module: str, *args: str, timeout: float = 1800) -> dict:
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


def test_the_send_pipeline_against_bare_and_hand_written_sends():
    provider = FakeProviderProcess()
    skipped: list[str] = []
    try:
        sends = []
        for database in DATABASES:
            if database.startswith("postgres") and not pg_available():
                skipped.append(f"{database}: no PostgreSQL on 127.0.0.1:5432")
                continue
            sends.append(_run("benchmarks.send_bench", database, provider.url))
        workers = None
        if pg_available() and _redis_available():
            pytest.importorskip("celery")
            workers = _run("benchmarks.worker_bench", provider.url, REDIS)
        else:
            skipped.append("worker scaling: needs PostgreSQL and Redis")
    finally:
        provider.stop()
    report = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(),
              "sends": sends, "workers": workers, "skipped": skipped}
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "bench-send.json").write_text(json.dumps(report, indent=2))
    lines = summary_lines(report)
    print("\n" + "\n".join(lines))
    write_doc(report)
    assert sends, "nothing was measured"


def _targets(report: dict) -> list[tuple[str, float, float, float, float, bool]]:
    """(what, ratio, low, high, target, holds) for every target the run could measure."""
    rows = []
    for result in report["sends"]:
        database = result["database"]
        if database in DURABLE:
            ratio, low, high = result["ratio_hand"]
            rows.append((f"send_sms / hand-written, {database}", ratio, low, high, 0.9, ratio >= 0.9))
        else:
            ratio, low, high = result["ratio_bare"]
            rows.append((f"send_sms / bare Session, {database}", ratio, low, high, 0.5, ratio >= 0.5))
    workers = report.get("workers")
    if workers:
        four = workers["workers"]["4"]["throughput"] / workers["bare_serial"]
        rows.append(("4 workers / bare Session serial", four, four, four, 2.0, four >= 2.0))
    return rows


def summary_lines(report: dict) -> list[str]:
    lines = ["== the send pipeline (messages a second, median of rounds; ratios round by round) =="]
    for result in report["sends"]:
        t = result["throughput"]
        lines.append(
            f"{result['database']:>15}: send_sms {t['ours']['median']:7.0f}  bare {t['bare']['median']:7.0f}  "
            f"hand-written {t['hand']['median']:7.0f}"
        )
    workers = report.get("workers")
    if workers:
        lines.append(f"bare Session, serial: {workers['bare_serial']:.0f}/s")
        for count, result in workers["workers"].items():
            rss = ", ".join(f"{value:.0f}" for value in result["peak_rss_mib"])
            lines.append(f"{count} worker(s): {result['throughput']:.0f}/s, peak RSS per worker {rss} MiB")
    for what, ratio, low, high, target, holds in _targets(report):
        lines.append(f"{what}: {ratio:.2f}x ({low:.2f}–{high:.2f}), target >= {target}x: {'holds' if holds else 'DOES NOT HOLD'}")
    lines.extend(f"skipped: {reason}" for reason in report["skipped"])
    return lines


def _svg_workers(workers: dict) -> str:
    """Throughput against worker count, with the bare serial line and the 2x target line."""
    counts = [int(count) for count in workers["workers"]]
    values = [workers["workers"][str(count)]["throughput"] for count in counts]
    bare = workers["bare_serial"]
    top = max([*values, 2 * bare]) * 1.15
    width, height, left, bottom, right, up = 480, 260, 56, 36, 16, 16
    plot_w, plot_h = width - left - right, height - bottom - up

    def x(count: int) -> float:
        return left + plot_w * (counts.index(count) + 0.5) / len(counts)

    def y(value: float) -> float:
        return up + plot_h * (1 - value / top)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'font-family="sans-serif" font-size="11">',
        f'<rect x="{left}" y="{up}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>',
    ]
    for tick in range(0, int(top) + 1, max(1, int(top / 5 / 100) * 100 or 100)):
        parts.append(f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick}</text>')
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#eee"/>')
    for value, colour, label in ((bare, "#6c757d", "bare Session, serial"), (2 * bare, "#dc3545", "target: 2× bare")):
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="{colour}" '
            'stroke-dasharray="4 3"/>'
        )
        parts.append(f'<text x="{left + plot_w - 4}" y="{y(value) - 4:.1f}" text-anchor="end" fill="{colour}">{label}</text>')
    points = " ".join(f"{x(c):.1f},{y(v):.1f}" for c, v in zip(counts, values, strict=True))
    parts.append(f'<polyline points="{points}" fill="none" stroke="#0d6efd" stroke-width="2"/>')
    for count, value in zip(counts, values, strict=True):
        parts.append(f'<circle cx="{x(count):.1f}" cy="{y(value):.1f}" r="3.5" fill="#0d6efd"/>')
        parts.append(f'<text x="{x(count):.1f}" y="{y(value) - 8:.1f}" text-anchor="middle">{value:.0f}/s</text>')
        parts.append(f'<text x="{x(count):.1f}" y="{height - bottom + 16}" text-anchor="middle">{count}</text>')
    parts.append(f'<text x="{left + plot_w / 2}" y="{height - 4}" text-anchor="middle">Celery worker processes</text>')
    parts.append(f'<text x="12" y="{up + plot_h / 2}" transform="rotate(-90 12 {up + plot_h / 2})" '
                 'text-anchor="middle">messages a second</text>')
    parts.append("</svg>")
    return "\n".join(parts)


START, END = "<!-- send-pipeline: begin (written by make bench) -->", "<!-- send-pipeline: end -->"


def write_doc(report: dict) -> None:
    """Replace the send-pipeline section of docs/benchmarks.md (the rest of the page is left alone)."""
    m = report["machine"]
    rows = [
        START,
        "",
        f"Run {report['when']} on {m['cpu']}, {m['cores']} cores, {m['memory']}, {m['system']}, Python {m['python']}.",
        "",
        "| database | `send_sms()` | bare Session (a) | hand-written (b) | `send_sms` / (a) | `send_sms` / (b) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for result in report["sends"]:
        t = result["throughput"]
        ratio_a, ratio_b = result["ratio_bare"], result["ratio_hand"]
        rows.append(
            f"| {result['database']} | {t['ours']['median']:.0f}/s | {t['bare']['median']:.0f}/s | "
            f"{t['hand']['median']:.0f}/s | {ratio_a[0]:.2f} ({ratio_a[1]:.2f}–{ratio_a[2]:.2f}) | "
            f"{ratio_b[0]:.2f} ({ratio_b[1]:.2f}–{ratio_b[2]:.2f}) |"
        )
    rows += ["", "| target | measured | holds |", "|---|---:|---|"]
    for what, ratio, _low, _high, target, holds in _targets(report):
        rows.append(f"| {what} ≥ {target}× | {ratio:.2f}× | {'yes' if holds else '**no**'} |")
    workers = report.get("workers")
    if workers:
        svg = ARTIFACTS / "bench-workers.svg"
        svg.write_text(_svg_workers(workers))
        (DOC.parent / "benchmarks-workers.svg").write_text(_svg_workers(workers))
        rows += [
            "",
            f"10,000 queued messages, PostgreSQL, Redis as Celery's broker; bare Session serial "
            f"{workers['bare_serial']:.0f}/s (before and after: "
            + ", ".join(f"{value:.0f}" for value in workers["bare_rounds"]) + ").",
            "",
            "| workers | messages a second | seconds | peak RSS per worker |",
            "|---:|---:|---:|---|",
        ]
        for count, result in workers["workers"].items():
            rss = ", ".join(f"{value:.0f} MiB" for value in result["peak_rss_mib"])
            rows.append(f"| {count} | {result['throughput']:.0f} | {result['seconds']:.1f} | {rss} |")
        rows += ["", "![Throughput against worker processes](benchmarks-workers.svg)"]
    rows += ["", *(f"Skipped: {reason}." for reason in report["skipped"]), "", END]
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n\n"
    section = "\n".join(rows)
    if START in text and END in text:
        text = text[: text.index(START)] + section + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n## The send pipeline\n\n" + section + "\n"
    DOC.write_text(text, encoding="utf-8")
