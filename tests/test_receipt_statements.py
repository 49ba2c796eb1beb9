"""What a receipt push costs the database: statements and transactions, per case, on SQLite and PostgreSQL.

The budgets are the ones ``receipts.apply_receipt`` justifies in its docstring. Counted through the
real endpoint (the token, the parsing and DRF add no statement), with the push committing for real
(``transaction=True``): BEGIN and COMMIT are not statements here, they are counted as commits.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

import django_huyi_sms
from django_huyi_sms import signals
from django_huyi_sms.backends.locmem import LocmemBackend
from django_huyi_sms.models import SmsLog, StatusReceipt

from .push_helpers import TOKEN, post_form, receipt_fields
from .test_send import Catcher

pytestmark = pytest.mark.django_db(transaction=True)

TEXT = "您的验证码是：1234。请不要把验证码泄露给其他人。"
CONTROL = ("BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT")


class Cost:
    """The data statements run while it is open, whether each ran inside a transaction, and the commits."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.commits = 0
        self.active = False
        self.in_transaction: list[bool] = []
        original = connection.commit

        def commit() -> None:
            self.commits += self.active
            original()

        monkeypatch.setattr(connection, "commit", commit)
        self.capture = CaptureQueriesContext(connection)

    def _watch(self, execute, sql, params, many, context):
        if not sql.lstrip().upper().startswith(CONTROL):
            self.in_transaction.append(not connection.get_autocommit())
        return execute(sql, params, many, context)

    def __enter__(self) -> Cost:
        self.active = True
        self.capture.__enter__()
        self._wrapper = connection.execute_wrapper(self._watch)
        self._wrapper.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.active = False
        self._wrapper.__exit__(*exc)
        self.capture.__exit__(*exc)

    @property
    def statements(self) -> list[str]:
        return [q["sql"] for q in self.capture.captured_queries if not q["sql"].lstrip().upper().startswith(CONTROL)]

    def verbs(self) -> list[str]:
        return [sql.split(None, 1)[0].upper() for sql in self.statements]


@pytest.fixture
def cost(monkeypatch):
    return lambda: Cost(monkeypatch)


def push(client, smsid, **fields):
    response = post_form(client, "receipt_push", receipt_fields(smsid, **fields))
    assert response.content == b"success"
    return response


def test_a_receipt_for_a_submitted_send_is_two_statements_in_one_transaction(client, cost):
    """The UPDATE of the send's status by smsid, the INSERT of the raw push: the durable work, no more."""
    log = django_huyi_sms.send_sms("13800138000", TEXT)
    push(client, "warm-up")  # the first request of a process compiles the statements and loads the URLconf
    with cost() as spent, Catcher(signals.sms_status_changed) as changed:
        push(client, log.smsid)
    assert spent.verbs() == ["UPDATE", "INSERT"], spent.statements
    assert spent.in_transaction == [True, True] and spent.commits == 1
    assert SmsLog.objects.get(pk=log.pk).status == "delivered"
    [call] = changed.calls
    # The signal's log is the row the UPDATE returned, every field of it, read again by nobody.
    assert (call["old_status"], call["new_status"], call["log"].status, call["log"].receipt_code) == (
        "submitted", "delivered", "delivered", "2")
    assert (call["log"].content, call["log"].smsid, call["log"].created_at) == (log.content, log.smsid, log.created_at)
    assert call["receipt"].log_id == log.pk and call["receipt"].duplicate is False


def test_with_nobody_listening_the_update_returns_only_the_key(client, cost):
    log = django_huyi_sms.send_sms("13800138000", TEXT)
    assert not signals.sms_status_changed.has_listeners(SmsLog)
    with cost() as spent:
        push(client, log.smsid)
    assert spent.verbs() == ["UPDATE", "INSERT"]
    assert spent.statements[0].endswith('RETURNING "id"'), spent.statements[0]
    assert SmsLog.objects.get(pk=log.pk).status == "delivered"


def test_a_duplicate_receipt_is_two_statements_and_changes_nothing(client, cost):
    log = django_huyi_sms.send_sms("13800138000", TEXT)
    push(client, log.smsid)
    with cost() as spent, Catcher(signals.sms_status_changed) as changed:
        push(client, log.smsid)
    assert spent.verbs() == ["UPDATE", "INSERT"], spent.statements
    assert spent.commits == 1 and changed.calls == []
    assert list(StatusReceipt.objects.order_by("pk").values_list("duplicate", "log_id")) == [
        (False, log.pk), (True, log.pk)]


