"""Nothing secret in the logs: the main flows run with every logger at DEBUG, and all they print is read.

What is captured: every record of every logger (the root logger's handler, so records from the
live server's, the sandbox pusher's and the sandbox server's threads are there too, and pytest's
``caplog``), formatted with its traceback, stack and extra fields; and what the management
commands write to stdout and stderr.

What must not be in it:

* the APIKEY of any product, and ``md5(APIKEY)``: AddTemplate's password is that md5, as good as
  the key for AddTemplate (and for anything that takes a hashed key), so it is the key;
* the password each request carried: in plain mode the key itself; in dynamic mode
  ``md5(account + key + mobile + content + time)``, which is no key but is a credential (the
  provider takes it for that very message while the time is current, so a logged one can be
  replayed), and an offline check of a guessed key; treated as secret;
* a one-time code, anywhere (it is also never stored in clear: the SQL log, which Django writes
  at DEBUG when ``settings.DEBUG`` is on, is read too, and holds none);
* the full mobile number, except where it is legitimate: the SQL log above (it holds the rows,
  which keep the number, as the database does), and the sandbox's console (``huyi_sandbox``
  prints what each phone receives; the number and the text are the point of it). Every log line
  of the app itself shows the number masked (``139****5678``).

The numbers, keys and codes are made to be told apart from everything else in a log line.
"""

from __future__ import annotations

import io
import logging
import re
import threading
import time
import traceback
import urllib.request
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import override_settings
from django.urls import reverse

import django_huyi_sms
from django_huyi_sms import otp
from django_huyi_sms.client import IhuyiClient
from django_huyi_sms.models import OtpRecord, SmsLog, SmsTemplate
from django_huyi_sms.provider import md5_hex
from django_huyi_sms.sandbox import get_gateway
from django_huyi_sms.sandbox.wsgi import serve

from .faults import FaultyProvider, http_reply
from .flow_helpers import PASSWORD, make_user
from .push_helpers import TOKEN, post_form, receipt_fields
from .test_sandbox_flow import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

ACCOUNT = "C4711"
ACCOUNTS = {"sms": ACCOUNT, "marketing": "M4711", "voice": "V4711"}
KEYS = {
    "sms": "Ksms-7f3a9c2e1b5d4e6f",
    "marketing": "Kmkt-0c4e8a2f6b1d3a5c",
    "voice": "Kvoi-9e1d3b5a7c2f4d6e",
}
MOBILE = "13912345678"
OTHER = "13712340000"
MASKED = "139****5678"
NOTICE = "【商城】您的订单已发货"
PROMO = "【商城】周末全场五折，回T退订"

# Logger names whose records may show a full number (see the module docstring).
SQL_LOGGER = "django.db.backends"


# -- capture ---------------------------------------------------------------------------------------


