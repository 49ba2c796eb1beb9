"""Retention: ``huyi_purge`` (``retention.purge``) deletes what is older than RETENTION_DAYS, in batches,
and never a row still needed."""

from __future__ import annotations

import io
import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings
from django.utils import timezone

import django_huyi_sms
from django_huyi_sms import retention, tasks
from django_huyi_sms.models import (
    BulkSend,
    OptOut,
    OtpRecord,
    OtpThrottle,
    SiteCodeCount,
    SmsLog,
    SmsTemplate,
    StatusReceipt,
    UpstreamReply,
)

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)
LABELS = [target.label for target in retention.TARGETS]


def huyi(**extra):
    return override_settings(HUYI_SMS={**settings.HUYI_SMS, **extra})


def aged(instance, age: timedelta, field: str = "created_at"):
    """Make ``instance`` look ``age`` old (its date fields are set on save)."""
    type(instance).objects.filter(pk=instance.pk).update(**{field: timezone.now() - age})
    return instance


def send(age: timedelta, status=SmsLog.Status.DELIVERED, **fields) -> SmsLog:
    log = SmsLog.objects.create(mobile="13800138000", content="【测试】您的订单已发货。", status=status, **fields)
    return aged(log, age)


def receipt(age: timedelta, log=None, smsid="1") -> StatusReceipt:
    row = StatusReceipt.objects.create(
        smsid=smsid, mobile="13800138000", code="2", report_time=timezone.now() - age, log=log
    )
    return aged(row, age, "received_at")


def reply(age: timedelta, log=None, fingerprint="f") -> UpstreamReply:
    row = UpstreamReply.objects.create(
        mobile="13800138000", content="TD", reply_time=timezone.now() - age, log=log, fingerprint=fingerprint
    )
    return aged(row, age, "received_at")


def code(age: timedelta, expires_in: timedelta = timedelta(minutes=-1), log=None) -> OtpRecord:
    record = OtpRecord.objects.create(
        mobile="13800138000", purpose="login", code_hash="ab" * 32, salt="c0ffee" * 4,
        expires_at=timezone.now() + expires_in, sms_log=log,
    )
    return aged(record, age)


@pytest.fixture
def rows():
    """Rows of every kind, on both sides of the default cutoff (180 days), by name."""
    old, young = 200 * DAY, 10 * DAY
    today = timezone.localdate()
    made = {
        "old send": send(old),
        "old failed send": send(old, SmsLog.Status.FAILED),
        "old unknown send": send(old, SmsLog.Status.UNKNOWN),
        "old queued send": send(old, SmsLog.Status.QUEUED),
        "young send": send(young),
    }
    made["young resend of an old send"] = send(young, SmsLog.Status.DELIVERED, resent_from=made["old failed send"])
    made |= {
        "old receipt": receipt(old, made["old send"]),
        "old unmatched receipt": receipt(old, smsid="never-matched"),
        "young receipt of an old send": receipt(young, made["old send"], smsid="2"),
        "old reply": reply(old, made["old send"], "f1"),
        "young reply": reply(young, fingerprint="f2"),
        "old code": code(old, log=made["old send"]),
        "old code still live": code(old, expires_in=timedelta(minutes=5)),
        "young code": code(young),
        "old throttle": OtpThrottle.objects.create(mobile="13800000001", day=today - 200 * DAY,
                                                   last_sent_at=timezone.now() - old),
        "young throttle": OtpThrottle.objects.create(mobile="13800000002", day=today - 10 * DAY,
                                                     last_sent_at=timezone.now() - young),
        "old site count": SiteCodeCount.objects.create(window="day", started_at=timezone.now() - old, count=7),
        "young site count": SiteCodeCount.objects.create(window="hour", started_at=timezone.now(), count=1),
        "template": aged(SmsTemplate.objects.create(content="您的验证码是：【变量】。", templateid=1), old),
    }
    made["opt-out"] = OptOut.objects.create(mobile="13800138000", reason=OptOut.Reason.REPLIED, reply=made["old reply"])
    return made


def exists(row) -> bool:
    return type(row).objects.filter(pk=row.pk).exists()


GONE = ["old send", "old failed send", "old unknown send", "old receipt", "old unmatched receipt", "old reply",
        "old code", "old throttle", "old site count"]


def test_the_purge_deletes_what_is_old_and_keeps_what_is_still_needed(rows):
    result = retention.purge()
    assert [name for name, row in rows.items() if not exists(row)] == GONE
    assert result.counts == {
        "huyi_sms.OtpRecord": 1,
        "huyi_sms.StatusReceipt": 2,
        "huyi_sms.UpstreamReply": 1,
        "huyi_sms.SmsLog": 3,
        "huyi_sms.BulkSend": 0,
        "huyi_sms.OtpThrottle": 1,
        "huyi_sms.SiteCodeCount": 1,
    }
    assert result.total == 9 and not result.dry_run
    # What pointed at a deleted row stays and forgets it.
    for name, field in (("young receipt of an old send", "log"), ("young resend of an old send", "resent_from"),
                        ("opt-out", "reply")):
        rows[name].refresh_from_db()
        assert getattr(rows[name], field) is None, name
    # A second run finds nothing more.
    assert retention.purge().total == 0


