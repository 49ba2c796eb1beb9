"""Receipt pushes served by gunicorn (2 sync workers) on PostgreSQL, from a bounded load generator.

    python -m benchmarks.receipt_bench bench [--per-round N] [--rounds N] [--concurrency N]
    python -m benchmarks.receipt_bench soak [--rate 500] [--seconds 60] [--concurrency N]

``bench`` pushes receipts, each for a send of its own, at three URLs of one site, rounds alternated:

* ``ours``: the app's receipt URL (token, parsing, the receipt stored, the send's status moved);
* ``durable``: a bare Django view doing the same durable work by hand: INSERT the raw receipt,
  UPDATE the send's status by smsid, in one transaction;
* ``update``: a bare Django view doing one UPDATE of the status by smsid.

``soak`` pushes receipts at a steady rate (5% of them the provider's retries) and then checks that
every one was stored, linked and applied exactly once (each transition's signal is written down by
the site and counted).

Both print one JSON object as their last line. The site is this module: gunicorn's workers import it
with ``RECEIPT_BENCH_SITE`` set (the database), which makes it a settings module, a URLconf and
a WSGI application. Connections to PostgreSQL are kept across requests (``CONN_MAX_AGE``), as a
production site keeps them; a new connection per request would cost more than any of the views.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from benchmarks.harness import ROOT, Rounds, drop_pg_database, setup_django

SITE = "RECEIPT_BENCH_SITE"
TOKEN = "bench-callback-token"
WORKERS = 2
PATHS = {
    "ours": f"/sms/push/receipt/?token={TOKEN}",
    "durable": "/bare/durable/",
    "update": "/bare/update/",
}
REPORT_TIME = "2026-11-25 10:00:05"


# -- the site (in gunicorn's workers) --------------------------------------------------------------


def _configure_site(config: dict[str, Any]) -> Any:
    import django
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application

    settings.configure(
        SECRET_KEY="benchmarks-only",
        DEBUG=False,
        ALLOWED_HOSTS=["127.0.0.1"],
        USE_TZ=True,
        TIME_ZONE="Asia/Shanghai",
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django.contrib.sessions",
            "django.contrib.messages",
            "rest_framework",
            "django_huyi_sms",
        ],
        # A new project's middleware (startproject's, less clickjacking): every view pays it alike.
        MIDDLEWARE=[
            "django.middleware.security.SecurityMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
        ],
        ROOT_URLCONF=__name__,
        DATABASES={"default": {**config["database"], "CONN_MAX_AGE": 600}},
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        HUYI_SMS={"CALLBACK_TOKEN": TOKEN, "BACKEND": "django_huyi_sms.backends.locmem.LocmemBackend"},
        LOGGING_CONFIG=None,
    )
    django.setup()
    from django.urls import include, path
    from django.views.decorators.csrf import csrf_exempt

    global urlpatterns
    urlpatterns = [
        path("sms/", include("django_huyi_sms.urls")),
        path("bare/durable/", csrf_exempt(bare_durable)),
        path("bare/update/", csrf_exempt(bare_update)),
    ]
    if config.get("transitions"):
        _write_down_transitions(config["transitions"])
    return get_wsgi_application()


def bare_durable(request: Any) -> Any:
    """What a careful developer would write without the app: keep the raw push, move the status."""
    from django.db import connection, transaction
    from django.http import HttpResponse
    from django.utils import timezone

    fields = request.POST
    status = "delivered" if fields["code"] == "2" else "undelivered"
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO huyi_sms_statusreceipt (smsid, mobile, code, msg, report_time, received_at, raw, duplicate) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, false)",
            [fields["smsid"], fields["mobilephone"], fields["code"], fields["msg"], fields["report_time"], now,
             json.dumps(fields.dict())],
        )
        cursor.execute(
            "UPDATE huyi_sms_smslog SET status = %s, receipt_code = %s, receipt_msg = %s, delivered_at = %s, "
            "updated_at = %s WHERE smsid = %s",
            [status, fields["code"], fields["msg"], fields["report_time"], now, fields["smsid"]],
        )
    return HttpResponse("success", content_type="text/plain")


def bare_update(request: Any) -> Any:
    """The least a receipt can be: one UPDATE of the status by smsid."""
    from django.db import connection
    from django.http import HttpResponse

    fields = request.POST
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE huyi_sms_smslog SET status = %s, receipt_code = %s, updated_at = now() WHERE smsid = %s",
            ["delivered" if fields["code"] == "2" else "undelivered", fields["code"], fields["smsid"]],
        )
    return HttpResponse("success", content_type="text/plain")


def _write_down_transitions(folder: str) -> None:
    """Soak only: each ``sms_status_changed`` appends its send's pk to this worker's file."""
    from django_huyi_sms import signals

    target = Path(folder) / f"{os.getpid()}.txt"

    def record(sender: Any, log: Any, **kwargs: Any) -> None:
        with target.open("a") as out:
            out.write(f"{log.pk}\n")

    signals.sms_status_changed.connect(record, weak=False)


if os.environ.get(SITE):
    application = _configure_site(json.loads(os.environ[SITE]))


# -- the driver ------------------------------------------------------------------------------------


class Server:
    """gunicorn serving this module, ``WORKERS`` sync workers, on a free port of 127.0.0.1."""

    def __init__(self, config: dict[str, Any]) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "benchmarks.receipt_bench:application", "--workers", str(WORKERS),
             "--worker-class", "sync", "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning"],
            cwd=ROOT, env={**os.environ, SITE: json.dumps(config), "PYTHONPATH": str(ROOT)},
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _body = post(self.port, "/bare/update/", {"code": "2", "smsid": "warm-up"})
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.2)

    def workers(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(30)


def post(port: int, path: str, fields: dict[str, str]) -> tuple[int, bytes]:
    """One push as the provider makes it: a form POST on a new connection (sync workers close each one)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", path, urlencode(fields), {"Content-Type": "application/x-www-form-urlencoded"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def fields_for(number: int, code: str = "2") -> dict[str, str]:
    return {
        "code": code,
        "msg": "DELIVRD" if code == "2" else "UNDELIV",
        "mobilephone": mobile_for(number),
        "smsid": f"{number}",
        "report_time": REPORT_TIME,
    }


