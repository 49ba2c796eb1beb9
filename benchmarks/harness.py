"""What the send benchmarks share: a Django of their own on a chosen database, the fast fake
provider in its own process, and rounds of A/B/… alternated with medians and spread.

Each benchmark process sets Django up itself (``setup_django``) instead of using the test
settings, because the point is to compare databases with and without their durability cost:

* ``sqlite-disk``: a file on disk, SQLite's default durable settings (an fsync per commit);
* ``sqlite-memory``: an in-memory database (no durability cost);
* ``postgres``: a fresh database on the local server, default settings (fsync per commit);
* ``postgres-async``: the same with ``synchronous_commit=off`` (no wait for the WAL flush).
"""

from __future__ import annotations

import atexit
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.report import ARTIFACTS, ROOT, machine

__all__ = ["ARTIFACTS", "DATABASES", "PG_DSN", "ROOT", "FakeProviderProcess", "Rounds", "machine", "setup_django"]

DATABASES = ("sqlite-disk", "sqlite-memory", "postgres", "postgres-async")
PG_DSN = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432/postgres")


def pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_DSN, connect_timeout=2):
            return True
    except Exception:
        return False


def _pg_database(name: str, *, synchronous_commit: bool) -> dict[str, Any]:
    import dj_database_url
    import psycopg

    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
        if not synchronous_commit:
            conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    config = dj_database_url.parse(PG_DSN)
    config["NAME"] = name
    return config


def drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def setup_django(
    database: str, huyi_sms: dict[str, Any], *, installed: tuple[str, ...] = (), **extra: Any
) -> str | None:
    """Configure and set up Django on ``database`` (one of DATABASES), migrated. Returns a PG name to drop.

    ``installed``: apps before ours; ``extra``: their settings (as ``PHONE_VERIFICATION=…``)."""
    import django
    from django.conf import settings

    pg_name = None
    if database == "sqlite-disk":
        # On the disk the checkout is on (the point of this variant is SQLite's fsync per commit;
        # the system's temporary directory may be in memory), in the ignored test-artifacts/.
        ARTIFACTS.mkdir(exist_ok=True)
        folder = tempfile.mkdtemp(prefix="bench-", dir=ARTIFACTS)
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        path = Path(folder) / "bench.sqlite3"
        db = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)}
    elif database == "sqlite-memory":
        db = {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
    else:
        pg_name = f"bench_send_{os.getpid()}"
        db = _pg_database(pg_name, synchronous_commit=database == "postgres")
    settings.configure(
        SECRET_KEY="benchmarks-only",
        USE_TZ=True,
        TIME_ZONE="Asia/Shanghai",
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", *installed, "django_huyi_sms"],
        DATABASES={"default": db},
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        HUYI_SMS=huyi_sms,
        LOGGING_CONFIG=None,
        **extra,
    )
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return pg_name


class FakeProviderProcess:
    """``benchmarks/fake_provider.py`` in a process (or several on one port) of its own."""

    def __init__(self, processes: int = 1) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.fake_provider", "--processes", str(processes)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        line = self.process.stdout.readline().decode()  # type: ignore[union-attr]
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}/webservice/sms.php"

    def stop(self) -> None:
        import signal

        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(10)


@dataclass
class Rounds:
    """Throughputs (messages a second) per side and round, sides alternated in a rotating order."""

    sides: dict[str, Callable[[int], None]]
    per_round: int
    rounds: int
    results: dict[str, list[float]] = field(default_factory=dict)

    def run(self, warmup: int = 1) -> Rounds:
        names = list(self.sides)
        self.results = {name: [] for name in names}
        for index in range(warmup + self.rounds):
            order = names[index % len(names) :] + names[: index % len(names)]
            for name in order:
                started = time.perf_counter()
                self.sides[name](self.per_round)
                elapsed = time.perf_counter() - started
                if index >= warmup:
                    self.results[name].append(self.per_round / elapsed)
        return self

    def median(self, name: str) -> float:
        return statistics.median(self.results[name])

    def spread(self, name: str) -> tuple[float, float]:
        values = sorted(self.results[name])
        return values[0], values[-1]

    def ratio(self, name: str, against: str) -> tuple[float, float, float]:
        """Median, low and high of the round-by-round ratio ``name`` / ``against``."""
        ratios = sorted(a / b for a, b in zip(self.results[name], self.results[against], strict=True))
        return statistics.median(ratios), ratios[0], ratios[-1]
