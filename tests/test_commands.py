"""huyi_send, huyi_balance, huyi_add_template: output, rows, and clear errors for bad arguments."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

import django_huyi_sms
from django_huyi_sms.models import SmsLog, SmsTemplate

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
IHUYI = "django_huyi_sms.backends.ihuyi.IhuyiBackend"


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_huyi_send_sends_and_prints_the_smsid():
    output = run("huyi_send", "13800138000", "您的验证码是：1234。", "--purpose", "cli")
    log = SmsLog.objects.get()
    assert log.status == "submitted" and log.purpose == "cli"
    assert f"smsid {log.smsid}" in output
    assert len(django_huyi_sms.outbox) == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["12345", "hi"], "406"),
        (["13800138000", ""], "404"),
        (["13800138000", "😀"], "4074"),
    ],
)
def test_huyi_send_bad_arguments_are_clear_errors(args, message):
    with pytest.raises(CommandError, match=message):
        run("huyi_send", *args)
    assert SmsLog.objects.count() == 0


def test_huyi_send_refused_by_the_provider(fake_provider):
    fake_provider.answer_json(code=4085, msg="同一手机号验证码短信发送超出【5】条", smsid="0")
    settings = {"ACCOUNT": "C1", "API_KEY": "k", "API_URL": fake_provider.url, "BACKEND": IHUYI}
    with override_settings(HUYI_SMS=settings), pytest.raises(CommandError, match="4085"):
        run("huyi_send", "13800138000", "您的验证码是：1234。")
    assert SmsLog.objects.get().status == "failed"


@pytest.mark.parametrize("purpose", ["p" * 33, "p" * 60])
def test_huyi_send_refuses_a_purpose_too_long_for_the_log(purpose):
    with pytest.raises(CommandError, match=r"--purpose: purpose is .* at most 32"):
        run("huyi_send", "13800138000", "您的验证码是：1234。", "--purpose", purpose)
    assert SmsLog.objects.count() == 0 and django_huyi_sms.outbox == []


def test_huyi_send_unknown_product():
    with pytest.raises(CommandError, match="invalid choice"):
        run("huyi_send", "13800138000", "hi", "--product", "fax")


def test_huyi_balance(fake_provider):
    fake_provider.answer_json(code=2, msg="查询成功", num=5000)
    settings = {"ACCOUNT": "C1", "API_KEY": "k", "API_URL": fake_provider.url, "BACKEND": IHUYI}
    with override_settings(HUYI_SMS=settings):
        assert run("huyi_balance").strip() == "sms: 5000"
        fake_provider.answer_json(code=2, msg="查询成功", num=3)
        assert "under 100" in run("huyi_balance")
        fake_provider.answer_json(code=405, msg="API ID 或 API KEY 不正确")
        with pytest.raises(CommandError, match="405"):
            run("huyi_balance")


def test_huyi_add_template():
    output = run("huyi_add_template", "您的验证码是：【变量】。")
    template = SmsTemplate.objects.get()
    assert f"template id {template.templateid}" in output
    with pytest.raises(CommandError, match="404"):
        run("huyi_add_template", " ")
    assert SmsTemplate.objects.count() == 1


@pytest.mark.parametrize(
    "args, complaint",
    [
        (["12345", "hello"], "CommandError: not sent: [406]"),
        (["13800138000", "hello", "--purpose", "p" * 60], "CommandError: not sent: --purpose"),
    ],
)
def test_bad_arguments_from_the_shell_exit_non_zero_without_a_traceback(args, complaint):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)}
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "django", "huyi_send", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert complaint in result.stderr
    assert "Traceback" not in result.stderr


def test_huyi_send_does_not_say_not_sent_when_it_may_have_been(fake_provider):
    fake_provider.status = 502
    with override_settings(HUYI_SMS={"ACCOUNT": "C1", "API_KEY": "k", "API_URL": fake_provider.url, "BACKEND": IHUYI}):
        with pytest.raises(CommandError) as caught:
            run("huyi_send", "13800138000", "您的验证码是：1234。")
    log = SmsLog.objects.get()
    assert str(caught.value).startswith("outcome unknown") and f"log #{log.pk} is 'unknown'" in str(caught.value)
    assert "not sent" not in str(caught.value)
