"""Fuzz every management command's arguments: a usage error or a CommandError, or success; never a
traceback, never a half write.

Each command gets a real argument list, bent: arguments dropped or replaced, its own
options (read from its parser, so an option added later is fuzzed too) added with odd
values, choices and numbers — and for ``huyi_send_bulk`` the numbers file too, in odd
encodings. ``call_command`` parses them with the command's parser, as the shell would:
a bad argument is a ``CommandError`` there (exit status 1 or the command's own), any
other exception would be a traceback. Rows are counted before and after.

Arguments hold what a shell can pass: no NUL, but lone surrogates (Python's
``surrogateescape`` for bytes that are not UTF-8). ``huyi_sandbox`` parses, checks and
prints its banner, without listening (``serve`` is replaced: a fuzzed ``--host`` must
not be looked up). The quick form runs in the normal suite, the long one is marked slow.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command, load_command_class
from django.core.management.base import BaseCommand
from hypothesis import given, settings
from hypothesis import strategies as st

from django_huyi_sms.management.commands import huyi_sandbox
from django_huyi_sms.models import BulkSend, SmsLog

from .flow_helpers import MOBILE, OTHER_MOBILE
from .fuzz_helpers import FUZZ, at_length, changes, odd_text, row_counts, writes_one_of

pytestmark = pytest.mark.django_db

NOTHING: dict[str, set[int]] = {}
# The numbers file of huyi_send_bulk: its path stands for itself in the argument lists.
NUMBERS_FILE = "{numbers}"


@dataclass(frozen=True)
class Command:
    """A command: a real argument list, and what a success (or a refusal) may write."""

    good: tuple[str, ...]
    succeeded: list[dict[str, set[int]]]
    refused: list[dict[str, set[int]]]
    # Always last: what keeps the command from waiting (huyi_send_bulk's queue, which no worker runs here).
    suffix: tuple[str, ...] = ()
    check: Callable[[dict[str, int]], None] | None = None


def whole_bulk_send(changed: dict[str, int]) -> None:
    """A bulk send is recorded whole: the send and one row per recipient, nothing else."""
    assert set(changed) <= {"BulkSend", "SmsLog"} and changed.get("BulkSend") == 1, changed
    assert changed.get("SmsLog", 0) == BulkSend.objects.latest("pk").recipients, changed


# The low-balance alarm remembers that it rang (one row), whether the command then exits 0 or 1.
ALARM = {"BalanceAlarm": {0, 1}}

COMMANDS: dict[str, Command] = {
    "huyi_send": Command(
        (MOBILE, "您的验证码是：1234。"),
        [{"SmsLog": {1}}],
        # A send the provider refused, or whose outcome is unknown, keeps its row (checked below).
        [NOTHING, {"SmsLog": {1}}],
    ),
    "huyi_send_bulk": Command((NUMBERS_FILE, "【商城】周末全场五折。"), [], [NOTHING], ("--no-wait",), whole_bulk_send),
    "huyi_balance": Command((), [ALARM], [ALARM]),
    "huyi_add_template": Command(("您的验证码是：【变量】。",), [{"SmsTemplate": {1}}], [NOTHING]),
    "huyi_requeue": Command((), [NOTHING], [NOTHING]),
    "huyi_purge": Command(("--dry-run",), [NOTHING], [NOTHING]),
    "huyi_sandbox": Command(("--port", "0"), [NOTHING], [NOTHING]),
}

# Django's own options, the same for every command: not this app's to fuzz.
_DJANGO_OPTIONS = {
    option for action in BaseCommand().create_parser("manage.py", "command")._actions for option in action.option_strings
}


def options_of(name: str) -> tuple[list[str], list[str]]:
    """The command's own option strings, and the values its choices allow."""
    parser = load_command_class("django_huyi_sms", name).create_parser("manage.py", name)
    options, choices = [], []
    for action in parser._actions:
        options += [option for option in action.option_strings if option not in _DJANGO_OPTIONS]
        choices += [str(choice) for choice in action.choices or ()]
    return options, choices


def test_the_fuzz_covers_every_command_of_the_app():
    from django.core.management import get_commands

    assert {name for name, app in get_commands().items() if app == "django_huyi_sms"} == set(COMMANDS)


shell_text = odd_text.map(lambda text: text.replace("\x00", ""))  # a shell cannot pass NUL
NUMBERS = ["0", "-1", "1", "3", "60", "1e309", "nan", "inf", "-inf", "1.5", "9" * 30, "0x10", " 2", "２"]
TIMES = ["2030-01-01 09:00", "2030-01-01T09:00+08:00", "2030-02-30 09:00", "yesterday", "1999-01-01 00:00"]