def bulk_send(age: timedelta, *statuses) -> BulkSend:
    bulk = aged(BulkSend.objects.create(product="marketing", content="【商城】周末五折，回T退订", batch_size=100), age)
    for status in statuses:
        send(age, status, bulk=bulk)
    return bulk


def test_a_bulk_send_goes_with_its_last_message():
    done = bulk_send(200 * DAY, SmsLog.Status.DELIVERED, SmsLog.Status.FAILED)
    scheduled = bulk_send(200 * DAY, SmsLog.Status.DELIVERED, SmsLog.Status.QUEUED)  # one still waits to go out
    young = bulk_send(10 * DAY, SmsLog.Status.DELIVERED)
    assert retention.purge(dry_run=True).counts["huyi_sms.BulkSend"] == 1
    result = retention.purge()
    assert (result.counts["huyi_sms.BulkSend"], result.counts["huyi_sms.SmsLog"]) == (1, 3)
    assert not exists(done) and exists(scheduled) and exists(young)
    assert scheduled.logs.get().status == SmsLog.Status.QUEUED  # still its bulk send's


def test_a_dry_run_counts_the_same_and_deletes_nothing(rows):
    counts = retention.purge(dry_run=True).counts
    assert all(exists(row) for row in rows.values())
    assert retention.purge().counts == counts


def test_an_unknown_send_a_late_receipt_could_still_match_is_kept():
    matchable = send(2 * DAY, SmsLog.Status.UNKNOWN)
    settled = send(2 * DAY, SmsLog.Status.DELIVERED)
    with huyi(UNKNOWN_MATCH_WINDOW=3 * 86400):
        retention.purge(days=1)
    assert exists(matchable) and not exists(settled)


def test_batches_load_at_most_batch_size_rows_at_a_time(monkeypatch):
    logs = [send(200 * DAY) for _ in range(25)]
    for log in logs[:10]:
        receipt(200 * DAY, log, smsid=str(log.pk))
    loaded = []  # rows made into model instances since the last batch
    most = []
    original = SmsLog.from_db.__func__

    def counting_from_db(cls, *args, **kwargs):
        loaded.append(1)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(SmsLog, "from_db", classmethod(counting_from_db))
    seen = []

    def progress(step):
        seen.append((step.target.name, step.deleted, step.total))
        most.append(len(loaded))
        loaded.clear()

    result = retention.purge(batch_size=4, progress=progress)
    assert [step for step in seen if step[0] == "SMS logs"] == [
        ("SMS logs", deleted, 25) for deleted in (4, 8, 12, 16, 20, 24, 25)
    ]
    assert [step for step in seen if step[0] == "delivery receipts"] == [
        ("delivery receipts", deleted, 10) for deleted in (4, 8, 10)
    ]
    assert max(most) == 4  # never more than a batch of sends in memory at once
    assert result.counts["huyi_sms.SmsLog"] == 25 and not SmsLog.objects.exists()


@pytest.mark.parametrize("arguments", [{"days": 0}, {"days": -1}, {"days": "30"}, {"batch_size": 0},
                                       {"batch_size": retention.MAX_BATCH_SIZE + 1}, {"batch_size": True}])
def test_purge_refuses_arguments_out_of_range(rows, arguments):
    with pytest.raises(ValueError):
        retention.purge(**arguments)
    assert all(exists(row) for row in rows.values())


# -- huyi_purge ---------------------------------------------------------------------------------


