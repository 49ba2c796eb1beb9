"""The low-balance alarm: ``balance_low`` and a mail to ADMINS once per fall under the threshold,
``huyi_balance --check`` for cron, and the scheduled task."""

from __future__ import annotations

import io
import subprocess
import sys
import threading

import django
import pytest
from django.conf import settings
from django.core import mail
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test import override_settings

import django_huyi_sms
from django_huyi_sms import balances, signals, tasks
from django_huyi_sms.backends.base import OfflineBackend
from django_huyi_sms.models import BalanceAlarm

from .test_send import Catcher
from .workers import ROOT, worker_env

pytestmark = pytest.mark.django_db

IHUYI = "django_huyi_sms.backends.ihuyi.IhuyiBackend"
# Django 6 takes addresses; 5.2 wants (name, address) pairs.
ADMINS = ["ops@example.com"] if django.VERSION >= (6, 0) else [("Ops", "ops@example.com")]


def huyi(**extra):
    return override_settings(HUYI_SMS={**settings.HUYI_SMS, **extra}, ADMINS=ADMINS)


def ihuyi_at(url, **extra):
    return huyi(ACCOUNT="C1", API_KEY="the-secret-key", API_URL=url, BACKEND=IHUYI, **extra)


@pytest.fixture(autouse=True)
def _fresh_readings():
    balances.forget_balances()
    yield
    balances.forget_balances()


@pytest.fixture
def balance(monkeypatch):
    """Set what the (locmem) backend answers for the balance: ``balance(42)``."""

    def set_balance(value: int) -> None:
        monkeypatch.setattr(OfflineBackend, "balance", value)

    return set_balance


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_the_alarm_rings_once_per_fall_under_the_threshold_and_again_after_a_top_up(
    balance, django_capture_on_commit_callbacks
):
    readings = [500, 99, 50, 3, 99, 100, 2000, 40, 10]
    rang = []
    with huyi(LOW_BALANCE_THRESHOLD=100), Catcher(signals.balance_low) as low:
        for value in readings:
            balance(value)
            with django_capture_on_commit_callbacks(execute=True):
                assert django_huyi_sms.get_balance() == value
            rang.append(len(low.calls))
    # Under the threshold at 99 (once, however long it stays under), back at 100, under again at 40.
    assert rang == [0, 1, 1, 1, 1, 1, 1, 2, 2]
    assert [(call["balance"], call["threshold"], call["product"]) for call in low.calls] == [(99, 100, "sms"), (40, 100, "sms")]
    assert [message.subject for message in mail.outbox] == [
        "[Django] SMS balance low: 99 messages left on sms",
        "[Django] SMS balance low: 40 messages left on sms",
    ]
    assert mail.outbox[0].to == ["ops@example.com"]
    assert "LOW_BALANCE_THRESHOLD" in mail.outbox[0].body and "Top it up" in mail.outbox[0].body


def test_the_state_is_in_the_database_not_in_this_process(balance, django_capture_on_commit_callbacks):
    balance(42)
    with huyi(), Catcher(signals.balance_low) as low:
        with django_capture_on_commit_callbacks(execute=True):
            django_huyi_sms.get_balance()
        # Another process starts with an empty cache and fresh settings: it reads the row.
        cache.clear()
        from django_huyi_sms.conf import huyi_settings

        huyi_settings.reload()
        with django_capture_on_commit_callbacks(execute=True):
            django_huyi_sms.get_balance()
    assert len(low.calls) == 1 and len(mail.outbox) == 1
    assert list(BalanceAlarm.objects.values_list("product", "account", "low", "balance")) == [
        ("sms", "sandbox", True, 42)
    ]


def test_each_account_has_its_own_alarm(balance, django_capture_on_commit_callbacks):
    balance(42)
    with Catcher(signals.balance_low) as low, django_capture_on_commit_callbacks(execute=True):
        with huyi():
            django_huyi_sms.get_balance()
        with huyi(ACCOUNT="another-account"):
            django_huyi_sms.get_balance()
            django_huyi_sms.get_balance()
    assert len(low.calls) == 2


def test_a_rolled_back_reading_mails_nobody(balance, django_capture_on_commit_callbacks):
    balance(42)
    with huyi(), django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            django_huyi_sms.get_balance()
            raise RuntimeError("the caller's transaction fails")
    assert mail.outbox == [] and not BalanceAlarm.objects.filter(low=True).exists()


