"""A provider that fails in every way we know of, on a real socket: the row always ends in the state
that tells the truth, nothing is sent twice, and TIMEOUT bounds the whole exchange."""

from __future__ import annotations

import json
import time

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.urls import reverse

import django_huyi_sms
from django_huyi_sms import bulk, otp, sending, signals
from django_huyi_sms.exceptions import (
    HuyiConfigurationError,
    HuyiConnectionError,
    HuyiRateLimitError,
    HuyiTransportError,
    ResendTooSoon,
)
from django_huyi_sms.models import BalanceAlarm, OtpRecord, SmsLog, SmsTemplate

from .faults import Blackhole, FaultyProvider, accepted, http_reply, unused_port
from .test_queue import run_queued_tasks
from .test_send import CODE_TEXT, Catcher, ihuyi_at

pytestmark = pytest.mark.django_db

MOBILE = "13800138000"


@pytest.fixture
def faulty():
    provider = FaultyProvider()
    yield provider
    provider.close()


def send(url, *, timeout=1.0, fail_silently=False, **settings):
    with ihuyi_at(url, TIMEOUT=timeout, **settings):
        return django_huyi_sms.send_sms(MOBILE, CODE_TEXT, fail_silently=fail_silently)


def the_row():
    return SmsLog.objects.get()


# -- the request left and no valid answer came: unknown, never retried -----------------------------


@pytest.mark.parametrize(
    "mode, reply, reason",
    [
        ("hang", b"", "no answer within 1.0s"),
        ("reset", b"", "ConnectionResetError"),
        ("close", b"", "RemoteDisconnected"),
        ("reply", http_reply("busy", status="503 Service Unavailable"), "HTTP 503"),
        ("reply", http_reply("[" * 5000 + "]" * 5000), "neither XML nor JSON"),
        ("reply", http_reply('{"code":2,"msg":"ok","smsid":' + "[" * 500 + "]" * 500 + "}"), "not a plain value"),
        ("reply", http_reply('{"code":2,"msg":"ok","smsid":' + "[" * 30000 + "]" * 30000 + "}"), "nested too deep"),
        ("reply", http_reply('{"code":2,"msg":"ok","smsid":"' + "1" * 100 + '"}'), "not an smsid"),
        ("reply", http_reply('{"code":2,"msg":"ok","smsid":"12\\u000034"}'), "not an smsid"),
        ("reply", http_reply('{"code":2,"msg":"ok","smsid":1.5e30}'), "not an smsid"),
        ("reply", http_reply('{"code":2,"msg":"ok","smsid":"0"}'), "no smsid"),
        ("reply", http_reply(f'{{"code":{2**40},"msg":"ok","smsid":"1"}}'), "code is out of range"),
        ("reply", http_reply('{"code":-2,"msg":"ok","smsid":"1"}'), "code is out of range"),
        ("reply", http_reply("<html>gateway</html>", status="200 OK"), "expected <SubmitResult>"),
    ],
)
def test_no_valid_answer_is_unknown_raised_and_sent_once(faulty, mode, reply, reason):
    faulty.mode, faulty.reply = mode, reply
    with pytest.raises(HuyiTransportError) as caught:
        send(faulty.url)
    assert caught.value.may_have_been_sent and not isinstance(caught.value, HuyiConnectionError)
    row = the_row()
    assert row.status == SmsLog.Status.UNKNOWN and reason in row.provider_msg, row.provider_msg
    assert row.smsid == "" and row.provider_code in (None, 2)
    assert faulty.requests == 1  # never sent again: it may have gone out


def test_a_drip_fed_answer_is_cut_off_at_the_deadline(faulty):
    """A byte every 0.2 s never trips a per-read timeout; the exchange's deadline still holds."""
    faulty.mode, faulty.drip_interval = "drip", 0.2
    started = time.monotonic()
    with pytest.raises(HuyiTransportError, match=r"no answer within 1\.0s"):
        send(faulty.url, timeout=1.0)
    assert time.monotonic() - started < 1.8
    assert the_row().status == SmsLog.Status.UNKNOWN


def test_a_hanging_provider_holds_a_send_no_longer_than_timeout(faulty):
    faulty.mode = "hang"
    started = time.monotonic()
    send(faulty.url, timeout=0.5, fail_silently=True)
    assert 0.4 < time.monotonic() - started < 1.2
    assert the_row().status == SmsLog.Status.UNKNOWN