_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class Everything(logging.Handler):
    """Keeps every record, from any thread, as the text a handler could write of it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[str, str]] = []
        self._lock_lines = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        text = f"{record.levelname} {record.name} {record.getMessage()}"
        if record.exc_info:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info))
        if record.stack_info:
            text += "\n" + record.stack_info
        extra = {key: value for key, value in record.__dict__.items() if key not in _STANDARD}
        if extra:
            text += f"\nextra: {extra!r}"
        with self._lock_lines:
            self.lines.append((record.name, text))


class Leaks:
    """The secrets of a test: what it must not find in the captured text."""

    def __init__(self, handler: Everything, caplog: pytest.LogCaptureFixture) -> None:
        self.handler = handler
        self.caplog = caplog
        self.passwords: set[str] = set()
        self.codes: set[str] = set()
        self.outputs: list[str] = []  # commands' stdout and stderr

    def command(self, *args: str, fails: bool = False) -> str:
        stdout, stderr = io.StringIO(), io.StringIO()
        if fails:
            with pytest.raises(CommandError) as raised:
                call_command(*args, stdout=stdout, stderr=stderr)
            stderr.write(str(raised.value))
        else:
            call_command(*args, stdout=stdout, stderr=stderr)
        self.outputs.append(stdout.getvalue() + stderr.getvalue())
        return self.outputs[-1]

    def texts(self) -> list[tuple[str, str]]:
        lines = list(self.handler.lines)
        lines += [(record.name, f"{record.levelname} {record.name} {record.getMessage()}") for record in self.caplog.records]
        lines += [("command output", output) for output in self.outputs]
        return lines

    def check(self, *, expect_mobile_masked: bool = True) -> None:
        """No key, password or code anywhere; no full number but where it is legitimate."""
        texts = self.texts()
        assert texts, "nothing was logged: the capture is broken"
        secrets = {*KEYS.values(), *(md5_hex(key) for key in KEYS.values()), *self.passwords}
        assert all(secrets), secrets
        for name, text in texts:
            for secret in secrets:
                assert secret not in text, f"a key or password in {name}: {text[:300]}"
            for code in self.codes:
                assert not re.search(rf"(?<!\d){code}(?!\d)", text), f"code {code} in {name}: {text[:300]}"
            if name != SQL_LOGGER:
                assert MOBILE not in text, f"the full number in {name}: {text[:300]}"
        if expect_mobile_masked:
            assert any(MASKED in text for _name, text in texts), "the masked number was never logged: flow not run?"


@pytest.fixture
def leaks(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> Iterator[Leaks]:
    handler = Everything()
    root = logging.getLogger()
    named = [
        logging.getLogger(name)
        for name in ("django", "django.request", "django.server", "django.db.backends", "django_huyi_sms",
                     "requests", "urllib3", "celery", "django_tasks")
    ]
    saved = [(logger, logger.level, logger.propagate) for logger in (root, *named)]
    for logger in (root, *named):
        logger.setLevel(logging.DEBUG)
    # Loggers that do not propagate (django.server does not) get the handler themselves.
    quiet = [logger for logger in named if not logger.propagate]
    for logger in quiet:
        logger.addHandler(handler)
    root.addHandler(handler)
    caplog.set_level(logging.DEBUG)
    found = Leaks(handler, caplog)
    original = IhuyiClient._password

    def spy(client: IhuyiClient, *parts: str):
        password = original(client, *parts)
        found.passwords.add(str(password))
        return password

    monkeypatch.setattr(IhuyiClient, "_password", spy)
    try:
        yield found
    finally:
        root.removeHandler(handler)
        for logger in quiet:
            logger.removeHandler(handler)
        for logger, level, propagate in saved:
            logger.setLevel(level)
            logger.propagate = propagate


def codes_sent(mobile: str = MOBILE) -> set[str]:
    return {match for message in get_gateway().messages_for(mobile) for match in re.findall(r"\d{4,8}", message.content)}


# -- the site on a live server, sending through the sandbox it serves ----------------------------


def site_settings(base: str, sign_mode: str = "dynamic", **extra) -> dict:
    return {
        "ACCOUNT": ACCOUNT,
        "API_KEY": KEYS["sms"],
        "SIGN_MODE": sign_mode,
        "API_URL": f"{base}/sandbox/webservice/sms.php",
        "PRODUCTS": {
            "marketing": {
                "ACCOUNT": ACCOUNTS["marketing"], "API_KEY": KEYS["marketing"],
                "API_URL": f"{base}/sandbox/yx/webservice/sms.php",
            },
            "voice": {
                "ACCOUNT": ACCOUNTS["voice"], "API_KEY": KEYS["voice"],
                "API_URL": f"{base}/sandbox/voice/webservice/voice.php",
            },
        },
        "BACKEND": "django_huyi_sms.backends.ihuyi.IhuyiBackend",
        "CALLBACK_TOKEN": TOKEN,
        "SANDBOX": {
            "ACCOUNTS": {ACCOUNTS[product]: KEYS[product] for product in KEYS},
            "DAILY_LIMIT": 100,
            "DAILY_CODE_LIMIT": 100,
            "IDENTICAL_PER_MINUTE": 100,
            "RECEIPT_URL": f"{base}/sms/push/receipt/?token={TOKEN}",
            "REPLY_URL": f"{base}/sms/push/reply/?token={TOKEN}",
            "TEMPLATE_URL": f"{base}/sms/push/template/?token={TOKEN}",
            "RECEIPT_DELAY": 0.01,
            "RETRY_SCALE": 0.01,
        },
        "OTP": {"UNIFORM_RESPONSE_SECONDS": 0, "RESEND_INTERVAL": 0, "DAILY_LIMIT": 100},
        **extra,
    }


class Ticking:
    """The sandbox's clock, two seconds on at each reading: its one-message-a-second limit never trips."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        self.now += 2
        return self.now


@pytest.fixture(params=["dynamic", "plain"])
def site(request, django_db_setup, live_server) -> Iterator[str]:
    with override_settings(HUYI_SMS=site_settings(live_server.url, request.param)):
        get_gateway().clock = Ticking()
        yield live_server.url
        assert get_gateway().wait_idle(10)


def delivered(count: int) -> bool:
    return SmsLog.objects.filter(status="delivered").count() >= count


