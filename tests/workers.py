"""Worker processes for the queue tests: a real ``celery worker`` or ``manage.py db_worker``, on the
test's database, with the test's settings passed in the environment (tests/settings.py reads them)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def worker_env(huyi_sms: dict[str, Any], tasks: dict[str, Any] | None = None, **extra: str) -> dict[str, str]:
    settings: dict[str, Any] = {"HUYI_SMS": huyi_sms}
    if tasks is not None:
        settings["TASKS"] = tasks
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PYTHONPATH": str(ROOT),
        "HUYI_WORKER_DB_NAME": str(connection.settings_dict["NAME"]),
        "HUYI_WORKER_SETTINGS": json.dumps(settings),
        **extra,
    }
    return env


class Worker:
    """A worker process in its own process group (so a test can SIGKILL it and its children)."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @classmethod
    def celery(cls, env: dict[str, str]) -> Worker:
        return cls(
            [
                sys.executable, "-m", "celery", "-A", "tests.celery_app", "worker",
                "--pool", "solo", "--concurrency", "1", "--loglevel", "WARNING",
                "--without-heartbeat", "--without-gossip", "--without-mingle",
                "--queues", env["HUYI_CELERY_QUEUE"],
            ],
            env,
        )

    @classmethod
    def db_worker(cls, env: dict[str, str], *extra: str) -> Worker:
        return cls([sys.executable, "-m", "django", "db_worker", "--no-startup-delay", *extra], env)

    def kill(self) -> None:
        """SIGKILL: no cleanup, no acknowledgement, exactly like the machine losing power."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> str:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.output()

    def output(self) -> str:
        if self.process.stdout is None:
            return ""
        return self.process.stdout.read().decode("utf-8", "replace") if self.process.poll() is not None else ""

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout)


def wait_for(predicate: Any, timeout: float = 30.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False