def test_an_unknown_send_is_not_resent_without_confirmation(faulty):
    faulty.mode = "hang"
    log = send(faulty.url, timeout=0.3, fail_silently=True)
    with pytest.raises(django_huyi_sms.sending.NotResendable, match="may have been sent"):
        django_huyi_sms.sending.resend(log)
    faulty.mode, faulty.reply = "reply", accepted("555")
    with ihuyi_at(faulty.url):
        again = django_huyi_sms.sending.resend(log, confirm_unknown=True)
    assert (again.status, again.smsid, again.resent_from_id) == ("submitted", "555", log.pk)
    assert faulty.requests == 2


# -- nothing reached the provider: failed, and the client retried the connect -----------------------


def test_connection_refused_fails_as_nothing_sent():
    with pytest.raises(HuyiConnectionError, match="Connection refused") as caught:
        send(f"http://127.0.0.1:{unused_port()}/webservice/sms.php")
    assert not caught.value.may_have_been_sent
    row = the_row()
    assert row.status == SmsLog.Status.FAILED and "Connection refused" in row.provider_msg


def test_a_connect_timeout_fails_within_timeout():
    blackhole = Blackhole()
    try:
        started = time.monotonic()
        with pytest.raises(HuyiConnectionError, match=r"could not connect within 0\.5s"):
            send(blackhole.url, timeout=0.5)
        assert time.monotonic() - started < 1.2  # retries included: they share the deadline
    finally:
        blackhole.close()
    assert the_row().status == SmsLog.Status.FAILED


def test_a_tls_failure_fails_as_nothing_sent(faulty):
    faulty.mode = "tls"
    with pytest.raises(HuyiConnectionError, match="SSLError"):
        send(faulty.url.replace("http://", "https://"))
    assert the_row().status == SmsLog.Status.FAILED
    assert faulty.requests == 0


def test_a_redirect_is_not_followed_and_the_form_goes_nowhere_else(faulty, fake_provider):
    """A 307 would re-post the form (in plain mode, the APIKEY itself) to wherever it points."""
    faulty.reply = http_reply("", status="307 Temporary Redirect", headers=(f"Location: {fake_provider.url}",))
    with pytest.raises(HuyiConfigurationError, match=r"HTTP 307 redirect to .* not followed"):
        send(faulty.url, SIGN_MODE="plain")
    assert fake_provider.requests == []
    assert the_row().status == SmsLog.Status.FAILED


# -- the provider's answer, checked before it touches the database --------------------------------


def test_a_refusal_whose_text_carries_a_nul_is_stored_cleaned(faulty):
    faulty.reply = http_reply('{"code":4085,"msg":"超出\\u0000限制\\ud800","smsid":"0"}')
    with pytest.raises(HuyiRateLimitError):
        send(faulty.url)
    row = the_row()
    assert (row.status, row.provider_code) == ("failed", 4085)
    assert "\x00" not in row.provider_msg and "\ud800" not in row.provider_msg and "限制" in row.provider_msg


def test_the_sends_list_still_opens_after_garbage_answers(faulty, admin_client):
    faulty.reply = http_reply('{"code":2,"msg":"' + "\\u0000" * 300 + '","smsid":' + "[" * 5000 + "]" * 5000 + "}")
    send(faulty.url, fail_silently=True)
    faulty.reply = http_reply('{"code":2,"msg":"ok","smsid":"' + "9" * 200 + '"}')
    with ihuyi_at(faulty.url):
        django_huyi_sms.send_sms("13900139000", CODE_TEXT, fail_silently=True)
    assert set(SmsLog.objects.values_list("status", flat=True)) == {"unknown"}
    changelist = reverse("admin:huyi_sms_smslog_changelist")
    assert admin_client.get(changelist).status_code == 200
    for log in SmsLog.objects.all():
        assert admin_client.get(reverse("admin:huyi_sms_smslog_change", args=[log.pk])).status_code == 200


# -- one-time codes ----------------------------------------------------------------------------------