class BrokenMail:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("no mail server")


def test_a_mail_server_that_is_down_does_not_break_the_reading(balance, django_capture_on_commit_callbacks, caplog):
    balance(42)
    with huyi(), override_settings(EMAIL_BACKEND=f"{__name__}.BrokenMail"):
        with django_capture_on_commit_callbacks(execute=True):
            assert django_huyi_sms.get_balance() == 42
    assert "could not mail ADMINS" in caplog.text
    assert "balance of sms is 42, under LOW_BALANCE_THRESHOLD 100" in caplog.text


def test_the_mail_never_shows_the_api_key(fake_provider, django_capture_on_commit_callbacks):
    fake_provider.answer_json(code=2, msg="查询成功", num=7)
    with ihuyi_at(fake_provider.url), django_capture_on_commit_callbacks(execute=True):
        assert django_huyi_sms.get_balance() == 7
    assert len(mail.outbox) == 1
    assert "C1" in mail.outbox[0].body and "the-secret-key" not in mail.outbox[0].body + mail.outbox[0].subject


def test_the_admins_balance_box_rings_the_alarm_too(admin_client, balance, django_capture_on_commit_callbacks):
    from django.urls import reverse

    balance(42)
    with huyi(), django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            balances.forget_balances()
            assert admin_client.get(reverse("admin:huyi_sms_smslog_changelist")).status_code == 200
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_only")
def test_workers_that_read_the_same_low_balance_at_once_ring_once(balance):
    def read(gate, errors):
        try:
            gate.wait(timeout=10)
            django_huyi_sms.get_balance()
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    def eight_at_once():
        gate, errors = threading.Barrier(8), []
        threads = [threading.Thread(target=read, args=(gate, errors)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert errors == []

    with huyi(), Catcher(signals.balance_low) as low:
        balance(42)
        eight_at_once()  # the first reading ever: eight INSERTs race
        assert len(low.calls) == 1
        balance(5000)
        django_huyi_sms.get_balance()  # a top-up arms it again
        balance(42)
        eight_at_once()  # eight conditional UPDATEs race
    assert len(low.calls) == 2 and len(mail.outbox) == 2
    assert BalanceAlarm.objects.count() == 1


# -- huyi_balance --check ------------------------------------------------------------------------


def test_check_reads_every_configured_product_and_exits_0_when_none_is_low(fake_provider):
    fake_provider.answer_json(code=2, msg="查询成功", num=5000)
    marketing = {"ACCOUNT": "M1", "API_KEY": "mk", "API_URL": fake_provider.url}
    voice = {"API_URL": fake_provider.url}
    with ihuyi_at(fake_provider.url, PRODUCTS={"marketing": marketing, "voice": voice}):
        output = run("huyi_balance", "--check")
    # voice is listed but inherits the top-level pair, so it is configured too; the others are not.
    assert output.splitlines() == [
        "sms: 5000 (threshold 100)",
        "marketing: 5000 (threshold 100)",
        "voice: 5000 (threshold 100)",
    ]
    assert len(fake_provider.requests) == 3 and mail.outbox == []


def test_check_exits_1_for_a_low_balance_and_mails_once(fake_provider, django_capture_on_commit_callbacks):
    fake_provider.answer_json(code=2, msg="查询成功", num=12)
    with ihuyi_at(fake_provider.url), django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            with pytest.raises(CommandError) as caught:
                out = io.StringIO()
                call_command("huyi_balance", "--check", stdout=out)
            assert caught.value.returncode == 1
            assert str(caught.value) == "balance low: sms (under 100)"
            assert out.getvalue() == "sms: 12 LOW (under 100)\n"
    assert len(mail.outbox) == 1


def test_check_reads_fresh_whatever_the_admin_cached(fake_provider):
    fake_provider.answer_json(code=2, msg="查询成功", num=5000)
    with ihuyi_at(fake_provider.url):
        balances.read_balance("sms")  # the admin's reading, cached a minute
        fake_provider.answer_json(code=2, msg="查询成功", num=12)
        with pytest.raises(CommandError):
            run("huyi_balance", "--check")
        # ... and the admin now shows the fresh reading.
        assert balances.read_balance("sms").balance == 12
    assert len(fake_provider.requests) == 2


def test_check_exits_2_when_a_balance_cannot_be_read(fake_provider):
    def answer(request):
        if request.form.get("account") == "M1":
            return '{"code":405,"msg":"API ID 或 API KEY 不正确","num":0}'
        return '{"code":2,"msg":"查询成功","num":12}'

    fake_provider.reply = answer
    marketing = {"ACCOUNT": "M1", "API_KEY": "mk", "API_URL": fake_provider.url}
    with ihuyi_at(fake_provider.url, PRODUCTS={"marketing": marketing}):
        out = io.StringIO()
        with pytest.raises(CommandError) as caught:
            call_command("huyi_balance", "--check", stdout=out)
    assert caught.value.returncode == 2
    assert str(caught.value) == "balance low: sms (under 100); balance unavailable: marketing"
    assert "marketing: could not be read: [405]" in out.getvalue() and "mk" not in out.getvalue()


def test_check_of_one_product(fake_provider):
    fake_provider.answer_json(code=2, msg="查询成功", num=5000)
    marketing = {"ACCOUNT": "M1", "API_KEY": "mk", "API_URL": fake_provider.url}
    with ihuyi_at(fake_provider.url, PRODUCTS={"marketing": marketing}):
        assert run("huyi_balance", "--check", "--product", "marketing") == "marketing: 5000 (threshold 100)\n"
        with pytest.raises(CommandError) as caught:
            run("huyi_balance", "--check", "--product", "international")
    assert caught.value.returncode == 2 and "international has no ACCOUNT and API_KEY" in str(caught.value)


def test_check_with_nothing_configured_says_so():
    with huyi(ACCOUNT="", API_KEY=""), pytest.raises(CommandError) as caught:
        run("huyi_balance", "--check")
    assert caught.value.returncode == 2 and "nothing to check" in str(caught.value)


@pytest.mark.django_db(transaction=True)
def test_cron_sees_the_exit_status(fake_provider):
    """The command run as cron runs it: a process of its own, on the same database."""
    fake_provider.answer_json(code=2, msg="查询成功", num=12)
    huyi_sms = {"ACCOUNT": "C1", "API_KEY": "k", "API_URL": fake_provider.url, "BACKEND": IHUYI}
    env = worker_env(huyi_sms)
    if connection.vendor == "sqlite":
        env["HUYI_WORKER_DB_NAME"] = connection.settings_dict["NAME"]
    done = subprocess.run(
        [sys.executable, "-m", "django", "huyi_balance", "--check"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout == "sms: 12 LOW (under 100)\n", (done.stdout, done.stderr)
    assert "CommandError: balance low: sms (under 100)" in done.stderr and "Traceback" not in done.stderr
    assert BalanceAlarm.objects.get().low is True  # the other process recorded the crossing


def test_the_old_form_still_prints_one_product(balance):
    balance(5000)
    assert run("huyi_balance") == "sms: 5000\n"


# -- the scheduled task ---------------------------------------------------------------------------


def test_the_task_reads_every_product_and_rings(balance, django_capture_on_commit_callbacks):
    balance(42)
    with huyi(), django_capture_on_commit_callbacks(execute=True):
        result = tasks.check_balances_task.enqueue()  # Django's immediate backend: runs here
    assert result.return_value == {"sms": 42}
    assert len(mail.outbox) == 1


def test_the_celery_task_does_the_same(balance, django_capture_on_commit_callbacks):
    balance(42)
    with huyi(), django_capture_on_commit_callbacks(execute=True):
        assert tasks.check_balances_celery.apply().get() == {"sms": 42}
    assert tasks.check_balances_celery.name == "django_huyi_sms.check_balances"
    assert len(mail.outbox) == 1


def test_check_deploy_warns_when_nobody_would_be_mailed():
    from django.core.checks import Tags, run_checks

    live = {"ACCOUNT": "C12345678", "API_KEY": "a-real-looking-key", "CALLBACK_TOKEN": "t", "BACKEND": IHUYI,
            "OTP": {"SITE_DAILY_LIMIT": 3000}}

    def warned(**django_settings):
        with override_settings(HUYI_SMS=live, DEBUG=False, **django_settings):
            return [m for m in run_checks(tags=[Tags.security], include_deployment_checks=True)
                    if m.id == "huyi_sms.W036"]

    (warning,) = warned(ADMINS=[])
    assert "ADMINS is empty" in warning.msg and "balance" in warning.msg
    assert warned(ADMINS=ADMINS) == []
