"""How every benchmark reports: ratios against their targets, plain figures, tables and charts.

A benchmark asks for its section and puts what it measured there::

    from benchmarks import report

    section = report.section("send-pipeline", "The send pipeline")
    section.ratio(report.Ratio("send_sms() / hand-written, postgres", 0.99, 0.88, 1.08, rounds=9, target=0.9))
    section.figure(report.Figure("peak RSS, worker", 88.4, "MiB"))
    section.chart("send-workers", "Queued sends against worker processes", "workers", "messages a second")

At the end of the pytest session (``benchmarks/conftest.py``) the collector prints every ratio with
its target and whether it holds, then writes the results into ``docs/benchmarks.md``: the machine
the run was on and a table of every ratio at the top, and each section between its markers
(``<!-- bench:KEY begin … -->`` … ``<!-- bench:KEY end -->``), with its charts as SVG files beside
the page. Everything else on the page is prose and stays as written. A section this run did not
measure keeps its last figures (each section says when it was measured; the ratios table reads
them back from the data each section carries in a comment).

``make bench-quick`` (``BENCH_QUICK=1``) runs every benchmark small, to see them work in minutes:
its figures say nothing, so it writes to ``test-artifacts/benchmarks.md`` and leaves docs/ alone.

Nothing here asserts a time: whether a target holds is said, never made a test failure.
"""

from __future__ import annotations

import html
import json
import math
import operator
import os
import platform
import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, TypeVar

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
DOC = ROOT / "docs" / "benchmarks.md"
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")

Direction = Literal["≥", "≤", "<", ">"]
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "≥": operator.ge,
    "≤": operator.le,
    "<": operator.lt,
    ">": operator.gt,
}


def sized(full: T, quick: T) -> T:
    """``full`` for ``make bench``; ``quick`` for ``make bench-quick`` (``BENCH_QUICK=1``)."""
    return quick if QUICK else full


def number(value: float) -> str:
    """A figure as the tables print it: no more digits than it has meaning."""
    if value != value:  # NaN: nothing was measured
        return "–"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def median_spread(values: Sequence[float]) -> str:
    """The median of rounds with the lowest and highest: ``1,541 (1,497–1,603)``."""
    return f"{number(statistics.median(values))} ({number(min(values))}–{number(max(values))})"


def count(value: float) -> str:
    """A row or message count, short: 1k, 100k, 1M."""
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if value >= size and value % size == 0:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


@dataclass
class Ratio:
    """A against B (``name`` says which is which), the median of its rounds with the lowest and highest.

    ``target`` and ``direction``: what the median must be (``≥ 0.9``, ``< 1.0``)."""

    name: str
    median: float
    low: float
    high: float
    rounds: int
    target: float
    direction: Direction = "≥"

    @classmethod
    def of(cls, name: str, values: Sequence[float], target: float, direction: Direction = "≥") -> Ratio:
        """From the round-by-round ratios."""
        return cls(name, statistics.median(values), min(values), max(values), len(values), target, direction)

    @property
    def holds(self) -> bool:
        return _COMPARE[self.direction](self.median, self.target)

    @property
    def verdict(self) -> str:
        return "holds" if self.holds else "DOES NOT HOLD"

    @property
    def spread(self) -> str:
        return f"{self.low:.2f}–{self.high:.2f}"

    @property
    def shown(self) -> str:
        """The median to two places, or as many more as it takes not to read as the target it misses or meets."""
        places = next((p for p in range(2, 6) if f"{self.median:.{p}f}" != f"{self.target:.{p}f}"), 2)
        return f"{self.median:.{places}f}×"

    @property
    def goal(self) -> str:
        return f"{self.direction} {self.target:g}×"