def test_sends_balance_templates_and_their_pushes(site, leaks):
    """send_sms, enqueue_sms and a worker, send_bulk, get_balance, add_template; the receipts, a reply
    and a template review that the sandbox pushes back."""
    django_huyi_sms.send_sms(MOBILE, NOTICE)
    django_huyi_sms.enqueue_sms(MOBILE, NOTICE)  # Django's immediate runner: the worker runs now
    django_huyi_sms.send_bulk([MOBILE, OTHER], PROMO)
    assert django_huyi_sms.get_balance() > 0
    template = django_huyi_sms.add_template("您的验证码是：【变量】。")
    get_gateway().review_template(template.templateid, approved=True)
    get_gateway().send_reply(MOBILE, "TD")
    assert wait_for(lambda: delivered(4)) and wait_for(lambda: SmsTemplate.objects.get().status == "approved")
    assert get_gateway().wait_idle(10)
    leaks.check()


def test_codes_by_sms_and_voice_the_api_and_the_pages(site, leaks, client):
    user = make_user("alice", MOBILE)
    # The Python API: a code by SMS, a wrong try, the right one; then a voice code.
    otp.request_code(MOBILE, purpose="verify_phone")
    leaks.codes |= codes_sent()
    with pytest.raises(otp.InvalidCode):
        otp.verify_code(MOBILE, "000000", purpose="verify_phone")
    otp.verify_code(MOBILE, get_gateway().latest_code(MOBILE), purpose="verify_phone")
    otp.request_code(MOBILE, purpose="login", channel="voice")
    leaks.codes |= codes_sent()
    # The JSON API: ask for a sign-in code, use it.
    api_request = client.post(reverse("huyi_sms:otp_request"), {"mobile": MOBILE, "purpose": "password_reset"},
                              content_type="application/json")
    assert api_request.status_code == 200, api_request.content
    leaks.codes |= codes_sent()
    code = get_gateway().latest_code(MOBILE)
    api_verify = client.post(reverse("huyi_sms:otp_verify"), {"mobile": MOBILE, "code": code, "purpose": "password_reset",
                                                               "new_password": "Brand-new-passw0rd"},
                             content_type="application/json")
    assert api_verify.status_code == 200, api_verify.content
    # The pages: sign in with a code, and reset the password with one.
    client.logout()
    login = reverse("huyi_sms:login")
    if True:
        assert client.post(login, {"mobile": MOBILE, "send_code": "1"}).status_code == 200
        leaks.codes |= codes_sent()
        signed_in = client.post(login, {"mobile": MOBILE, "code": get_gateway().latest_code(MOBILE)})
        assert signed_in.status_code == 302
        client.logout()
        reset, confirm = reverse("huyi_sms:password_reset"), reverse("huyi_sms:password_reset_confirm")
        assert client.post(reset, {"mobile": MOBILE}).status_code == 302
        leaks.codes |= codes_sent()
        new_password = "N3w-and-long-enough"
        done = client.post(confirm, {"code": get_gateway().latest_code(MOBILE), "new_password1": new_password,
                                     "new_password2": new_password})
        assert done.status_code == 302, done.content
    user.refresh_from_db()
    assert user.check_password(new_password) and not user.check_password(PASSWORD)
    assert get_gateway().wait_idle(10)
    assert len(leaks.codes) >= 5
    leaks.check()


def test_the_management_commands(site, leaks, tmp_path):
    numbers = tmp_path / "numbers.txt"
    numbers.write_text(f"{MOBILE}\n{OTHER}\n")
    leaks.command("huyi_send", MOBILE, NOTICE)
    leaks.command("huyi_send", MOBILE, "", fails=True)
    leaks.command("huyi_send_bulk", str(numbers), PROMO)
    leaks.command("huyi_balance")
    leaks.command("huyi_add_template", "您的验证码是：【变量】。")
    leaks.command("huyi_requeue")
    leaks.command("huyi_purge", "--dry-run")
    assert wait_for(lambda: delivered(3))
    leaks.check()


# -- outcomes the sandbox does not give: a refusal, no answer, a bad push --------------------------


@pytest.fixture
def faulty() -> Iterator[FaultyProvider]:
    provider = FaultyProvider()
    yield provider
    provider.close()


def at(url: str, sign_mode: str = "dynamic", **extra) -> override_settings:
    return override_settings(HUYI_SMS={
        "ACCOUNT": ACCOUNT, "API_KEY": KEYS["sms"], "API_URL": url, "SIGN_MODE": sign_mode, "TIMEOUT": 0.3,
        "BACKEND": "django_huyi_sms.backends.ihuyi.IhuyiBackend", "CALLBACK_TOKEN": TOKEN, **extra,
    })