def test_a_late_contradicting_receipt_is_two_statements_and_changes_nothing(client, cost):
    log = django_huyi_sms.send_sms("13800138000", TEXT)
    push(client, log.smsid, code="0")
    with cost() as spent:
        push(client, log.smsid, report_time="2026-11-25 10:09:00")
    assert spent.verbs() == ["UPDATE", "INSERT"], spent.statements
    log.refresh_from_db()
    assert (log.status, log.receipt_code) == ("undelivered", "0")
    assert StatusReceipt.objects.filter(log=log, duplicate=False).count() == 2


def test_a_receipt_for_an_unknown_send_that_learned_its_smsid_is_three_statements(client, cost):
    """Not submitted, so the first UPDATE's guess misses; the INSERT reads its status, and a
    compare-and-set on that status moves it."""
    log = SmsLog.objects.create(mobile="13800138000", content=TEXT, status="unknown", smsid="321")
    with cost() as spent, Catcher(signals.sms_status_changed) as changed:
        push(client, "321")
    assert spent.verbs() == ["UPDATE", "INSERT", "UPDATE"], spent.statements
    assert spent.in_transaction == [True, True, True] and spent.commits == 1
    assert [(c["old_status"], c["new_status"]) for c in changed.calls] == [("unknown", "delivered")]
    assert StatusReceipt.objects.get().log_id == log.pk


def test_an_early_receipt_is_five_statements_and_the_sender_applies_it(client, cost):
    """The send is in flight (queued, no smsid) when its receipt comes: the receipt is stored and the
    send marked in one transaction, then looked for by smsid and as an unknown send, after the commit.
    The sender then finds the mark and applies the receipt."""
    push(client, "warm-up", mobile="13900139000")
    seen = {}

    class EarlyReceipt(LocmemBackend):
        def send(self, message):
            with cost() as spent:
                push(client, "555", mobile=message.mobile)
            seen["spent"], seen["waiting"] = spent, SmsLog.objects.get(mobile=message.mobile).receipt_waiting
            seen["linked"] = StatusReceipt.objects.get(smsid="555").log_id
            result = super().send(message)
            return type(result)(code=result.code, msg=result.msg, smsid="555")

    with override_settings(HUYI_SMS={"BACKEND": EarlyReceipt, "CALLBACK_TOKEN": TOKEN}):
        with Catcher(signals.sms_status_changed) as changed:
            log = django_huyi_sms.send_sms("13800138000", TEXT)
    spent = seen["spent"]
    assert spent.verbs() == ["UPDATE", "INSERT", "UPDATE", "SELECT", "SELECT"], spent.statements
    assert spent.in_transaction == [True, True, True, False, False] and spent.commits == 1
    assert seen["waiting"] is True and seen["linked"] is None
    assert [(c["old_status"], c["new_status"]) for c in changed.calls] == [("submitted", "delivered")]
    assert StatusReceipt.objects.get(smsid="555").log_id == log.pk
    assert (SmsLog.objects.get(pk=log.pk).status, log.status) == ("delivered", "delivered")


def test_without_returning_the_written_rows_are_read_back(client, cost, monkeypatch):
    """SQLite before 3.35 has no RETURNING: every path still works, with a read after each write (and
    no guess: which rows an UPDATE by smsid wrote could not be told)."""
    if connection.vendor != "sqlite":
        pytest.skip("only SQLite is ever without RETURNING")
    monkeypatch.setattr(connection.features, "can_return_columns_from_insert", False)
    log = django_huyi_sms.send_sms("13800138000", TEXT)
    with cost() as spent, Catcher(signals.sms_status_changed) as changed:
        push(client, log.smsid)
        push(client, log.smsid)
    assert spent.verbs() == ["INSERT", "SELECT", "UPDATE", "SELECT", "INSERT", "SELECT"], spent.statements
    assert [(c["old_status"], c["log"].status) for c in changed.calls] == [("submitted", "delivered")]
    assert list(StatusReceipt.objects.order_by("pk").values_list("duplicate", "log_id")) == [
        (False, log.pk), (True, log.pk)]
    assert all("RETURNING" not in sql for sql in spent.statements)