@dataclass
class Figure:
    """A plain measurement (MiB, messages a second, seconds), with its spread when it had rounds."""

    name: str
    value: float
    unit: str
    low: float | None = None
    high: float | None = None
    rounds: int = 1

    @classmethod
    def of(cls, name: str, values: Sequence[float], unit: str) -> Figure:
        """The median of the rounds, with the lowest and highest."""
        return cls(name, statistics.median(values), unit, min(values), max(values), len(values))

    @property
    def text(self) -> str:
        spread = "" if self.low is None or self.high is None else f" ({number(self.low)}–{number(self.high)})"
        return f"{number(self.value)} {self.unit}{spread}"


@dataclass
class Series:
    label: str
    points: list[tuple[float | str, float]]
    #: The lowest and highest round at each point (whiskers), when there were rounds.
    spreads: list[tuple[float, float]] | None = None


@dataclass
class Chart:
    """One SVG chart: lines over numbers or categories (``x_scale="log"`` for row counts), or grouped bars."""

    key: str
    title: str
    x_label: str
    y_label: str
    kind: Literal["line", "bars"] = "line"
    x_scale: Literal["category", "log"] = "category"
    series: list[Series] = field(default_factory=list)
    #: Horizontal dashed lines: (label, value), a baseline or a target.
    references: list[tuple[str, float]] = field(default_factory=list)

    @property
    def filename(self) -> str:
        return f"benchmarks-{self.key}.svg"

    def add(
        self, label: str, points: Sequence[tuple[float | str, float]], spreads: Sequence[tuple[float, float]] | None = None
    ) -> Chart:
        self.series.append(Series(label, list(points), list(spreads) if spreads is not None else None))
        return self

    def reference(self, label: str, value: float) -> Chart:
        self.references.append((label, value))
        return self

    def svg(self) -> str:
        return _svg(self)


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    caption: str = ""

    def markdown(self) -> list[str]:
        lines = [self.caption, ""] if self.caption else []
        lines.append("| " + " | ".join(self.headers) + " |")
        lines.append("|" + "|".join("---" if index == 0 else "---:" for index in range(len(self.headers))) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return lines


@dataclass
class Section:
    """What one benchmark measured, in the order the page shows it: tables, ratios, figures, charts, notes."""

    key: str
    title: str
    ratios: list[Ratio] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    when: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    load: list[float] = field(default_factory=lambda: [os.getloadavg()[0]] * 2)

    def _touched(self) -> None:
        self.load[1] = os.getloadavg()[0]

    def ratio(self, ratio: Ratio) -> Ratio:
        self.ratios.append(ratio)
        self._touched()
        return ratio

    def figure(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        self._touched()
        return figure

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]], caption: str = "") -> Table:
        table = Table(list(headers), [list(row) for row in rows], caption)
        self.tables.append(table)
        self._touched()
        return table

    def note(self, text: str) -> None:
        self.notes.append(text)

    def skip(self, reason: str) -> None:
        self.skipped.append(reason)

    def chart(self, key: str, title: str = "", x_label: str = "", y_label: str = "", **options: str) -> Chart:
        """The chart ``key`` of this section, made on first use (another benchmark may add series to it)."""
        for chart in self.charts:
            if chart.key == key:  # the first to name its title and axes names them for all
                chart.title, chart.x_label, chart.y_label = chart.title or title, chart.x_label or x_label, chart.y_label or y_label
                for name, value in options.items():
                    setattr(chart, name, value)
                return chart
        chart = Chart(key, title, x_label, y_label, **options)  # type: ignore[arg-type]
        self.charts.append(chart)
        return chart

    def markdown(self, machine_line: str) -> list[str]:
        load = f"load average {self.load[0]:.2f} → {self.load[1]:.2f}"
        lines = [f"Measured {self.when.replace('T', ' ')} on {machine_line}; {load}.", ""]
        for table in self.tables:
            lines += [*table.markdown(), ""]
        if self.ratios:
            lines += [
                *Table(
                    ["ratio", "median (lowest–highest round)", "rounds", "target", "holds"],
                    [[r.name, f"{r.shown} ({r.spread})", str(r.rounds), r.goal, "yes" if r.holds else "**no**"]
                     for r in self.ratios],
                ).markdown(),
                "",
            ]
        if self.figures:
            lines += [*Table(["figure", "value"], [[f.name, f.text] for f in self.figures]).markdown(), ""]
        lines += [f"![{chart.title}]({chart.filename})\n" for chart in self.charts]
        lines += [f"{note}\n" for note in self.notes]
        lines += [f"Skipped: {reason}.\n" for reason in self.skipped]
        data = {"title": self.title, "when": self.when, "ratios": [asdict(ratio) for ratio in self.ratios]}
        lines.append(f"<!-- bench-data {_comment_safe(json.dumps(data, ensure_ascii=False))} -->")
        return lines


