"""The hook for the sends list against Django's stock change list (``benchmarks/test_admin_speed.py``).

That benchmark builds one dict of its results (``ms_a_page`` per side and clock, ``ratio`` ours over
stock and over bare per clock, all as median, lowest, highest); at its end, one call puts them on
the page and in the printed summary::

    from benchmarks.report_admin_stock import report_admin_stock

    report_admin_stock(report)
"""

from __future__ import annotations

from typing import Any

from benchmarks import report
from benchmarks.report import Ratio, number

SIDES = {"ours": "this app's sends list", "stock": "stock change list", "bare": "bare change list"}
CLOCKS = {"wall": "wall-clock", "cpu": "CPU"}


def report_admin_stock(result: dict[str, Any]) -> report.Section:
    section = report.section("admin-stock", "The sends admin against the stock changelist")
    ms = result["ms_a_page"]
    section.table(
        ["page", *(f"ms a page, {label}" for label in CLOCKS.values())],
        [
            [label, *(f"{number(ms[side][clock][0])} ({number(ms[side][clock][1])}–{number(ms[side][clock][2])})"
                      for clock in CLOCKS)]
            for side, label in SIDES.items()
        ],
        f"{result['page']} of {result['rows']:,} rows on {result['database']}, the median of {result['rounds']} rounds "
        f"of {result['pages_a_round']} pages (lowest–highest round), the sides alternated.",
    )
    for clock, label in CLOCKS.items():
        median, low, high = result["ratio"][clock]["stock"]
        section.ratio(Ratio(f"ours / stock change list, {label} time", median, low, high, result["rounds"],
                            result["target"], "≤"))
    chart = section.chart("admin-stock", "The sends list against the stock change list", "clock", "ms a page",
                          kind="bars")
    for side, label in SIDES.items():
        chart.add(label, [(CLOCKS[clock], ms[side][clock][0]) for clock in CLOCKS],
                  [(ms[side][clock][1], ms[side][clock][2]) for clock in CLOCKS])
    return section