def test_a_code_whose_answer_never_came_stays_valid_and_counts(faulty):
    """It may be on the phone: it must verify, and asking again is still "too soon"."""
    faulty.mode = "hang"
    with ihuyi_at(faulty.url, TIMEOUT=0.3):
        record = otp.request_code(MOBILE, purpose="verify_phone")
        assert record.status == OtpRecord.Status.ACTIVE and record.sms_log.status == SmsLog.Status.UNKNOWN
        with pytest.raises(ResendTooSoon):
            otp.request_code(MOBILE, purpose="verify_phone")
    assert faulty.requests == 1
    code = "".join(ch for ch in faulty.bodies[0]["content"] if ch.isdigit())
    assert otp.verify_code(MOBILE, code, purpose="verify_phone").status == OtpRecord.Status.USED


def test_a_code_that_reached_nobody_does_not_count():
    with ihuyi_at(f"http://127.0.0.1:{unused_port()}/webservice/sms.php"):
        with pytest.raises(HuyiConnectionError):
            otp.request_code(MOBILE, purpose="verify_phone")
        with pytest.raises(HuyiConnectionError):  # not ResendTooSoon: nothing was sent
            otp.request_code(MOBILE, purpose="verify_phone")
    assert OtpRecord.objects.filter(status=OtpRecord.Status.FAILED).count() == 2


@pytest.mark.parametrize("has_account", [True, False])
def test_a_garbage_answer_gives_the_same_200_to_every_number_asking_to_sign_in(faulty, client, has_account):
    """Before, an smsid the database could not store made POST api/otp/ answer 500 for numbers with an
    account only (those are the ones that reach the provider): a way to tell who has one."""
    faulty.reply = http_reply('{"code":2,"msg":"ok","smsid":"' + "1" * 100 + '"}')
    if has_account:
        user = get_user_model().objects.create_user("alice", password="pw")
        from django_huyi_sms.models import UserMobile

        UserMobile.objects.create(user=user, mobile=MOBILE)
    with ihuyi_at(faulty.url):
        response = client.post(
            reverse("huyi_sms:otp_request"), data=json.dumps({"mobile": MOBILE}), content_type="application/json"
        )
    assert response.status_code == 200, response.content
    assert set(SmsLog.objects.values_list("status", flat=True)) == ({"unknown"} if has_account else set())
    assert not SmsLog.objects.filter(status=SmsLog.Status.QUEUED).exists()


def test_timeout_setting_bounds_a_code_request_too(faulty):
    faulty.mode, faulty.drip_interval = "drip", 0.5
    started = time.monotonic()
    with override_settings(
        HUYI_SMS={"ACCOUNT": "C1", "API_KEY": "k", "API_URL": faulty.url, "TIMEOUT": 0.5,
                  "BACKEND": "django_huyi_sms.backends.ihuyi.IhuyiBackend"}
    ):
        otp.request_code(MOBILE, purpose="verify_phone")
    assert time.monotonic() - started < 1.5


def test_an_endpoint_that_is_not_http_fails_as_nothing_sent():
    with pytest.raises(HuyiConfigurationError, match="not an http:// or https:// URL"):
        send("ftp://127.0.0.1/webservice/sms.php")
    assert the_row().status == SmsLog.Status.FAILED


# -- the same faults on the other paths: a worker, a bulk batch, the balance, a template, a code --------

#: The request left and no valid answer came, each way the provider can fail to give one.
NO_VALID_ANSWER = [
    pytest.param("hang", b"", id="hang"),
    pytest.param("reset", b"", id="reset"),
    pytest.param("close", b"", id="close"),
    pytest.param("reply", http_reply("busy", status="500 Internal Server Error"), id="500"),
    pytest.param("reply", http_reply("<html>gateway</html>"), id="garbage"),
    pytest.param("drip", accepted(), id="drip-fed"),
]


def no_valid_answer(faulty, mode, reply):
    faulty.mode, faulty.reply, faulty.drip_interval = mode, reply, 0.2


@pytest.mark.parametrize("mode, reply", NO_VALID_ANSWER)
def test_a_worker_leaves_a_send_with_no_valid_answer_unknown_and_never_retries_it(
    faulty, dummy_queue, django_capture_on_commit_callbacks, mode, reply
):
    """Retries are on and the queue can defer; still, what may have been sent is not sent again."""
    no_valid_answer(faulty, mode, reply)
    with ihuyi_at(faulty.url, TIMEOUT=0.5, QUEUE={"RETRIES": 3, "RETRY_BACKOFF": 1}):
        with django_capture_on_commit_callbacks(execute=True):
            log = django_huyi_sms.enqueue_sms(MOBILE, CODE_TEXT)
        assert run_queued_tasks(dummy_queue) == 1
        assert sending.requeue(older_than=300) == sending.RequeueResult(handed_out=0, unknown=0)
    log.refresh_from_db()
    assert (log.status, log.attempts) == (SmsLog.Status.UNKNOWN, 1)
    assert dummy_queue.results == [] and faulty.requests == 1