def _comment_safe(text: str) -> str:
    # "--" may not appear inside an HTML comment; JSON reads the escape back as the same characters.
    return text.replace("--", "-\\u002d")


def _begin(key: str) -> str:
    return f"<!-- bench:{key} begin (written by make bench) -->"


def _end(key: str) -> str:
    return f"<!-- bench:{key} end -->"


SUMMARY = "summary"


class Collector:
    """Every section of this pytest session; printed and written at its end."""

    def __init__(self) -> None:
        self.sections: dict[str, Section] = {}
        self.started = datetime.now(UTC)
        self.load_start = os.getloadavg()
        self.test_load = self.load_start[0]

    def test_started(self) -> None:
        """A benchmark starts: its section's load average is counted from here (conftest calls it)."""
        self.test_load = os.getloadavg()[0]

    def section(self, key: str, title: str) -> Section:
        if key not in self.sections:
            self.sections[key] = Section(key, title, load=[self.test_load, os.getloadavg()[0]])
        return self.sections[key]

    @property
    def ratios(self) -> list[tuple[Section, Ratio]]:
        return [(section, ratio) for section in self.sections.values() for ratio in section.ratios]

    def summary_lines(self) -> list[str]:
        """Every ratio with its target and whether it holds, then every figure, as plain text."""
        lines = [
            f"== benchmarks{' (BENCH_QUICK: smoke-test sizes, the figures mean nothing)' if QUICK else ''}: "
            "every ratio, the median of its rounds (lowest–highest), against its target =="
        ]
        rows = [
            [section.title, ratio.name, ratio.shown, f"({ratio.spread})",
             f"{ratio.rounds} round{'' if ratio.rounds == 1 else 's'}",
             ratio.goal, ratio.verdict]
            for section, ratio in self.ratios
        ]
        lines += _columns(rows) or ["(no ratio was measured)"]
        figures = [[section.title, figure.name, figure.text] for section in self.sections.values() for figure in section.figures]
        if figures:
            lines += ["== figures ==", *_columns(figures)]
        skipped = [f"{section.title}: {reason}" for section in self.sections.values() for reason in section.skipped]
        if skipped:
            lines += ["== skipped ==", *skipped]
        held = sum(ratio.holds for _section, ratio in self.ratios)
        lines.append(f"{held} of {len(self.ratios)} targets hold; load average {self.load_start[0]:.2f} at the start, "
                     f"{os.getloadavg()[0]:.2f} at the end, on {os.cpu_count()} cores")
        return lines

    def write(self, doc: Path | None = None, source: Path = DOC, artifacts: Path = ARTIFACTS) -> list[Path]:
        """Write the measured sections, their charts and the summary into ``doc``. Returns the files written.

        ``doc``: docs/benchmarks.md, or under BENCH_QUICK a copy of it in test-artifacts/ (the
        smoke run's figures do not belong in the docs). ``source``: the page it starts from."""
        if not self.sections:
            return []
        if doc is None:
            doc = artifacts / "benchmarks.md" if QUICK else source
        doc.parent.mkdir(parents=True, exist_ok=True)
        text = source.read_text(encoding="utf-8") if source.exists() else "# Benchmarks\n"
        info = machine()
        machine_line = f"{info['cpu']}, {info['cores']} cores, {info['memory']}"
        written = []
        for section in self.sections.values():
            if not (section.ratios or section.figures or section.tables or section.charts):
                continue  # skipped: its block keeps the figures of its last run
            text = _replace(text, section.key, section.title, "\n".join(section.markdown(machine_line)))
            for chart in section.charts:
                path = doc.parent / chart.filename
                path.write_text(chart.svg(), encoding="utf-8")
                written.append(path)
        text = _replace(text, SUMMARY, "Results", "\n".join(self._summary_markdown(text, info)), first=True)
        doc.write_text(text, encoding="utf-8")
        artifacts.mkdir(exist_ok=True)
        (artifacts / "bench-report.json").write_text(
            json.dumps(
                {"quick": QUICK, "machine": info, "load": [self.load_start[0], os.getloadavg()[0]],
                 "sections": {key: asdict(section) for key, section in self.sections.items()}},
                indent=2, ensure_ascii=False,
            ),
            encoding="utf-8",
        )
        return [doc, *written]

    def _summary_markdown(self, text: str, info: dict[str, str]) -> list[str]:
        end = os.getloadavg()
        lines = [
            f"The last run{' (`make bench-quick`: smoke-test sizes)' if QUICK else ''}: "
            f"{self.started.isoformat(timespec='seconds').replace('T', ' ')}, sections "
            + ", ".join(_link(text, section) for section in self.sections.values()
                        if section.ratios or section.figures or section.tables)
            + ".",
            "",
            "| machine | |",
            "|---|---|",
            f"| CPU | {info['cpu']}, {info['cores']} cores |",
            f"| memory | {info['memory']} |",
            f"| system | {info['system']} |",
            f"| Python, Django | {info['python']}, {info['django']} |",
            f"| PostgreSQL, SQLite | {info['postgresql']}, {info['sqlite']} |",
            f"| load average (1, 5, 15 min) | start {_load(self.load_start)}; end {_load(end)} |",
            "",
            "Every ratio on this page, the median of its rounds with the lowest and highest round:",
            "",
            "| section | ratio | median | lowest–highest | rounds | target | holds | measured |",
            "|---|---|---:|---:|---:|---|---|---|",
        ]
        for data in _section_data(text):
            for raw in data["ratios"]:
                ratio = Ratio(**raw)
                lines.append(
                    f"| {data['title']} | {ratio.name} | {ratio.shown} | {ratio.spread} | {ratio.rounds} | "
                    f"{ratio.goal} | {'yes' if ratio.holds else '**no**'} | {data['when'][:10]} |"
                )
        return lines