def run(*args):
    out = io.StringIO()
    call_command("huyi_purge", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_the_command_says_what_it_deletes_batch_by_batch(rows):
    for _ in range(4):
        send(200 * DAY)
    output = run("--batch-size", "3").splitlines()
    assert output[0].startswith("Deleting what is older than 180 days (before ")
    assert output[0].endswith("), 3 rows at a time:")
    assert output[1:-1] == [
        "  one-time codes: 1 of 1 deleted",
        "  delivery receipts: 2 of 2 deleted",
        "  replies: 1 of 1 deleted",
        "  SMS logs: 3 of 7 deleted",
        "  SMS logs: 6 of 7 deleted",
        "  SMS logs: 7 of 7 deleted",
        "  bulk sends: none",
        "  per-number code counts: 1 of 1 deleted",
        "  site-wide code counts: 1 of 1 deleted",
    ]
    assert output[-1].startswith("Deleted 13 rows in ")
    assert output[-1].endswith(
        "s: 1 one-time codes, 2 delivery receipts, 1 replies, 7 SMS logs, 0 bulk sends, 1 per-number code counts, "
        "1 site-wide code counts."
    )
    assert run().splitlines()[1:-1] == [f"  {target.name}: none" for target in retention.TARGETS]


def test_the_command_dry_run(rows):
    output = run("--dry-run").splitlines()
    assert output[0].startswith("Dry run, nothing is deleted. Older than 180 days (before ")
    assert "  SMS logs: 3 would be deleted" in output
    assert output[-1] == (
        "Would delete 9 rows: 1 one-time codes, 2 delivery receipts, 1 replies, 3 SMS logs, 0 bulk sends, "
        "1 per-number code counts, 1 site-wide code counts."
    )
    assert all(exists(row) for row in rows.values())


def test_days_default_to_retention_days_and_can_be_given(rows):
    recent = send(40 * DAY)
    with huyi(RETENTION_DAYS=365):
        assert "older than 365 days" in run()
    assert all(exists(row) for row in rows.values())
    assert "older than 30 days" in run("--days", "30")
    assert not exists(recent) and exists(rows["young send"])


def test_quiet_says_nothing(rows):
    assert run("--verbosity", "0") == ""
    assert not exists(rows["old send"])


@pytest.mark.parametrize(
    "args, complaint",
    [
        (["--days", "0"], "--days: '0' must be 1 or more"),
        (["--days", "soon"], "--days: 'soon' is not a whole number"),
        (["--days", "1.5"], "--days: '1.5' is not a whole number"),
        (["--batch-size", "0"], "--batch-size: '0' must be from 1 to 10000"),
        (["--batch-size", "50000"], "--batch-size: '50000' must be from 1 to 10000"),
    ],
)
def test_bad_options_are_clear_errors_and_delete_nothing(rows, args, complaint):
    with pytest.raises(CommandError) as caught:
        run(*args)
    assert str(caught.value) == complaint
    assert all(exists(row) for row in rows.values())


# -- for a scheduler -----------------------------------------------------------------------------


def test_the_task_purges(rows):
    result = tasks.purge_task.enqueue()  # Django's immediate backend: runs here
    assert result.return_value["huyi_sms.SmsLog"] == 3
    assert not exists(rows["old send"]) and exists(rows["young send"])


def test_the_celery_task_purges_with_its_days(rows):
    recent = send(40 * DAY)
    assert tasks.purge_celery.name == "django_huyi_sms.purge"
    assert tasks.purge_celery.apply(kwargs={"days": 30}).get()["huyi_sms.SmsLog"] == 4
    assert not exists(recent)


# -- while the site runs -------------------------------------------------------------------------


def test_a_code_request_for_a_number_whose_idle_count_was_just_purged_still_works(monkeypatch):
    """The purge may delete a number's OtpThrottle row between the request making sure it exists and locking it.

    Only where the count is not one upsert (databases other than PostgreSQL and SQLite >= 3.35): the
    upsert makes, checks and counts the row in one statement, with no gap for the purge to fall in."""
    from django_huyi_sms import models

    monkeypatch.setattr(models, "_upserts", lambda connection: False)
    manager = type(OtpThrottle.objects)
    original = manager.get_or_create
    purged = []

    def get_or_create_then_purge(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        if not purged:
            purged.append(OtpThrottle.objects.filter(**kwargs).delete())
        return result

    monkeypatch.setattr(manager, "get_or_create", get_or_create_then_purge)
    from django_huyi_sms import otp

    otp.request_code("13800138000")
    assert purged and OtpThrottle.objects.get().sent_today == 1
    assert len(django_huyi_sms.outbox) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_only")
def test_purging_while_the_site_sends_deletes_only_the_old():
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO huyi_sms_smslog (product, mobile, content, parts, status, smsid, provider_msg, receipt_code,"
            " receipt_msg, purpose, carries_code, variables, created_at, updated_at, attempts, receipt_waiting)"
            " SELECT 'sms', '13800138000', 'old', 1, 'delivered', g::text, '', '', '', '', false, '[]',"
            " now() - interval '200 days', now(), 1, false FROM generate_series(1, 3000) AS g"
        )
    sent = []

    def site():
        try:
            for n in range(40):
                sent.append(django_huyi_sms.send_sms(f"1390013{n:04d}", "您的验证码是：1234。").pk)
        finally:
            connection.close()

    thread = threading.Thread(target=site)
    thread.start()
    result = retention.purge(batch_size=100)
    thread.join(timeout=60)
    assert result.counts["huyi_sms.SmsLog"] == 3000
    assert sorted(SmsLog.objects.values_list("pk", flat=True)) == sorted(sent) and len(sent) == 40
