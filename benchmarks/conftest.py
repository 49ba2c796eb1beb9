"""Benchmarks need PostgreSQL: the point is how the admin behaves on a real database at scale."""

from __future__ import annotations

import pytest
from django.db import connection


@pytest.fixture
def postgres() -> None:
    """Skips the benchmark, saying why, when the database is not PostgreSQL."""
    if connection.vendor != "postgresql":
        pytest.skip(
            "the benchmarks need PostgreSQL: run `make bench` with a PostgreSQL server on 127.0.0.1:5432 "
            "(or set DATABASE_URL=postgres://…)"
        )