def _load(values: Sequence[float]) -> str:
    return ", ".join(f"{value:.2f}" for value in values)


def _link(text: str, section: Section) -> str:
    """A link to ``section`` under the heading its block sits under on the page (its title if none)."""
    at = text.find(_begin(section.key))
    headings = re.findall(r"^#+ (.+)$", text[: at if at >= 0 else len(text)], flags=re.M)
    heading = headings[-1].strip() if headings else section.title
    return f"[{heading}](#{_anchor(heading)})"


def _anchor(title: str) -> str:
    """MkDocs' anchor for a heading (lower case, punctuation dropped, spaces to hyphens)."""
    return re.sub(r"[\s]+", "-", re.sub(r"[^\w\s-]", "", title.lower()).strip())


def _section_data(text: str) -> list[dict]:
    return [
        json.loads(match.group(1)) for match in re.finditer(r"<!-- bench-data (.*?) -->", text)
    ]


def _replace(text: str, key: str, title: str, body: str, *, first: bool = False) -> str:
    """``text`` with the block ``key`` holding ``body``; a new block goes under a heading of its own
    at the end (``first``: after the page's opening paragraphs, before its first ``##`` heading)."""
    block = f"{_begin(key)}\n\n{body}\n\n{_end(key)}"
    start, end = text.find(_begin(key)), text.find(_end(key))
    if start >= 0 and end > start:
        return text[:start] + block + text[end + len(_end(key)) :]
    heading = f"## {title}\n\n{block}\n"
    if first and "\n## " in text:
        at = text.index("\n## ") + 1
        return text[:at] + heading + "\n" + text[at:]
    return text.rstrip("\n") + "\n\n" + heading