def mobile_for(number: int) -> str:
    return f"13{number % 10**9:09d}"


def make_sends(first: int, total: int) -> None:
    """``total`` submitted sends, smsids ``first`` … ``first + total - 1``, each to a number of its own."""
    from django.utils import timezone

    from django_huyi_sms.models import SmsLog

    now = timezone.now()
    for start in range(first, first + total, 5000):
        SmsLog.objects.bulk_create(
            SmsLog(mobile=mobile_for(n), content="x", status="submitted", smsid=f"{n}", submitted_at=now)
            for n in range(start, min(start + 5000, first + total))
        )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # a site's tables have their statistics; fresh ones would mislead the planner


class Pushes:
    """Push ``jobs`` from ``concurrency`` threads (no more in flight), optionally paced at ``rate`` a second."""

    def __init__(self, port: int, jobs: list[tuple[str, dict[str, str]]], concurrency: int, rate: float = 0) -> None:
        self.port, self.jobs, self.concurrency, self.rate = port, jobs, concurrency, rate
        self.errors: list[str] = []
        self.latencies: list[float] = []
        self._next: Iterator[int] = count()
        self._lock = threading.Lock()

    def run(self) -> float:
        """Seconds from the first push to the last answer."""
        threads = [threading.Thread(target=self._work) for _ in range(self.concurrency)]
        self.started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - self.started

    def _work(self) -> None:
        while True:
            with self._lock:
                index = next(self._next)
            if index >= len(self.jobs):
                return
            if self.rate:
                delay = self.started + index / self.rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            path, fields = self.jobs[index]
            sent = time.perf_counter()
            try:
                status, body = post(self.port, path, fields)
            except OSError as error:
                status, body = 0, str(error).encode()
            self.latencies.append(time.perf_counter() - sent)
            if (status, body) != (200, b"success"):
                self.errors.append(f"{status} {body[:80]!r}")


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU the processes ``pids`` have used so far (Linux; 0 elsewhere)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (the 14th and 15th fields)
    return total / os.sysconf("SC_CLK_TCK")


