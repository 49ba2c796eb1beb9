"""manage.py huyi_send_bulk FILE CONTENT: numbers from a file, checked first, recorded, queued, followed."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

import django_huyi_sms
from django_huyi_sms import optouts
from django_huyi_sms.management.commands import huyi_send_bulk
from django_huyi_sms.models import BulkSend, OptOut, SmsLog

from .conftest import DUMMY_TASKS

# Real commits: the command's own transaction commits, and its queue runs as it would on a site.
pytestmark = pytest.mark.django_db(transaction=True)

TEXT = "【商城】周末全场五折。"
LOCMEM = {"BACKEND": "django_huyi_sms.backends.locmem.LocmemBackend", "MARKETING": {"BATCH_SIZE": 2}}


class Terminal(io.StringIO):
    """What the bars are drawn on when a person watches: tqdm draws only on a terminal."""

    def isatty(self) -> bool:
        return True


def run(*args, stderr=None, **settings):
    out, err = io.StringIO(), stderr if stderr is not None else io.StringIO()
    with override_settings(HUYI_SMS={**LOCMEM, **settings}):
        call_command("huyi_send_bulk", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def test_one_number_a_line_with_a_header_blank_lines_repeats_and_opt_outs(tmp_path):
    optouts.opt_out("13700137000", OptOut.Reason.REPLIED)
    path = write(tmp_path, "numbers.txt", "手机号\n13800138000\n\n+86 139 0013 9000\r\n13800138000\n13700137000\n13600136000\n")
    out, _err = run(path, TEXT)
    sent = BulkSend.objects.get()
    assert (sent.recipients, sent.opted_out, sent.duplicates, sent.batches) == (3, 1, 1, 2)
    assert [m.mobile for m in django_huyi_sms.outbox] == ["13800138000,13900139000", "13600136000"]
    assert django_huyi_sms.outbox[0].content == TEXT + "回T退订"
    assert f"bulk send #{sent.pk}: 3 recipient(s) in 2 batch(es) of 2; 1 opted out (not sent); 1 repeated" in out
    assert "3 submitted" in out and "every message has left" in out


def test_a_csv_column_by_name_in_gbk(tmp_path):
    csv_text = '姓名,手机,备注\n张三,13800138000,"老客户, 北京"\n李四,13900139000,\n'
    path = write(tmp_path, "客户.csv", csv_text, encoding="gbk")
    run(path, TEXT, "--column", "手机", "--encoding", "gbk")
    assert [m.mobile for m in django_huyi_sms.outbox] == ["13800138000,13900139000"]


def test_a_csv_file_takes_its_first_column_or_the_one_given(tmp_path):
    path = write(tmp_path, "list.csv", "13800138000,13900139000\n13700137000,13600136000\n")
    run(path, TEXT)
    assert [m.mobile for m in django_huyi_sms.outbox] == ["13800138000,13700137000"]
    django_huyi_sms.outbox.clear()
    run(path, TEXT, "--column", "2")
    assert [m.mobile for m in django_huyi_sms.outbox] == ["13900139000,13600136000"]


def test_bad_numbers_stop_it_naming_their_lines_and_nothing_is_written(tmp_path):
    path = write(tmp_path, "numbers.txt", "13800138000\n1380013800\n13900139000\n13800138000,13900139000\n")
    with pytest.raises(CommandError) as caught:
        run(path, TEXT)
    message = str(caught.value)
    assert "2 of the 4 numbers in" in message and "are not a mobile number" in message
    assert "line 2: '138****3800'" in message and "line 4:" in message and "line 1:" not in message
    assert BulkSend.objects.count() == SmsLog.objects.count() == 0 and django_huyi_sms.outbox == []


@pytest.mark.parametrize(
    "content, options, complaint",
    [
        ("", [], "not sent: [404]"),
        (TEXT, ["--at", "2020-01-01 09:00"], "not sent: scheduled_at (2020-01-01T09:00:00+08:00) is not in the future"),
        (TEXT, ["--at", "next monday"], "--at: 'next monday' is not a time"),
        (TEXT, ["--at", "2030-13-01 09:00"], "--at: '2030-13-01 09:00' is not a time"),
        (TEXT, ["--at", "2030-01-01 09:00", "--product", "sms"], "only marketing takes a send time"),
        (TEXT, ["--column", "0"], "--column: columns are numbered from 1"),
        (TEXT, ["--column", "phone"], "has no column 'phone' in its first line"),
        (TEXT, ["--encoding", "klingon"], "--encoding: 'klingon' is not an encoding"),
        (TEXT, ["--wait", "soon"], "--wait: 'soon' is not a number of seconds"),
        (TEXT, ["--wait", "-1"], "--wait: '-1' must be a number of seconds, 0 or more"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_written(tmp_path, content, options, complaint):
    path = write(tmp_path, "numbers.csv", "mobile\n13800138000\n")
    with pytest.raises(CommandError) as caught:
        run(path, content, *options)
    assert complaint in str(caught.value)
    assert BulkSend.objects.count() == 0


def test_files_it_cannot_read(tmp_path):
    with pytest.raises(CommandError, match="No such file or directory"):
        run(str(tmp_path / "missing.txt"), TEXT)
    gbk = write(tmp_path, "gbk.txt", "13800138000\n号码\n", encoding="gbk")
    with pytest.raises(CommandError, match=r"not utf-8-sig text .* --encoding gbk"):
        run(gbk, TEXT)
    empty = write(tmp_path, "empty.txt", "\n  \n")
    with pytest.raises(CommandError, match="no number in it"):
        run(empty, TEXT)
    assert BulkSend.objects.count() == 0


def test_a_utf8_file_from_excel_with_a_bom(tmp_path):
    path = write(tmp_path, "bom.csv", "\ufeffmobile\r\n13800138000\r\n")
    run(path, TEXT)
    assert [m.mobile for m in django_huyi_sms.outbox] == ["13800138000"]


def test_at_schedules_it_in_the_current_time_zone_or_the_offset_given(tmp_path):
    path = write(tmp_path, "numbers.txt", "13800138000\n")
    out, _err = run(path, TEXT, "--at", "2030-01-01 09:00")
    assert BulkSend.objects.get().scheduled_at == datetime(2030, 1, 1, 1, 0, tzinfo=UTC)  # TIME_ZONE is Shanghai
    assert "sent by the provider at 2030-01-01 09:00:00 China time" in out
    run(path, TEXT, "--at", "2030-01-01T09:00:00+00:00")
    assert BulkSend.objects.order_by("-pk").first().scheduled_at == datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
    assert [m.stime for m in django_huyi_sms.outbox] == [
        datetime(2030, 1, 1, 1, 0, tzinfo=UTC),
        datetime(2030, 1, 1, 9, 0, tzinfo=UTC),
    ]


def test_the_progress_bars_read_record_and_send(tmp_path):
    numbers = "".join(f"138{n:08d}\n" for n in range(25))
    path = write(tmp_path, "numbers.txt", numbers)
    _out, err = run(path, TEXT, stderr=Terminal())
    assert "reading: 100%" in err
    assert "recording: 100%" in err and "25/25" in err
    assert "sending: 100%" in err
    assert SmsLog.objects.filter(status="submitted").count() == 25


def test_without_a_terminal_no_bar_is_drawn(tmp_path):
    path = write(tmp_path, "numbers.txt", "13800138000\n")
    _out, err = run(path, TEXT)
    assert "recording" not in err and "sending" not in err


def test_with_workers_elsewhere_it_follows_the_database_until_every_message_left(tmp_path, monkeypatch):
    from django_huyi_sms.tasks import task_backends

    path = write(tmp_path, "numbers.txt", "".join(f"138{n:08d}\n" for n in range(5)))
    with override_settings(TASKS=DUMMY_TASKS):
        queue = task_backends["default"]
        queue.clear()

        def worker_runs_one_task(seconds):  # the poll's pause: a worker elsewhere sends a batch meanwhile
            if queue.results:
                result = queue.results.pop(0)
                result.task.call(*result.args)

        monkeypatch.setattr(huyi_send_bulk.time, "sleep", worker_runs_one_task)
        out, err = run(path, TEXT, stderr=Terminal())
    assert "sending: 100%" in err and "5/5" in err
    assert "5 submitted" in out and "every message has left" in out
    assert len(django_huyi_sms.outbox) == 3


def test_no_wait_returns_once_it_is_queued(tmp_path):
    path = write(tmp_path, "numbers.txt", "13800138000\n13900139000\n")
    with override_settings(TASKS=DUMMY_TASKS):
        out, _err = run(path, TEXT, "--no-wait")
    assert "2 queued: the workers send them" in out
    assert django_huyi_sms.outbox == [] and SmsLog.objects.filter(status="queued").count() == 2


def test_a_wait_that_runs_out_says_what_is_still_queued(tmp_path):
    path = write(tmp_path, "numbers.txt", "13800138000\n")
    with override_settings(TASKS=DUMMY_TASKS):
        out, _err = run(path, TEXT, "--wait", "0")
    assert "1 still queued" in out


def test_failures_end_it_with_an_error_saying_how_many(tmp_path):
    from .test_send_bulk import Refusing

    path = write(tmp_path, "numbers.txt", "13800138000\n13900139000\n13700137000\n")
    with pytest.raises(CommandError, match=r"bulk send #\d+: 3 failed, 0 unknown"):
        run(path, TEXT, BACKEND=Refusing)
    assert set(SmsLog.objects.values_list("status", flat=True)) == {"failed"}