def _columns(rows: list[list[str]]) -> list[str]:
    if not rows:
        return []
    widths = [max(len(row[index]) for row in rows) for index in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]


def machine() -> dict[str, str]:
    """The machine and the software a run measured: CPU, cores, memory, system, Python, Django, the databases."""
    import sqlite3

    import django

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kib / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": memory,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "django": django.__version__,
        "postgresql": _postgresql_version(),
        "sqlite": sqlite3.sqlite_version,
    }


def _postgresql_version() -> str:
    from benchmarks.harness import PG_DSN

    try:
        import psycopg

        with psycopg.connect(PG_DSN, connect_timeout=2) as connection:
            row = connection.execute("SHOW server_version").fetchone()
            return f"PostgreSQL {row[0].split()[0]}" if row else "PostgreSQL"
    except Exception:
        return "no PostgreSQL"


collector = Collector()


def section(key: str, title: str) -> Section:
    """The section ``key`` of this run (``title``: its heading on the page, when the page has none yet)."""
    return collector.section(key, title)


# -- the charts -------------------------------------------------------------------------------------

PALETTE = ("#0d6efd", "#fd7e14", "#198754", "#6f42c1", "#d63384", "#20c997", "#6c757d", "#795548")
REFERENCE_COLOURS = ("#6c757d", "#dc3545", "#6f42c1")
WIDTH, HEIGHT = 640, 320
LEFT, RIGHT, TOP, BOTTOM = 64, 190, 34, 44  # the legend sits in the right margin


def _nice_step(top: float) -> float:
    raw = top / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(step * magnitude for step in (1, 2, 2.5, 5, 10) if step * magnitude >= raw)