def database_backends() -> list[int]:
    """The PostgreSQL server processes serving this benchmark's database (the site's connections)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [row[0] for row in cursor.fetchall()]


def load() -> dict[str, Any]:
    """How busy the machine is: the load averages and the core count."""
    one, five, fifteen = os.getloadavg()
    return {"loadavg": [round(one, 2), round(five, 2), round(fifteen, 2)], "cores": os.cpu_count()}


def bench(per_round: int, rounds: int, concurrency: int) -> dict[str, Any]:
    from django.conf import settings

    sides = list(PATHS)
    blocks = count(10**8, per_round)  # a block of fresh sends for each side's round
    make_sends(10**8, per_round * len(sides) * (rounds + 1))
    server = Server({"database": settings.DATABASES["default"]})
    errors: dict[str, int] = dict.fromkeys(sides, 0)
    # CPU a receipt costs, per side: the gunicorn workers' and the database server's (its processes
    # for this database; the site keeps its connections, so they are the same ones throughout).
    cpu: dict[str, dict[str, list[float]]] = {name: {"workers": [], "database": []} for name in sides}
    before = load()

    def side(name: str) -> Callable[[int], None]:
        def run(per: int) -> None:
            first = next(blocks)
            jobs = [(PATHS[name], fields_for(n)) for n in range(first, first + per)]
            workers, backends = server.workers(), database_backends()
            spent = cpu_seconds(workers), cpu_seconds(backends)
            pushes = Pushes(server.port, jobs, concurrency)
            pushes.run()
            cpu[name]["workers"].append(1000 * (cpu_seconds(workers) - spent[0]) / per)
            cpu[name]["database"].append(1000 * (cpu_seconds(backends) - spent[1]) / per)
            errors[name] += len(pushes.errors)

        return run

    try:
        measured = Rounds({name: side(name) for name in sides}, per_round, rounds).run(warmup=1)
    finally:
        server.stop()
    from django_huyi_sms.models import SmsLog

    left = SmsLog.objects.filter(status="submitted", smsid__gte=str(10**8)).count()
    return {
        "per_round": per_round,
        "rounds": rounds,
        "concurrency": concurrency,
        "workers": WORKERS,
        "throughput": {
            name: {"median": measured.median(name), "spread": measured.spread(name)} for name in sides
        },
        "cpu_ms_per_receipt": {
            name: {where: statistics.median(values[1:]) for where, values in spent.items()}  # less the warm-up
            for name, spent in cpu.items()
        },
        "ratio_durable": measured.ratio("ours", "durable"),
        "ratio_update": measured.ratio("ours", "update"),
        "errors": errors,
        "sends_left_unapplied": left,
        "load_before": before,
        "load_after": load(),
    }


def soak(rate: float, seconds: float, concurrency: int) -> dict[str, Any]:
    from django.conf import settings

    from django_huyi_sms.models import SmsLog, StatusReceipt

    total = int(rate * seconds)
    first = 10**8
    make_sends(first, total)
    codes = {n: "0" if n % 7 == 0 else "2" for n in range(first, first + total)}
    jobs = [(PATHS["ours"], fields_for(n, codes[n])) for n in range(first, first + total)]
    # The provider's retries: every twentieth receipt comes again, a hundred pushes later.
    for index in range(len(jobs) - 100, 0, -20):
        jobs.insert(index + 100, jobs[index])
    jobs = jobs[:total]
    pushed = {fields["smsid"] for _path, fields in jobs}
    transitions = tempfile.mkdtemp(prefix="receipt-soak-")
    server = Server({"database": settings.DATABASES["default"], "transitions": transitions})
    before = load()
    try:
        pushes = Pushes(server.port, jobs, concurrency, rate=rate)
        elapsed = pushes.run()
    finally:
        server.stop()
    moved = [line for path in Path(transitions).glob("*.txt") for line in path.read_text().split()]
    expected = {smsid: ("delivered" if codes[int(smsid)] == "2" else "undelivered") for smsid in pushed}
    statuses = dict(SmsLog.objects.filter(smsid__in=pushed).values_list("smsid", "status"))
    latencies = sorted(pushes.latencies)
    return {
        "rate_target": rate,
        "seconds_target": seconds,
        "pushes": len(jobs),
        "rate_achieved": len(jobs) / elapsed,
        "seconds": elapsed,
        "latency_ms": {
            "p50": 1000 * statistics.median(latencies),
            "p99": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
            "max": 1000 * latencies[-1],
        },
        "errors": len(pushes.errors),
        "error_samples": pushes.errors[:5],
        "stored": StatusReceipt.objects.count(),
        "originals": StatusReceipt.objects.filter(duplicate=False).count(),
        "unlinked": StatusReceipt.objects.filter(log__isnull=True).count(),
        "distinct_receipts": len(pushed),
        "wrong_status": sum(1 for smsid, status in expected.items() if statuses.get(smsid) != status),
        "transitions": len(moved),
        "sends_moved_twice": len(moved) - len(set(moved)),
        "load_before": before,
        "load_after": load(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["bench", "soak"])
    parser.add_argument("--per-round", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=60)
    options = parser.parse_args()
    pg_name = setup_django("postgres", {"CALLBACK_TOKEN": TOKEN})
    try:
        if options.mode == "bench":
            result = bench(options.per_round, options.rounds, options.concurrency)
        else:
            result = soak(options.rate, options.seconds, max(options.concurrency, 16))
        print(json.dumps(result))
    finally:
        from django.db import connections

        connections.close_all()
        if pg_name:
            drop_pg_database(pg_name)


if __name__ == "__main__":
    main()