@st.composite
def argument_lists(draw: st.DrawFn, name: str) -> list[str]:
    """The command's real argument list, bent."""
    options, choices = options_of(name)
    values = st.one_of(
        shell_text,
        st.sampled_from(NUMBERS + TIMES + choices + [MOBILE, OTHER_MOBILE, NUMBERS_FILE, "", "-", "--"]),
    )
    arguments = list(COMMANDS[name].good)
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(["option", "replace", "drop", "add"]))
        index = draw(st.integers(0, max(len(arguments) - 1, 0)))
        if action == "option" and options:
            arguments += [draw(st.sampled_from(options)), draw(values)]
        elif action == "replace" and arguments:
            arguments[index] = draw(values)
        elif action == "drop" and arguments:
            arguments.pop(index)
        elif action == "add":
            arguments.insert(index, draw(st.one_of(values, st.sampled_from(options or [""]))))
    return arguments


@st.composite
def numbers_files(draw: st.DrawFn) -> tuple[bytes, str]:
    """A numbers file for huyi_send_bulk: its lines (numbers, headers, CSV rows, odd text), in an encoding."""
    lines = draw(
        st.lists(
            st.one_of(
                st.sampled_from([MOBILE, OTHER_MOBILE, "+86 139 0013 9000", "手机号", "", "姓名,手机", "a,13800138000"]),
                shell_text,
            ),
            min_size=1,
            max_size=6,
        )
    )
    encoding = draw(st.sampled_from(["utf-8", "gbk", "utf-16", "latin-1"]))
    name = draw(st.sampled_from(["numbers.txt", "numbers.csv"]))
    return "\n".join(lines).encode(encoding, "replace"), name


class _Server:
    server_address = ("127.0.0.1", 8001)

    def shutdown(self) -> None:
        pass

    def server_close(self) -> None:
        pass


class _Stopped:
    def is_alive(self) -> bool:
        return False


@pytest.fixture(autouse=True)
def no_listening(monkeypatch) -> None:
    """huyi_sandbox runs up to listening, and stops there: the server "stops" at once."""
    monkeypatch.setattr(huyi_sandbox, "serve", lambda *args, **kwargs: (_Server(), _Stopped()))


@pytest.fixture
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as directory:
        yield Path(directory)


def run(name: str, arguments: list[str], workdir: Path, numbers: tuple[bytes, str] | None) -> None:
    """Run one argument list: success or CommandError, and the rows consistent with which."""
    command = COMMANDS[name]
    if numbers is not None:
        content, filename = numbers
        path = workdir / filename
        path.write_bytes(content)
        arguments = [str(path) if argument == NUMBERS_FILE else argument for argument in arguments]
    before = row_counts()
    last_log = SmsLog.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    try:
        call_command(name, *arguments, *command.suffix, stdout=io.StringIO(), stderr=io.StringIO())
    except CommandError:
        changed = changes(before, row_counts())
        assert writes_one_of(changed, *command.refused), (name, arguments, changed)
        # A row kept by a refusal is one the provider refused, or may have sent: never a queued one.
        kept = SmsLog.objects.filter(pk__gt=last_log).exclude(status__in=[SmsLog.Status.FAILED, SmsLog.Status.UNKNOWN])
        assert not kept.exists(), (name, arguments)
        return
    except SystemExit as exit:  # --help, --version: usage printed
        assert exit.code in (0, None), (name, arguments, exit.code)
        return
    changed = changes(before, row_counts())
    if command.check is not None:
        command.check(changed)
    else:
        assert writes_one_of(changed, *command.succeeded), (name, arguments, changed)


def fuzz(name: str, examples: int, workdir: Path) -> None:
    @settings(FUZZ, max_examples=examples)
    @given(arguments=argument_lists(name), numbers=numbers_files())
    def cases(arguments: list[str], numbers: tuple[bytes, str]) -> None:
        run(name, arguments, workdir, numbers if name == "huyi_send_bulk" else None)

    cases()


@pytest.mark.parametrize("name", COMMANDS)
def test_command_arguments(name, workdir):
    # 7 commands × 40 argument lists = 280 runs.
    fuzz(name, 40, workdir)


@pytest.mark.slow
@pytest.mark.parametrize("name", COMMANDS)
def test_command_arguments_at_length(name, workdir):
    # 7 commands × 400 argument lists = 2,800 runs.
    fuzz(name, at_length(400), workdir)


# What the fuzz found: a path no file name can be (a lone surrogate, a NUL) was a ValueError's traceback.
@pytest.mark.parametrize("path", ["\ud800", "numbers\x00.txt"])
def test_huyi_send_bulk_given_no_file_name_says_so(path):
    with pytest.raises(CommandError, match="not a file name"):
        call_command("huyi_send_bulk", path, "【商城】周末全场五折。", "--no-wait", stdout=io.StringIO(), stderr=io.StringIO())
    assert row_counts()["BulkSend"] == 0
