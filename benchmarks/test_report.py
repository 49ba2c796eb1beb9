"""The report every benchmark goes through (``benchmarks/report.py``): verdicts, the page it writes, the charts.

No database, no timing: these run in a second (``pytest benchmarks/test_report.py``).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from benchmarks.report import Chart, Collector, Figure, Ratio

SVG = "{http://www.w3.org/2000/svg}"

PAGE = """# Benchmarks

Why the targets are what they are: prose that no run may touch.

## Results

<!-- bench:summary begin (written by make bench) -->

old summary

<!-- bench:summary end -->

## Sends

Sends prose.

<!-- bench:sends begin (written by make bench) -->

old sends figures

<!-- bench:sends end -->

## Codes

Codes prose.

<!-- bench:codes begin (written by make bench) -->

Codes measured long ago.

<!-- bench-data {"title": "Codes", "when": "2026-11-30T10:00:00+00:00", "ratios": [{"name": "ours / theirs, sqlite", "median": 1.2, "low": 1.1, "high": 1.3, "rounds": 9, "target": 1.0, "direction": "<"}]} -->

<!-- bench:codes end -->

The end of the page.
"""


@pytest.mark.parametrize(
    ("direction", "median", "holds"),
    [("≥", 0.9, True), ("≥", 0.89, False), ("≤", 2.0, True), ("≤", 2.01, False), ("<", 1.0, False), ("<", 0.99, True)],
)
def test_a_ratio_holds_by_its_median_against_its_target_in_its_direction(direction, median, holds):
    target = {"≥": 0.9, "≤": 2.0, "<": 1.0}[direction]
    ratio = Ratio("A / B", median, median / 2, median * 2, 5, target, direction)
    assert ratio.holds is holds
    assert ratio.verdict == ("holds" if holds else "DOES NOT HOLD")


def test_a_ratio_and_a_figure_from_rounds_are_the_median_with_the_lowest_and_highest():
    ratio = Ratio.of("A / B", [1.3, 0.8, 1.0, 1.1, 0.9], 1.0)
    assert (ratio.median, ratio.low, ratio.high, ratio.rounds) == (1.0, 0.8, 1.3, 5)
    figure = Figure.of("peak RSS", [88.0, 90.0, 89.0], "MiB")
    assert (figure.value, figure.low, figure.high, figure.unit) == (89.0, 88.0, 90.0, "MiB")
    assert figure.text == "89.0 MiB (88.0–90.0)"


def test_the_summary_prints_every_ratio_with_its_target_and_verdict():
    collector = Collector()
    collector.section("sends", "Sends").ratio(Ratio("send_sms() / hand-written", 0.95, 0.9, 1.0, 9, 0.9))
    collector.section("workers", "Workers").ratio(Ratio("4 workers / bare", 0.91, 0.88, 0.95, 3, 2.0))
    collector.section("workers", "Workers").skip("no Redis")
    lines = "\n".join(collector.summary_lines())
    assert re.search(r"send_sms\(\) / hand-written\s+0\.95×\s+\(0\.90–1\.00\)\s+9 rounds\s+≥ 0\.9×\s+holds", lines)
    assert re.search(r"4 workers / bare\s+0\.91×\s+\(0\.88–0\.95\)\s+3 rounds\s+≥ 2×\s+DOES NOT HOLD", lines)
    assert "Workers: no Redis" in lines
    assert "1 of 2 targets hold" in lines


def test_writing_replaces_the_measured_sections_and_the_summary_and_keeps_the_prose(tmp_path: Path):
    source = tmp_path / "benchmarks.md"
    source.write_text(PAGE, encoding="utf-8")
    collector = Collector()
    sends = collector.section("sends", "Sends")
    sends.table(["database", "send_sms()"], [["postgres", "860/s"]], "Messages a second.")
    sends.ratio(Ratio("send_sms() / hand-written, postgres", 0.99, 0.88, 1.08, 9, 0.9))
    sends.figure(Figure("bare Session, serial", 2542, "messages/s"))
    sends.chart("sends", "Sends", "database", "messages a second", kind="bars").add("ours", [("postgres", 860)])
    collector.section("skipped", "Skipped").skip("no Redis")  # nothing measured: nothing written

    written = collector.write(source, source=source, artifacts=tmp_path / "artifacts")
    text = source.read_text(encoding="utf-8")

    assert written == [source, tmp_path / "benchmarks-sends.svg"]
    for prose in ("Why the targets are what they are", "Sends prose.", "Codes prose.", "The end of the page."):
        assert text.count(prose) == 1
    assert "old sends figures" not in text and "old summary" not in text
    sends_block = text[text.index("<!-- bench:sends begin"):text.index("<!-- bench:sends end -->")]
    assert "| postgres | 860/s |" in sends_block
    assert "| send_sms() / hand-written, postgres | 0.99× (0.88–1.08) | 9 | ≥ 0.9× | yes |" in sends_block
    assert "| bare Session, serial | 2,542 messages/s |" in sends_block
    assert "![Sends](benchmarks-sends.svg)" in sends_block
    # The section this run did not measure keeps its figures, and the summary still lists its ratio.
    assert "Codes measured long ago." in text
    summary = text[text.index("<!-- bench:summary begin"):text.index("<!-- bench:summary end -->")]
    assert "| Sends | send_sms() / hand-written, postgres | 0.99× | 0.88–1.08 | 9 | ≥ 0.9× | yes |" in summary
    assert "| Codes | ours / theirs, sqlite | 1.20× | 1.10–1.30 | 9 | < 1× | **no** | 2026-11-30 |" in summary
    assert "| CPU |" in summary and "| PostgreSQL, SQLite |" in summary and "load average" in summary
    assert "## Skipped" not in text
    stored = json.loads((tmp_path / "artifacts" / "bench-report.json").read_text(encoding="utf-8"))
    assert stored["sections"]["sends"]["ratios"][0]["median"] == 0.99

    # A second run reads its own data back: the page does not grow, no ratio is listed twice.
    collector.write(source, source=source, artifacts=tmp_path / "artifacts")
    again = source.read_text(encoding="utf-8")
    assert again.count("<!-- bench:sends begin") == 1 and again.count("## ") == text.count("## ")
    assert again.count("| Sends | send_sms() / hand-written, postgres |") == 1
    assert len(again.splitlines()) == len(text.splitlines())


def test_a_section_the_page_does_not_have_yet_gets_a_heading_of_its_own(tmp_path: Path):
    source = tmp_path / "benchmarks.md"
    source.write_text("# Benchmarks\n\nIntro.\n\n## Sends\n\nProse.\n", encoding="utf-8")
    collector = Collector()
    collector.section("admin-stock", "The admin against the stock changelist").ratio(Ratio("ours / stock", 1.1, 1.0, 1.2, 5, 1.5, "≤"))
    collector.write(source, source=source, artifacts=tmp_path)
    text = source.read_text(encoding="utf-8")
    assert text.index("## Results") < text.index("## Sends") < text.index("## The admin against the stock changelist")
    assert "[The admin against the stock changelist](#the-admin-against-the-stock-changelist)" in text


def test_a_ratio_name_with_a_double_hyphen_does_not_end_the_comment_that_carries_it(tmp_path: Path):
    source = tmp_path / "benchmarks.md"
    source.write_text("# Benchmarks\n", encoding="utf-8")
    collector = Collector()
    collector.section("odd", "Odd").ratio(Ratio("--no-wait / plain", 1.0, 1.0, 1.0, 1, 1.0))
    collector.write(source, source=source, artifacts=tmp_path)
    text = source.read_text(encoding="utf-8")
    data = re.search(r"<!-- bench-data (.*?) -->", text)
    assert data and json.loads(data.group(1))["ratios"][0]["name"] == "--no-wait / plain"
    assert "| Odd | --no-wait / plain |" in text


def test_a_line_chart_is_an_svg_with_a_line_per_series_in_order_of_x_and_the_reference_lines():
    chart = Chart("workers", "Workers & co", "workers", "messages a second")
    chart.add("workers", [(4, 2303.0), (1, 1541.0), (2, 2242.0)], [(2200, 2400), (1500, 1600), (2100, 2300)])
    chart.reference("bare, serial", 2542.0).reference("target: 2× bare", 5084.0)
    root = ET.fromstring(chart.svg())
    assert root.find(f"{SVG}title").text == "Workers & co"
    (line,) = root.findall(f"{SVG}polyline")
    xs = [float(point.split(",")[0]) for point in line.get("points").split()]
    ys = [float(point.split(",")[1]) for point in line.get("points").split()]
    assert xs == sorted(xs) and ys[0] > ys[1] > ys[2]  # 1, 2, 4 workers; SVG's y grows downwards
    dashed = [element for element in root.findall(f"{SVG}line") if element.get("stroke-dasharray")]
    assert len(dashed) == 4  # two reference lines, and their two legend swatches
    texts = [element.text for element in root.iter(f"{SVG}text")]
    assert {"workers", "bare, serial", "target: 2× bare", "whiskers: lowest–highest round"} <= set(texts)
    assert {"1", "2", "4"} <= set(texts)


def test_a_bar_chart_groups_its_series_by_category_and_a_log_chart_spaces_rows_by_their_logarithm():
    bars = Chart("codes", "Codes", "database", "ms", kind="bars")
    bars.add("ours", [("sqlite-disk", 4.2), ("sqlite-memory", 0.7)]).add("theirs", [("sqlite-disk", 3.8), ("sqlite-memory", 1.5)])
    rects = [r for r in ET.fromstring(bars.svg()).findall(f"{SVG}rect") if r.get("fill") not in ("#fff", "none")]
    assert len(rects) == 4
    heights = sorted(float(r.get("height")) for r in rects)
    assert heights[-1] / heights[0] == pytest.approx(4.2 / 0.7, rel=0.02)

    rows = Chart("admin", "Admin", "rows", "ms", x_scale="log")
    rows.add("list", [(1_000, 250.0), (10_000, 255.0), (100_000, 260.0), (1_000_000, 270.0)])
    (line,) = ET.fromstring(rows.svg()).findall(f"{SVG}polyline")
    xs = [float(point.split(",")[0]) for point in line.get("points").split()]
    assert xs[1] - xs[0] == pytest.approx(xs[2] - xs[1], abs=0.2) == pytest.approx(xs[3] - xs[2], abs=0.2)
    assert {"1k", "10k", "100k", "1M"} <= {element.text for element in ET.fromstring(rows.svg()).iter(f"{SVG}text")}


def test_the_summary_links_a_section_by_the_heading_its_block_sits_under(tmp_path: Path):
    source = tmp_path / "benchmarks.md"
    source.write_text(
        "# Benchmarks\n\n## The admin against Django's own changelist\n\n"
        "<!-- bench:admin-stock begin (written by make bench) -->\n\n<!-- bench:admin-stock end -->\n",
        encoding="utf-8",
    )
    collector = Collector()
    collector.section("admin-stock", "Admin vs stock").ratio(Ratio("ours / stock", 1.1, 1.0, 1.2, 5, 1.5, "≤"))
    collector.write(source, source=source, artifacts=tmp_path)
    assert "[The admin against Django's own changelist](#the-admin-against-djangos-own-changelist)" in source.read_text(
        encoding="utf-8"
    )


def test_a_chart_another_benchmark_adds_to_first_takes_its_title_from_the_one_that_names_it():
    collector = Collector()
    collector.section("admin-scale", "Admin").chart("admin-rows").add("stock: list", [(1_000, 300.0)])
    chart = collector.section("admin-scale", "Admin").chart("admin-rows", "The admin against rows", "rows", "ms", x_scale="log")
    chart.add("list", [(1_000, 250.0)])
    assert (chart.title, chart.x_label, chart.x_scale) == ("The admin against rows", "rows", "log")
    assert [series.label for series in chart.series] == ["stock: list", "list"]
    assert len(collector.sections["admin-scale"].charts) == 1


def test_a_median_that_would_round_to_its_target_is_shown_with_the_places_that_tell_them_apart():
    assert Ratio("A / B", 0.5996, 0.5, 0.7, 3, 0.6).shown == "0.5996×"
    assert Ratio("A / B", 0.604, 0.5, 0.7, 3, 0.6).shown == "0.604×"
    assert Ratio("A / B", 0.6, 0.5, 0.7, 3, 0.6).shown == "0.60×"
    assert Ratio("A / B", 0.5996, 0.5, 0.7, 3, 0.6).verdict == "DOES NOT HOLD"
    assert Ratio("A / B", 0.93, 0.9, 0.95, 3, 0.9).shown == "0.93×"


def test_the_stock_change_list_benchmarks_results_go_to_its_section(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from benchmarks import report
    from benchmarks.report_admin_stock import report_admin_stock

    monkeypatch.setattr(report, "collector", Collector())
    spread = {"wall": (40.0, 38.0, 45.0), "cpu": (30.0, 29.0, 31.0)}
    result = {
        "rows": 1_000, "page": 100, "pages_a_round": 10, "rounds": 15, "target": 1.5, "database": "postgresql",
        "ms_a_page": {"ours": spread, "stock": spread, "bare": spread},
        "ratio": {"wall": {"stock": (1.2, 1.1, 1.6), "bare": (1.5, 1.4, 1.7)},
                  "cpu": {"stock": (1.6, 1.5, 1.7), "bare": (1.9, 1.8, 2.0)}},
    }
    section = report_admin_stock(result)
    assert [(r.name, r.holds) for r in section.ratios] == [
        ("ours / stock change list, wall-clock time", True), ("ours / stock change list, CPU time", False),
    ]
    assert report.collector.sections["admin-stock"] is section
    assert len(section.charts[0].series) == 3