@pytest.mark.parametrize("mode, reply", NO_VALID_ANSWER)
def test_a_bulk_batch_with_no_valid_answer_is_unknown_row_by_row_and_never_retried(
    faulty, dummy_queue, django_capture_on_commit_callbacks, mode, reply
):
    no_valid_answer(faulty, mode, reply)
    marketing = {"ACCOUNT": "M1", "API_KEY": "mk", "API_URL": faulty.url}
    with ihuyi_at(faulty.url, TIMEOUT=0.5, PRODUCTS={"marketing": marketing}, QUEUE={"RETRIES": 3}):
        with django_capture_on_commit_callbacks(execute=True):
            sent = django_huyi_sms.send_bulk(["13800138000", "13800138001", "13800138002"], "【商城】周末五折，回T退订")
        run_queued_tasks(dummy_queue)
        assert bulk.send_batch(sent.pk, 0) == 0  # the task delivered again sends nothing
    assert set(SmsLog.objects.values_list("status", "attempts")) == {(SmsLog.Status.UNKNOWN, 1)}
    assert faulty.requests == 1 and faulty.bodies[0]["mobile"] == "13800138000,13800138001,13800138002"


@pytest.mark.parametrize(
    "mode, reply",
    [
        *NO_VALID_ANSWER,
        pytest.param("reply", http_reply('{"code":2,"msg":"ok","num":"lots"}'), id="num not a number"),
        pytest.param("reply", http_reply('{"code":2,"msg":"ok","num":"-5"}'), id="num negative"),
        pytest.param("reply", http_reply('{"code":2,"msg":"ok"}'), id="num missing"),
    ],
)
def test_a_balance_with_no_valid_answer_is_an_error_and_no_reading(faulty, mode, reply):
    """A garbled balance must not be read as 0 (or as plenty): that would ring, or silence, the alarm."""
    no_valid_answer(faulty, mode, reply)
    with Catcher(signals.balance_low) as rang, ihuyi_at(faulty.url, TIMEOUT=0.5, LOW_BALANCE_THRESHOLD=100):
        with pytest.raises(HuyiTransportError):
            django_huyi_sms.get_balance()
    assert rang.calls == [] and not BalanceAlarm.objects.exists()


@pytest.mark.parametrize(
    "mode, reply",
    [
        *NO_VALID_ANSWER,
        pytest.param("reply", http_reply('{"code":2,"msg":"ok","templateid":"x"}'), id="templateid not a number"),
        pytest.param("reply", http_reply('{"code":2,"msg":"ok"}'), id="templateid missing"),
    ],
)
def test_a_template_with_no_valid_answer_is_an_error_recorded_nowhere_and_submitted_once(faulty, mode, reply):
    """It may be in the provider's review queue: the operator looks in the console rather than submit it twice."""
    no_valid_answer(faulty, mode, reply)
    with ihuyi_at(faulty.url, TIMEOUT=0.5):
        with pytest.raises(HuyiTransportError):
            django_huyi_sms.add_template("您的验证码是：【变量】。")
    assert not SmsTemplate.objects.exists() and faulty.requests == 1


@pytest.mark.parametrize("mode, reply", [param for param in NO_VALID_ANSWER if param.id != "hang"])
def test_a_code_with_no_valid_answer_stays_valid_and_counts(faulty, mode, reply):
    """As with a hanging provider (above): it may be on the phone."""
    no_valid_answer(faulty, mode, reply)
    with ihuyi_at(faulty.url, TIMEOUT=0.5):
        record = otp.request_code(MOBILE, purpose="verify_phone")
        assert (record.status, record.sms_log.status) == (OtpRecord.Status.ACTIVE, SmsLog.Status.UNKNOWN)
        with pytest.raises(ResendTooSoon):
            otp.request_code(MOBILE, purpose="verify_phone")
    assert faulty.requests == 1
    code = "".join(ch for ch in faulty.bodies[0]["content"] if ch.isdigit())
    assert otp.verify_code(MOBILE, code, purpose="verify_phone").status == OtpRecord.Status.USED
