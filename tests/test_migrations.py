"""The migrations match the models: one initial migration, and nothing left for makemigrations."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader

import django_huyi_sms
from django_huyi_sms import models


def test_the_app_has_one_initial_migration_and_one_line_after_it():
    folder = Path(django_huyi_sms.__file__).parent / "migrations"
    names = sorted(path.stem for path in folder.glob("0*.py"))
    assert names[0] == "0001_initial" and not any("initial" in name for name in names[1:])
    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    assert graph.leaf_nodes("huyi_sms") == [("huyi_sms", names[-1])]
    assert [name for app, name in graph.forwards_plan(("huyi_sms", names[-1])) if app == "huyi_sms"] == names


@pytest.mark.django_db
def test_makemigrations_finds_nothing_to_do():
    out = StringIO()
    try:
        call_command("makemigrations", "huyi_sms", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit as exit:  # --check exits non-zero when a migration is missing
        pytest.fail(f"the models and migrations differ (exit {exit.code}):\n{out.getvalue()}")


@pytest.mark.django_db(transaction=True)
def test_0002_marks_earlier_code_messages_and_relabels_duplicate_receipts():
    executor = MigrationExecutor(connection)
    executor.migrate([("huyi_sms", "0001_initial")])
    apps = executor.loader.project_state([("huyi_sms", "0001_initial")]).apps
    SmsLog, StatusReceipt, OtpRecord = (apps.get_model("huyi_sms", name) for name in ("SmsLog", "StatusReceipt", "OtpRecord"))
    now = "2026-12-01T10:00:00+08:00"
    row = {"product": "sms", "mobile": "13800138000", "content": "…", "status": "failed"}
    login = SmsLog.objects.create(**row, purpose="login")
    signup = SmsLog.objects.create(**row, purpose="signup")
    OtpRecord.objects.create(
        mobile="13800138000", purpose="signup", code_hash="x", salt="y", expires_at=now, sms_log=signup
    )
    notice = SmsLog.objects.create(**row)
    receipt = {"smsid": "1", "mobile": "13800138000", "code": "2", "report_time": now, "duplicate": False}
    first, second = StatusReceipt.objects.create(**receipt), StatusReceipt.objects.create(**receipt)  # the old race
    other = StatusReceipt.objects.create(**{**receipt, "code": "0"})
    try:
        migrate_to_latest()
        marked = dict(models.SmsLog.objects.values_list("pk", "carries_code"))
        assert marked == {login.pk: True, signup.pk: True, notice.pk: False}
        duplicates = dict(models.StatusReceipt.objects.values_list("pk", "duplicate"))
        assert duplicates == {first.pk: False, second.pk: True, other.pk: False}
    finally:
        migrate_to_latest()  # whatever happened: the tests after this one need the whole schema


def migrate_to_latest():
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes("huyi_sms"))