def _svg(chart: Chart) -> str:
    """The chart as a small standalone SVG: axes from zero, a grid, whiskers for the spread, a legend."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    highs = [high for s in chart.series for _low, high in (s.spreads or [])]
    top = max([*(y for s in chart.series for _x, y in s.points), *highs, *(v for _l, v in chart.references), 1e-9])
    step = _nice_step(top * 1.08)
    top = step * math.ceil(top * 1.08 / step)
    xs: list[float | str] = []
    for s in chart.series:
        xs += [x for x, _y in s.points if x not in xs]
    if xs and all(isinstance(x, int | float) for x in xs):
        xs.sort(key=float)

    def y_at(value: float) -> float:
        return TOP + plot_h * (1 - value / top)

    def x_at(x: float | str) -> float:
        if chart.x_scale == "log" and len(xs) > 1:
            low, high = math.log10(float(xs[0])), math.log10(float(xs[-1]))
            return LEFT + 30 + (plot_w - 60) * (math.log10(float(x)) - low) / (high - low)
        return LEFT + plot_w * (xs.index(x) + 0.5) / max(len(xs), 1)

    esc = html.escape
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        'font-family="sans-serif" font-size="11">',
        f"<title>{esc(chart.title)}</title>",
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>',
        f'<text x="{LEFT}" y="18" font-size="13" font-weight="bold">{esc(chart.title)}</text>',
    ]
    tick = 0.0
    while tick <= top + step / 2:
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y_at(tick):.1f}" y2="{y_at(tick):.1f}" stroke="#e9ecef"/>')
        label = f"{tick:,.0f}" if step >= 1 else f"{tick:g}"
        parts.append(f'<text x="{LEFT - 6}" y="{y_at(tick) + 4:.1f}" text-anchor="end">{label}</text>')
        tick += step
    parts.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#adb5bd"/>')
    for x in xs:
        label = count(float(x)) if isinstance(x, int | float) else str(x)
        parts.append(f'<text x="{x_at(x):.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">{esc(label)}</text>')
    parts.append(f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 8}" text-anchor="middle">{esc(chart.x_label)}</text>')
    middle = TOP + plot_h / 2
    parts.append(f'<text x="14" y="{middle}" transform="rotate(-90 14 {middle})" text-anchor="middle">'
                 f"{esc(chart.y_label)}</text>")

    legend: list[tuple[str, str, bool]] = []
    group = plot_w / max(len(xs), 1)
    bar = group * 0.7 / max(len(chart.series), 1)
    for index, s in enumerate(chart.series):
        colour = PALETTE[index % len(PALETTE)]
        legend.append((s.label, colour, False))
        centres = []
        order = sorted(range(len(s.points)), key=lambda i: x_at(s.points[i][0]))  # a line runs left to right
        for point_index in order:
            x, y = s.points[point_index]
            if chart.kind == "bars":
                cx = x_at(x) - group * 0.35 + bar * (index + 0.5)
                parts.append(f'<rect x="{cx - bar / 2 + 1:.1f}" y="{y_at(y):.1f}" width="{bar - 2:.1f}" '
                             f'height="{TOP + plot_h - y_at(y):.1f}" fill="{colour}"/>')
            else:  # series side by side at one x, a few pixels apart, so their whiskers do not hide each other
                cx = x_at(x) + 7 * (index - (len(chart.series) - 1) / 2)
                parts.append(f'<circle cx="{cx:.1f}" cy="{y_at(y):.1f}" r="3" fill="{colour}"/>')
            centres.append(f"{cx:.1f},{y_at(y):.1f}")
            above = y
            if s.spreads:
                low, above = s.spreads[point_index]
                parts.append(f'<path d="M{cx - 4:.1f} {y_at(low):.1f}h8M{cx:.1f} {y_at(low):.1f}V{y_at(above):.1f}'
                             f'M{cx - 4:.1f} {y_at(above):.1f}h8" stroke="#212529" fill="none"/>')
            if len(chart.series) <= 3:  # more would write over each other: the page's table has them
                parts.append(f'<text x="{cx:.1f}" y="{y_at(max(y, above)) - 5:.1f}" text-anchor="middle" '
                             f'font-size="9" fill="{colour}">{number(y)}</text>')
        if chart.kind == "line" and len(centres) > 1:
            parts.append(f'<polyline points="{" ".join(centres)}" fill="none" stroke="{colour}" stroke-width="2"/>')
    for index, (label, value) in enumerate(chart.references):
        colour = REFERENCE_COLOURS[index % len(REFERENCE_COLOURS)]
        legend.append((label, colour, True))
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y_at(value):.1f}" y2="{y_at(value):.1f}" '
                     f'stroke="{colour}" stroke-dasharray="5 3"/>')
    for index, (label, colour, dashed) in enumerate(legend):
        y = TOP + 8 + 16 * index
        dash = ' stroke-dasharray="5 3"' if dashed else ""
        parts.append(f'<line x1="{LEFT + plot_w + 12}" x2="{LEFT + plot_w + 32}" y1="{y}" y2="{y}" stroke="{colour}" '
                     f'stroke-width="{2 if not dashed else 1.5}"{dash}/>')
        parts.append(f'<text x="{LEFT + plot_w + 38}" y="{y + 4}">{esc(label)}</text>')
    if any(s.spreads for s in chart.series):
        y = TOP + 8 + 16 * len(legend)
        parts.append(f'<text x="{LEFT + plot_w + 12}" y="{y + 4}" fill="#495057">whiskers: lowest–highest round</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
