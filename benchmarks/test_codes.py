"""One-time codes against django-phone-verify (``make bench``): printed with the target, and written to
``test-artifacts/bench-codes.json`` with the machine it ran on and its load.

``benchmarks/codes_bench.py`` runs once per SQLite variant, each in a process of its own: request +
verify per operation against django-phone-verify's create + send + validate, no-op SMS on both
sides, rounds alternated. Target: our time under 1.0× theirs. Needs django-phone-verify, which
only the ``bench`` extra installs (``pip install -e .[bench]``). Nothing here is a timed test:
whether the target holds is said, not asserted.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import pytest

from benchmarks.harness import ARTIFACTS, machine
from benchmarks.test_send_pipeline import _run

DATABASES = ("sqlite-disk", "sqlite-memory")


def test_codes_against_django_phone_verify():
    pytest.importorskip("phone_verify", reason="django-phone-verify is in the bench extra: pip install -e .[bench]")
    load = os.getloadavg()
    runs = [_run("benchmarks.codes_bench", database) for database in DATABASES]
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load": {"before": load, "after": os.getloadavg()},
        "runs": runs,
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "bench-codes.json").write_text(json.dumps(report, indent=2))
    print("\n" + "\n".join(summary_lines(report)))
    assert all(run["per_operation"]["ours"]["statements"] for run in runs), "nothing was measured"


def summary_lines(report: dict) -> list[str]:
    load = report["load"]
    lines = [
        "One-time codes: request + verify against django-phone-verify's create + send + validate "
        "(ms per operation, median [best-worst] of the rounds)",
        f"load average before {load['before'][0]:.2f}, after {load['after'][0]:.2f} "
        f"on {report['machine']['cores']} cores",
    ]
    for run in report["runs"]:
        ms, ratio, cost = run["ms_per_operation"], run["ratio"], run["per_operation"]
        verdict = "holds" if ratio["median"] < ratio["target"] else "missed"
        lines.append(
            f"  {run['database']:<14} ours {ms['ours']['median']:.2f} [{ms['ours']['best']:.2f}-{ms['ours']['worst']:.2f}]"
            f"  theirs {ms['theirs']['median']:.2f} [{ms['theirs']['best']:.2f}-{ms['theirs']['worst']:.2f}]"
            f"  ratio {ratio['median']:.2f}x [{ratio['low']:.2f}-{ratio['high']:.2f}]"
            f"  target < {ratio['target']:.1f}x: {verdict}"
            f"  (statements/commits per operation: ours {cost['ours']['statements']}/{cost['ours']['commits']},"
            f" theirs {cost['theirs']['statements']}/{cost['theirs']['commits']})"
        )
    return lines
