"""docs/quickstart.md, followed to the letter from an empty directory, reaches what it promises.

The test reads the quickstart's code blocks and does what each says, in order, in a new directory
and a new virtualenv that has the wheel built from this checkout (``wheel_helpers``). Each block
is marked by an HTML comment before it, which a reader of the rendered page does not see:

``run``
    shell commands, run as written (bash, the virtualenv activated, in the project directory);
``append`` / ``replace``
    Python added at the end of, or making up, the file the block's ``title="…"`` names;
``install``
    installing the package: the test's virtualenv already has the wheel;
``createsuperuser``
    the interactive command, run with ``--noinput`` and the answers in the environment;
``runserver``
    the development server, started in the background on a free port;
``skip``
    not run (the comment says why).

The one substitution is the one the quickstart allows: another port than 8000, in
``SANDBOX_SITE`` and wherever the text names the site's address. Then the addresses the text
names are opened as the reader would: the phone page shows the code that was sent, and the
admin's list of sends shows it ``delivered``.

The Chinese quickstart must have the very same blocks, so this run covers it too.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from .wheel_helpers import REPO, FreshVenv, fresh_venv_with_wheel

pytestmark = pytest.mark.packaging

QUICKSTART = REPO / "docs" / "quickstart.md"
QUICKSTART_ZH_HANS = REPO / "docs" / "zh-hans" / "quickstart.md"
DOCS_ADDRESS = "127.0.0.1:8000"
ACTIONS = ("run", "append", "replace", "install", "createsuperuser", "runserver", "skip")
ADMIN = {"username": "admin", "password": "a-quickstart-password-4821", "email": "admin@example.com"}
# How long the site may take to start, and a receipt to come back (the sandbox waits a second).
PATIENCE = 60.0

_MARKER = re.compile(r"<!--\s*quickstart-test:\s*([\w-]+)")
_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+|~~~+)(?P<info>.*)$")
_TITLE = re.compile(r'title="([^"]+)"')
_LOCAL_LINK = re.compile(r"<(http://127\.0\.0\.1:8000/[^>\s]*)>")


@dataclass(frozen=True)
class Block:
    action: str
    info: str
    code: str
    line: int

    @property
    def title(self) -> str:
        match = _TITLE.search(self.info)
        assert match, f"line {self.line}: an {self.action} block names its file: ```python title=\"…\""
        return match.group(1)


def read_blocks(path: Path) -> list[Block]:
    """Every fenced block of ``path``, each with the action its marker comment gives (the test fails on one without)."""
    blocks: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    previous = ""
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening:
            if lines[index].strip():
                previous = lines[index]
            index += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        body: list[str] = []
        index += 1
        while not lines[index].strip().startswith(fence):
            body.append(lines[index][len(indent) :] if lines[index].startswith(indent) else lines[index].lstrip())
            index += 1
        marker = _MARKER.search(previous)
        line = index - len(body)
        assert marker, f"{path.name} line {line}: a code block without a <!-- quickstart-test: … --> comment before it"
        assert marker.group(1) in ACTIONS, f"{path.name} line {line}: unknown action {marker.group(1)!r}"
        blocks.append(Block(marker.group(1), opening["info"].strip(), "\n".join(body) + "\n", line))
        previous = ""
        index += 1
    return blocks


def local_links(path: Path) -> list[str]:
    """The addresses on the development site that the text tells the reader to open, in order."""
    return list(dict.fromkeys(_LOCAL_LINK.findall(path.read_text(encoding="utf-8"))))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Site:
    """The development server the quickstart starts, on ``port``, with its output kept for a failure's report."""

    def __init__(self, venv: FreshVenv, project: Path, port: int, log: Path) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.log = log
        with log.open("w") as output:
            # Its own process group: the autoreloader's child goes with it.
            self.process = subprocess.Popen(
                [str(venv.python), "manage.py", "runserver", f"127.0.0.1:{port}"],
                cwd=project,
                env=venv.env(),
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + PATIENCE
        while True:
            assert self.process.poll() is None, f"runserver exited:\n{self.output()}"
            try:
                requests.get(f"{self.base}/admin/login/", timeout=5)
                return
            except requests.ConnectionError:
                assert time.monotonic() < deadline, f"runserver did not answer:\n{self.output()}"
                time.sleep(0.2)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture
def sites(request: pytest.FixtureRequest) -> Iterator[list[Site]]:
    started: list[Site] = []
    yield started
    for site in started:
        site.stop()
        # Shown with the test's report when it fails.
        request.node.add_report_section("teardown", "runserver", site.output())


def follow(blocks: list[Block], venv: FreshVenv, project: Path, port: int, sites: list[Site]) -> list[Block]:
    """Do what each block says, in order; return the blocks that were run."""
    done = []
    for block in blocks:
        code = block.code.replace(DOCS_ADDRESS, f"127.0.0.1:{port}")
        if block.action == "skip":
            continue
        if block.action == "install":
            # What the reader installs is what the test's virtualenv has: this package's wheel.
            assert "pip install django-huyi-sms" in code
        elif block.action == "run":
            venv.run("bash", "-euo", "pipefail", "-c", code, cwd=project)
        elif block.action in ("append", "replace"):
            target = project / block.title
            assert target.is_file(), f"line {block.line}: {block.title} does not exist at this point"
            before = target.read_text() if block.action == "append" else ""
            target.write_text(f"{before}\n{code}" if before else code)
        elif block.action == "createsuperuser":
            assert code.strip() == "python manage.py createsuperuser"
            venv.run(
                venv.python, "manage.py", "createsuperuser", "--noinput",
                "--username", ADMIN["username"], "--email", ADMIN["email"],
                cwd=project, DJANGO_SUPERUSER_PASSWORD=ADMIN["password"],
            )
        elif block.action == "runserver":
            # The quickstart's "on another port, python manage.py runserver 8001 say".
            assert code.strip() == "python manage.py runserver"
            sites.append(Site(venv, project, port, project.parent / "runserver.log"))
        done.append(block)
    return done


def sent_by_huyi_send(blocks: list[Block]) -> tuple[str, str]:
    """The number and the code of the quickstart's ``huyi_send`` command."""
    for block in blocks:
        for line in block.code.splitlines():
            words = shlex.split(line, comments=True)
            if words[:3] == ["python", "manage.py", "huyi_send"]:
                mobile, content = words[3], words[4]
                code = re.search(r"\d{4,8}", content)
                assert code, content
                return mobile, code.group()
    pytest.fail("the quickstart sends nothing with huyi_send")


def signed_in_to_the_admin(base: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{base}/admin/login/", timeout=10).raise_for_status()
    answer = session.post(
        f"{base}/admin/login/?next=/admin/",
        data={
            "username": ADMIN["username"],
            "password": ADMIN["password"],
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
            "next": "/admin/",
        },
        timeout=10,
    )
    assert answer.url == f"{base}/admin/", answer.text[:2000]
    return session


def test_the_quickstart_reaches_a_delivered_code_from_an_empty_directory(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, sites: list[Site]
) -> None:
    blocks = read_blocks(QUICKSTART)
    venv = fresh_venv_with_wheel(tmp_path_factory)
    project = tmp_path / "project"
    project.mkdir()
    port = _free_port()

    done = follow(blocks, venv, project, port, sites)
    assert {block.action for block in done} >= {"install", "run", "append", "replace", "createsuperuser", "runserver"}
    assert sites, "the quickstart never starts the site"
    site = sites[0]

    # The installed wheel is what the project runs, not this checkout.
    imported = venv.imported_from(project)
    assert imported.is_relative_to(venv.root.resolve()), imported
    venv.run(venv.python, "manage.py", "check", "--fail-level", "WARNING", cwd=project)

    mobile, code = sent_by_huyi_send(done)
    links = [link.replace(DOCS_ADDRESS, f"127.0.0.1:{port}") for link in local_links(QUICKSTART)]
    phone_page = f"{site.base}/sms/sandbox/phone/{mobile}/"
    phone_json = f"{site.base}/sms/sandbox/phone/{mobile}.json"
    sends = f"{site.base}/admin/huyi_sms/smslog/"
    assert {phone_page, phone_json, sends} <= set(links), links

    # Read it on the phone.
    page = requests.get(phone_page, timeout=10)
    assert page.status_code == 200
    assert code in page.text
    assert requests.get(phone_json, timeout=10).json()["latest_code"] == code

    # Delivered, in the admin, once the sandbox's receipt has come back.
    admin = signed_in_to_the_admin(site.base)
    deadline = time.monotonic() + PATIENCE
    while True:
        delivered = admin.get(sends, params={"status__exact": "delivered", "q": mobile}, timeout=10)
        assert delivered.status_code == 200
        if "您的验证码是" in delivered.text:
            break
        assert time.monotonic() < deadline, "the send never became delivered"
        time.sleep(0.25)

    # Every other address on the site the text names answers (signed in, as the reader is by then).
    for link in links:
        answer = admin.get(link, timeout=10)
        assert answer.status_code == 200, (link, answer.status_code)


def test_the_chinese_quickstart_has_the_same_blocks() -> None:
    english = [(block.action, block.info, block.code) for block in read_blocks(QUICKSTART)]
    chinese = [(block.action, block.info, block.code) for block in read_blocks(QUICKSTART_ZH_HANS)]
    assert chinese == english
    assert local_links(QUICKSTART_ZH_HANS) == local_links(QUICKSTART)
