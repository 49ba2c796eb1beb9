"""Browser tests: the example site in a subprocess, driven by Playwright in Debian's chromium.

The site runs exactly as ``make demo`` runs it (its own settings, the sandbox gateway it
serves, receipts pushed back to it), on a free loopback port and a fresh SQLite file, so
these tests need neither PostgreSQL nor the test database. They never download a browser:
Playwright drives ``/usr/bin/chromium`` (``make test`` installs it where it can).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "example_project"
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = os.environ.get("HUYI_CHROMIUM", "/usr/bin/chromium")
# As DEVELOPERS.md and the machine notes say: no sandbox as root, no GPU, and no
# background connections (this machine's closed network refuses them, loudly).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
ADMIN_PASSWORD = "browser-tests-admin-pw"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ExampleSite:
    """The running example site: its URL, its superuser, and ``manage.py`` against its database."""

    url: str
    env: dict[str, str]
    log_path: Path
    admin_username: str = "admin"
    admin_password: str = ADMIN_PASSWORD

    def manage(self, *args: str) -> str:
        """Run ``manage.py ARGS`` with the site's settings and database; return its stdout."""
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=EXAMPLE,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise AssertionError(f"manage.py {' '.join(args)} failed ({done.returncode}):\n{done.stderr}{done.stdout}")
        return done.stdout

    def phone(self, mobile: str) -> dict[str, Any]:
        """What the sandbox phone ``mobile`` received (``/sms/sandbox/phone/<mobile>.json``)."""
        with urllib.request.urlopen(f"{self.url}/sms/sandbox/phone/{mobile}.json", timeout=10) as response:
            return json.loads(response.read().decode("utf-8"))

    def wait_for_code(self, mobile: str, *, after: str | None = None, timeout: float = 15.0) -> str:
        """The latest code the sandbox delivered to ``mobile`` (a new one if ``after`` is given)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.phone(mobile).get("latest_code")
            if code and code != after:
                return code
            time.sleep(0.1)
        raise AssertionError(f"no new code reached the sandbox phone {mobile} in {timeout} s")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _site_env(url: str, database: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        # The site must run on its embedded defaults (the sandbox), whatever the test run uses.
        if not key.startswith(("HUYI_SMS_", "DJANGO_")) and key not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(
        DATABASE_URL=f"sqlite:///{database}",
        DEMO_SITE_URL=url,
        DEMO_ADMIN_PASSWORD=ADMIN_PASSWORD,
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")])),
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture(scope="session")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExampleSite]:
    """The example project served by ``runserver`` on a free port, migrated, with its superuser."""
    folder = tmp_path_factory.mktemp("example_site")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    site = ExampleSite(url=url, env=_site_env(url, folder / "db.sqlite3"), log_path=folder / "runserver.log")
    site.manage("migrate", "--noinput")
    site.manage("demo_setup")
    with site.log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=EXAMPLE,
            env=site.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_up(site, server)
        yield site
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


def _wait_until_up(site: ExampleSite, server: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the example site exited ({server.returncode}):\n{site.log_tail()}")
        try:
            with urllib.request.urlopen(f"{site.url}/", timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise AssertionError(f"the example site did not answer in {timeout} s:\n{site.log_tail()}")


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's chromium under Playwright; the tests skip, saying why, where either is missing."""
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser tests need Playwright (pip install -e '.[dev]')")
    executable = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(chromium: Any, artifacts_dir: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context and page; a failing test leaves a screenshot in test-artifacts/."""
    context = chromium.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        yield page
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            page.screenshot(path=str(artifacts_dir / f"FAILED-{request.node.name}.png"), full_page=True)
        context.close()
