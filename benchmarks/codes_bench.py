"""One-time codes: ``otp.request_code`` + ``otp.verify_code`` against django-phone-verify's
create + send + validate, on one database, no-op SMS on both sides, rounds alternated.

    python -m benchmarks.codes_bench sqlite-disk|sqlite-memory|postgres|postgres-async

Prints one JSON object: milliseconds per operation (median and spread over the rounds), the
round-by-round ratio of our time to theirs (target: under 1.0), and the statements and commits
one operation costs each side. An operation is one code for a new number, asked for and typed
back right, through each app's own entry points:

* ours: ``request_code(number, purpose="verify_phone")`` then ``verify_code`` (hashed code,
  per-number and site limits checked and counted, the ``SmsLog`` row written and answered);
* theirs: ``send_security_code_and_generate_session_token(number)`` (what its ``register`` view
  calls: delete the number's old codes, create one with a JWT session token, send) then
  ``validate_security_code`` on its backend (what its ``verify`` serializer calls).

Both send through a backend that keeps the last text and sends nothing. django-phone-verify is
installed with the ``bench`` extra only (``pip install -e .[bench]``); it gets its settings here.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from benchmarks.harness import Rounds, drop_pg_database, setup_django
from benchmarks.report import sized
from django_huyi_sms.backends.base import OfflineBackend, OutgoingSms
from django_huyi_sms.provider import SubmitResult

PER_ROUND, ROUNDS = sized((200, 9), (30, 3))
PURPOSE = "verify_phone"

#: The text each side's backend was last asked to send (where the code is read back from).
last_text = {"ours": "", "theirs": ""}


class NoOpBackend(OfflineBackend):
    """Ours: accepts the message, keeps its text, sends nothing."""

    def send(self, message: OutgoingSms) -> SubmitResult:
        last_text["ours"] = message.content
        return self.accepted()


def their_backend() -> type:
    from phone_verify.backends.base import BaseBackend

    class TheirNoOpBackend(BaseBackend):
        """django-phone-verify's: keeps the text, sends nothing."""

        def __init__(self, **options: Any) -> None:
            super().__init__(**options)
            self.exception_class = RuntimeError

        def send_sms(self, number: str, message: str) -> None:
            last_text["theirs"] = message

        def send_bulk_sms(self, numbers: list[str], message: str) -> None:
            last_text["theirs"] = message

    return TheirNoOpBackend


PHONE_VERIFICATION = {
    "BACKEND": "benchmarks.codes_bench.TheirNoOpBackend",
    "OPTIONS": {},
    "TOKEN_LENGTH": 6,
    "MESSAGE": "Welcome to {app}! Please use security code {security_code} to proceed.",
    "APP_NAME": "Bench",
    "SECURITY_CODE_EXPIRATION_SECONDS": 300,
    "VERIFY_SECURITY_CODE_ONLY_ONCE": True,
}


def __getattr__(name: str) -> Any:
    # django-phone-verify imports its backend by dotted path, and the class can only be made once
    # its app has loaded (its base imports its models): made when that path is looked up.
    if name == "TheirNoOpBackend":
        return their_backend()
    raise AttributeError(name)


def numbers() -> Iterator[str]:
    """A new number for every operation, both sides from one sequence: each is a first code."""
    for n in itertools.count():
        yield f"+86138{n:08d}"


def code_in(text: str) -> str:
    return re.findall(r"\d{6}", text)[-1]


def main() -> None:
    database = sys.argv[1]
    pg_name = setup_django(
        database,
        {"BACKEND": "benchmarks.codes_bench.NoOpBackend"},
        installed=("phone_verify",),
        PHONE_VERIFICATION=PHONE_VERIFICATION,
    )
    try:
        print(json.dumps(run(database)))
    finally:
        from django.db import connections

        connections.close_all()
        if pg_name:
            drop_pg_database(pg_name)


@contextmanager
def counting(spent: dict[str, int]) -> Iterator[None]:
    """Count statements and commits (outermost transactions, and writes outside one) on the default connection."""
    from unittest import mock

    from django.db import connection

    real_commit = connection.commit

    def commit() -> None:
        spent["commits"] += 1
        real_commit()

    def watch(execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        spent["statements"] += 1
        if not context["connection"].in_atomic_block and sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            spent["commits"] += 1
        return execute(sql, params, many, context)

    with mock.patch.object(connection, "commit", commit), connection.execute_wrapper(watch):
        yield


def run(database: str) -> dict[str, object]:
    import sqlite3

    from phone_verify.backends import get_sms_backend
    from phone_verify.services import send_security_code_and_generate_session_token

    # The backends are imported by dotted path, so they write to the module's dictionary, not to
    # ``__main__``'s copy of it when this file runs as a script.
    from benchmarks.codes_bench import last_text
    from django_huyi_sms import otp
    from django_huyi_sms.models import OtpRecord

    fresh = numbers()

    def ours_once() -> None:
        number = next(fresh)
        otp.request_code(number, purpose=PURPOSE)
        record = otp.verify_code(number, code_in(last_text["ours"]), purpose=PURPOSE)
        assert record.status == OtpRecord.Status.USED

    def theirs_once() -> None:
        number = next(fresh)
        token = send_security_code_and_generate_session_token(number)
        backend = get_sms_backend(number)
        _verification, status = backend.validate_security_code(code_in(last_text["theirs"]), number, token)
        assert status == backend.SECURITY_CODE_VALID, status

    def ours(count: int) -> None:
        for _ in range(count):
            ours_once()

    def theirs(count: int) -> None:
        for _ in range(count):
            theirs_once()

    costs = {}
    for name, once in (("ours", ours_once), ("theirs", theirs_once)):
        once()  # warm: content types, compiled SQL, settings
        spent = {"statements": 0, "commits": 0}
        with counting(spent):
            once()
        costs[name] = spent

    rounds = Rounds({"ours": ours, "theirs": theirs}, per_round=PER_ROUND, rounds=ROUNDS).run()

    def milliseconds(name: str) -> dict[str, float]:
        low, high = rounds.spread(name)  # throughputs: the fastest round is the shortest time
        return {"median": 1000 / rounds.median(name), "best": 1000 / high, "worst": 1000 / low}

    # Our time over theirs, round by round: their throughput over ours.
    ratio, low, high = rounds.ratio("theirs", "ours")
    return {
        "database": database,
        "sqlite": sqlite3.sqlite_version,
        "per_round": PER_ROUND,
        "rounds": ROUNDS,
        "ms_per_operation": {"ours": milliseconds("ours"), "theirs": milliseconds("theirs")},
        "ratio": {"median": ratio, "low": low, "high": high, "target": 1.0},
        "per_operation": costs,
    }


if __name__ == "__main__":
    main()
