"""What a code costs the database: statements and commits for a request and for a verification.

The budget, on a warm connection, the sms product through the locmem backend, no site-wide cap
and nobody listening to ``otp_verified``:

* **request**: 4 statements in one transaction that commits before the provider is called (the
  number's throttle, one upsert that checks and counts; the number's live codes for the purpose,
  read so that a code no worker has made yet dies and so that a code that replaces nothing skips
  the take-over; the SMS row, INSERTed ``queued`` so that a send that crashes leaves a trace; the
  code's record, linked to that row by its INSERT), then the provider's answer, 1 UPDATE in
  autocommit: **5 statements, 2 commits**;
* **verify**: 1 locked SELECT of the latest and the live codes, 1 conditional UPDATE that uses the
  code: **2 statements, 1 commit**.

SQLite adds the ``BEGIN`` of each transaction (``transaction_mode``), which PostgreSQL's driver
sends by itself: a request is 6 statements there, a verification 3. Savepoints would count as
statements too: there are none. Commits are counted as the outermost transactions that commit plus
the writes made outside any transaction (each its own commit).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from unittest import mock

import pytest
from django.db import connection

import django_huyi_sms
from django_huyi_sms import otp, signals
from django_huyi_sms.models import OtpRecord

pytestmark = pytest.mark.django_db(transaction=True)

MOBILE = "13800138000"
WRITES = ("INSERT", "UPDATE", "DELETE")


@dataclass
class Cost:
    statements: list[str] = field(default_factory=list)
    commits: int = 0

    @property
    def count(self) -> int:
        return len(self.statements)


@contextmanager
def cost() -> Iterator[Cost]:
    """Count the statements sent and the commits made on the default connection inside the block."""
    spent = Cost()
    real_commit = connection.commit

    def counted_commit() -> None:
        spent.commits += 1
        real_commit()

    def watch(execute, sql, params, many, context):
        spent.statements.append(sql)
        if not context["connection"].in_atomic_block and sql.lstrip().upper().startswith(WRITES):
            spent.commits += 1  # autocommit: the statement is its own transaction
        return execute(sql, params, many, context)

    with mock.patch.object(connection, "commit", counted_commit), connection.execute_wrapper(watch):
        yield spent


def begins(spent: Cost) -> int:
    return sum(1 for sql in spent.statements if sql.strip().upper().startswith("BEGIN"))


def last_code() -> str:
    return re.findall(r"\d{6}", django_huyi_sms.outbox[-1].content)[-1]


def warm_up() -> None:
    """Content types, settings, compiled SQL: what every process pays once, not per code."""
    otp.request_code("13900139000")
    otp.verify_code("13900139000", last_code())


def test_a_request_costs_five_statements_and_two_commits():
    warm_up()
    with cost() as spent:
        otp.request_code(MOBILE)
    transactions = 1 if connection.vendor == "sqlite" else 0
    assert begins(spent) == transactions, spent.statements
    assert spent.count - begins(spent) == 5, spent.statements
    assert spent.commits == 2, spent.statements


def test_a_verification_costs_two_statements_and_one_commit():
    warm_up()
    otp.request_code(MOBILE)
    code = last_code()
    with cost() as spent:
        record = otp.verify_code(MOBILE, code)
    assert record.status == OtpRecord.Status.USED
    assert spent.count - begins(spent) == 2, spent.statements
    assert spent.commits == 1, spent.statements


def test_the_account_is_looked_up_only_for_a_receiver_of_otp_verified():
    from .flow_helpers import make_user

    user = make_user(mobile=MOBILE)
    warm_up()
    otp.request_code(MOBILE)
    with cost() as spent:
        otp.verify_code(MOBILE, last_code())
    assert not any("huyi_sms_usermobile" in sql or "auth_user" in sql for sql in spent.statements)

    received = []

    def receiver(sender, record, user, **kwargs):
        received.append(user)

    signals.otp_verified.connect(receiver)
    try:
        otp.request_code(MOBILE, purpose="verify_phone")
        otp.verify_code(MOBILE, last_code(), purpose="verify_phone")
    finally:
        signals.otp_verified.disconnect(receiver)
    assert received == [user]
