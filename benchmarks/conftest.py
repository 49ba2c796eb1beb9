"""Benchmarks need PostgreSQL: the point is how the admin behaves on a real database at scale.

At the end of the session every ratio the benchmarks reported is printed with its target and
whether it holds, and the results are written to docs/benchmarks.md (``benchmarks/report.py``).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from benchmarks import report


@pytest.fixture
def postgres() -> None:
    """Skips the benchmark, saying why, when the database is not PostgreSQL."""
    if connection.vendor != "postgresql":
        pytest.skip(
            "the benchmarks need PostgreSQL: run `make bench` with a PostgreSQL server on 127.0.0.1:5432 "
            "(or set DATABASE_URL=postgres://…)"
        )


def pytest_runtest_setup(item: pytest.Item) -> None:
    report.collector.test_started()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not report.collector.sections:
        return
    written = report.collector.write()
    for line in report.collector.summary_lines():
        terminalreporter.write_line(line)
    terminalreporter.write_line("written: " + ", ".join(str(path.relative_to(report.ROOT)) for path in written))
