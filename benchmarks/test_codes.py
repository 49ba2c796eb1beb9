"""One-time codes against django-phone-verify (``make bench``), reported through ``benchmarks/report.py``.

``benchmarks/codes_bench.py`` runs once per SQLite variant, each in a process of its own: request +
verify per operation against django-phone-verify's create + send + validate, no-op SMS on both
sides, rounds alternated. Target: our time under 1.0× theirs. Needs django-phone-verify, which
only the ``bench`` extra installs (``pip install -e .[bench]``). Nothing here is a timed test:
whether the target holds is said, not asserted.
"""

from __future__ import annotations

import pytest

from benchmarks import report
from benchmarks.report import Ratio
from benchmarks.test_send_pipeline import _run

DATABASES = ("sqlite-disk", "sqlite-memory")


def test_codes_against_django_phone_verify():
    section = report.section("codes", "One-time codes against django-phone-verify")
    pytest.importorskip("phone_verify", reason="django-phone-verify is in the bench extra: pip install -e .[bench]")
    runs = [_run("benchmarks.codes_bench", database) for database in DATABASES]
    report_codes(section, runs)
    assert all(run["per_operation"]["ours"]["statements"] for run in runs), "nothing was measured"


def report_codes(section: report.Section, runs: list[dict]) -> None:
    rows = []
    chart = section.chart("codes", "One code asked for and checked", "database", "ms an operation", kind="bars")
    for side, label in (("ours", "ours"), ("theirs", "django-phone-verify")):
        chart.add(label, [(run["database"], run["ms_per_operation"][side]["median"]) for run in runs],
                  [(run["ms_per_operation"][side]["best"], run["ms_per_operation"][side]["worst"]) for run in runs])
    for run in runs:
        ms, ratio, cost = run["ms_per_operation"], run["ratio"], run["per_operation"]
        rows.append([
            run["database"],
            *(f"{ms[side]['median']:.2f} ({ms[side]['best']:.2f}–{ms[side]['worst']:.2f})" for side in ("ours", "theirs")),
            *(f"{cost[side]['statements']} / {cost[side]['commits']}" for side in ("ours", "theirs")),
        ])
        section.ratio(Ratio(f"our time / django-phone-verify's, {run['database']}", ratio["median"], ratio["low"],
                            ratio["high"], run["rounds"], ratio["target"], "<"))
    section.table(
        ["database", "ours, ms", "django-phone-verify, ms", "ours: statements / commits",
         "theirs: statements / commits"],
        rows,
        f"One operation: a code for a new number asked for and typed back right; ms an operation, the median of "
        f"{runs[0]['rounds']} rounds of {runs[0]['per_round']} (best–worst round); SQLite {runs[0]['sqlite']}.",
    )