@pytest.mark.parametrize("sign_mode", ["dynamic", "plain"])
def test_refused_unanswered_and_broken_sends(faulty, leaks, client, sign_mode):
    faulty.reply = http_reply('{"code":4085,"msg":"同一手机号验证码短信发送超出5条","smsid":"0"}')
    with at(faulty.url, sign_mode):
        with pytest.raises(django_huyi_sms.exceptions.HuyiRateLimitError):
            django_huyi_sms.send_sms(MOBILE, NOTICE)
        with pytest.raises(django_huyi_sms.exceptions.HuyiRateLimitError):
            otp.request_code(MOBILE, purpose="verify_phone")
        faulty.mode = "hang"
        with pytest.raises(django_huyi_sms.exceptions.HuyiTransportError):
            django_huyi_sms.send_sms(MOBILE, NOTICE)
        otp.request_code(OTHER, purpose="verify_phone")  # unknown: stays valid
        faulty.mode, faulty.reply = "reply", http_reply("<html>" + "x" * 300 + "</html>", status="500 Internal Server Error")
        with pytest.raises(django_huyi_sms.exceptions.HuyiTransportError):
            django_huyi_sms.get_balance()
        with pytest.raises(django_huyi_sms.exceptions.HuyiApiError):
            django_huyi_sms.add_template("您的验证码是：【变量】。")
        leaks.command("huyi_balance", fails=True)
        leaks.command("huyi_send", MOBILE, NOTICE, fails=True)
    leaks.codes |= {code for body in faulty.bodies for code in re.findall(r"\d{4,8}", body.get("content", ""))}
    assert leaks.codes
    # Pushes: refused token, garbage, a receipt for a send nobody knows.
    post_form(client, "receipt_push", receipt_fields("123", mobile=MOBILE), token="wrong")
    post_form(client, "receipt_push", {"mobilephone": MOBILE, "code": "2"})
    post_form(client, "receipt_push", receipt_fields("4242", mobile=MOBILE))
    leaks.check()


def test_the_sandbox_server_on_its_own(leaks):
    """``huyi_sandbox`` serves the gateway with wsgiref, which would log a GET's query string: the password."""
    with override_settings(HUYI_SMS={"SANDBOX": {"ACCOUNTS": {ACCOUNT: KEYS["sms"]}}}):
        gateway = get_gateway()
        gateway.clock = Ticking()
        server, _thread = serve(gateway)
        try:
            url = f"http://127.0.0.1:{server.server_address[1]}/webservice/sms.php"
            client = IhuyiClient(ACCOUNT, KEYS["sms"], api_url=url, sign_mode="plain")
            client.submit(MOBILE, NOTICE)
            query = urlencode({"account": ACCOUNT, "password": KEYS["sms"], "mobile": MOBILE, "content": NOTICE})
            # urllib, not requests: this test's own client must not log the URL it was given.
            with urllib.request.urlopen(f"{url}?method=Submit&{query}", timeout=5) as answer:
                assert answer.status == 200
        finally:
            server.shutdown()
            server.server_close()
    assert len(gateway.messages_for(MOBILE)) == 2
    assert any(name.startswith("django_huyi_sms.sandbox") for name, _text in leaks.texts())
    leaks.check(expect_mobile_masked=False)


def test_the_admin_pages_with_the_sql_log(site, leaks, admin_client, settings):
    """With ``settings.DEBUG`` on, Django logs every SQL statement and its values: no code, no key there either."""
    otp.request_code(MOBILE, purpose="verify_phone")
    code = get_gateway().latest_code(MOBILE)
    leaks.codes |= codes_sent()
    django_huyi_sms.send_sms(MOBILE, NOTICE)
    assert wait_for(lambda: delivered(2))
    settings.DEBUG = True
    connection.force_debug_cursor = True
    try:
        for model in ("smslog", "otprecord", "statusreceipt", "upstreamreply", "smstemplate"):
            changelist = admin_client.get(reverse(f"admin:huyi_sms_{model}_changelist"))
            assert changelist.status_code == 200, model
        for log in SmsLog.objects.all():
            assert admin_client.get(reverse("admin:huyi_sms_smslog_change", args=[log.pk])).status_code == 200
        record = OtpRecord.objects.get()
        assert admin_client.get(reverse("admin:huyi_sms_otprecord_change", args=[record.pk])).status_code == 200
        otp.verify_code(MOBILE, code, purpose="verify_phone")
    finally:
        connection.force_debug_cursor = False
    assert any(name == SQL_LOGGER for name, _text in leaks.texts()), "the SQL log was not captured"
    leaks.check()
