"""The sandbox gateway answers, limits, bills and pushes exactly as ihuyi does.

Everything runs in memory or over loopback HTTP on 127.0.0.1; nothing here
touches the internet.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings
from django.urls import reverse
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from django_huyi_sms.client import IhuyiClient, dynamic_password, md5_hex, parse_reply
from django_huyi_sms.exceptions import (
    RESULT_CODES,
    HuyiApiError,
    HuyiConfigurationError,
    HuyiContentError,
)
from django_huyi_sms.sandbox import get_gateway
from django_huyi_sms.sandbox.gateway import (
    DEFAULT_SENSITIVE_WORDS,
    ROUTES,
    STATUS_DELIVERED,
    STATUS_UNDELIVERED,
    SandboxGateway,
)
from django_huyi_sms.sandbox.pusher import MAX_ATTEMPTS, RETRY_INTERVALS, Pusher, PushRecord
from django_huyi_sms.sandbox.wsgi import serve
from django_huyi_sms.validation import normalize_mobile, validate_content

ACCOUNT = "C1234"
KEY = "sandbox-key-1234"
MOBILE = "13800138000"
CODE_TEXT = "您的验证码是：482913。请不要把验证码泄露给其他人。【互亿无线】"
NOTICE_TEXT = "您的订单已发货，请注意查收。【互亿无线】"
START = 1_700_000_000.0  # 2023-11-15 06:13:20 China time: far from midnight


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_gateway(clock: FakeClock) -> Iterator[Callable[..., SandboxGateway]]:
    made: list[SandboxGateway] = []

    def make(**options: Any) -> SandboxGateway:
        options.setdefault("accounts", {ACCOUNT: KEY})
        options.setdefault("receipt_delay", 0)
        options.setdefault("clock", clock)
        gateway = SandboxGateway(**options)
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        gateway.close()


@pytest.fixture
def gateway(make_gateway: Callable[..., SandboxGateway]) -> SandboxGateway:
    return make_gateway()


def call(
    gateway: SandboxGateway,
    method: str = "Submit",
    *,
    product: str = "sms",
    fmt: str = "json",
    remote_addr: str = "127.0.0.1",
    **fields: str,
) -> dict[str, str]:
    """Call the gateway and parse its reply as the client does."""
    content_type, body = gateway.handle(product, method, {**fields, "format": fmt}, remote_addr=remote_addr)
    assert content_type.startswith("application/json" if fmt == "json" else "text/xml")
    return parse_reply(body, method)


def submit(
    gateway: SandboxGateway,
    mobile: str = MOBILE,
    content: str = CODE_TEXT,
    *,
    account: str = ACCOUNT,
    key: str = KEY,
    at: float | None = None,
    **options: Any,
) -> dict[str, str]:
    """A Submit signed with a dynamic password made at ``at`` (default: the gateway's clock)."""
    now = str(int(gateway.clock() if at is None else at))
    password = dynamic_password(account, key, mobile, content, now)
    return call(gateway, account=account, password=password, mobile=mobile, content=content, time=now, **options)


def code_of(reply: dict[str, str]) -> int:
    return int(reply["code"])


# -- signing and credentials ----------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_dynamic_and_plain_passwords_are_accepted(gateway: SandboxGateway, clock: FakeClock, fmt: str) -> None:
    signed = submit(gateway, fmt=fmt)
    clock.advance(61)
    plain = call(gateway, fmt=fmt, account=ACCOUNT, password=KEY, mobile=MOBILE, content=NOTICE_TEXT)

    for reply in (signed, plain):
        assert reply["code"] == "2"
        assert reply["msg"] == RESULT_CODES[2].zh
        assert re.fullmatch(r"\d{20}", reply["smsid"])
    assert signed["smsid"] != plain["smsid"]


def test_replies_have_the_providers_exact_shape(gateway: SandboxGateway) -> None:
    now = str(int(gateway.clock()))
    fields = {
        "account": ACCOUNT,
        "password": dynamic_password(ACCOUNT, KEY, MOBILE, CODE_TEXT, now),
        "mobile": MOBILE,
        "content": CODE_TEXT,
        "time": now,
    }
    _, xml_body = gateway.handle("sms", "Submit", fields)
    smsid = parse_reply(xml_body)["smsid"]
    assert xml_body.decode("utf-8") == (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<SubmitResult xmlns="106.ihuyi.com"><code>2</code><msg>提交成功</msg><smsid>{smsid}</smsid></SubmitResult>'
    )
    plain = {**fields, "password": KEY, "time": "", "mobile": "13900139000", "format": "json"}
    _, json_body = gateway.handle("sms", "Submit", plain)
    data = json.loads(json_body)
    assert list(data) == ["code", "msg", "smsid"]
    assert data["code"] == 2 and isinstance(data["code"], int)


@pytest.mark.parametrize(
    ("account", "password", "expected"),
    [
        ("", KEY, 401),
        (ACCOUNT, "", 402),
        ("nobody", KEY, 4053),  # an APIID the provider does not know: "用户不存在"
        (ACCOUNT, "not-the-key", 405),
    ],
)
def test_credentials_are_checked_first(gateway: SandboxGateway, account: str, password: str, expected: int) -> None:
    # Empty mobile and content too: credentials are answered before anything else.
    reply = call(gateway, account=account, password=password, mobile="", content="")
    assert code_of(reply) == expected
    assert reply["msg"] == RESULT_CODES[expected].zh
    assert reply["smsid"] == "0"


def test_dynamic_password_over_other_fields_is_a_mismatch(gateway: SandboxGateway) -> None:
    now = str(int(gateway.clock()))
    signed_for_other_text = dynamic_password(ACCOUNT, KEY, MOBILE, "另一条短信", now)
    reply = call(gateway, account=ACCOUNT, password=signed_for_other_text, mobile=MOBILE, content=CODE_TEXT, time=now)
    assert code_of(reply) == 40502
    assert code_of(submit(gateway, key="wrong-key")) == 40502
    assert gateway.messages_for(MOBILE) == []


def test_dynamic_password_expires_after_the_allowed_skew(make_gateway: Callable[..., SandboxGateway]) -> None:
    gateway = make_gateway(max_clock_skew=300)
    assert code_of(submit(gateway, at=START - 301)) == 40501
    assert code_of(submit(gateway, at=START + 301)) == 40501
    assert code_of(call(gateway, account=ACCOUNT, password="x", mobile=MOBILE, content=CODE_TEXT, time="soon")) == 40501
    assert code_of(submit(gateway, at=START - 299)) == 2


def test_getnum_signs_account_key_and_time_as_in_the_vendors_example(clock: FakeClock) -> None:
    # ihuyi-api.md: account test, apikey 1q78…, time 1451544941.
    clock.now = 1451544941
    with SandboxGateway(accounts={"test": "1q784322ba1d9bb88d50cf5cdfd89k7d"}, balance=42, clock=clock) as gateway:
        password = md5_hex("test1q784322ba1d9bb88d50cf5cdfd89k7d1451544941")
        reply = call(gateway, "GetNum", account="test", password=password, time="1451544941", fmt="xml")
        assert reply == {"code": "2", "msg": RESULT_CODES[2].zh, "num": "42"}
        wrong = call(gateway, "GetNum", account="test", password=md5_hex("test-other-1451544941"), time="1451544941")
        assert code_of(wrong) == 40502 and wrong["num"] == "0"


def test_addtemplate_takes_the_plain_key_or_its_md5(gateway: SandboxGateway) -> None:
    template = "您的验证码是：【变量】。请不要把验证码泄露给其他人。"
    plain = call(gateway, "AddTemplate", account=ACCOUNT, password=KEY, content=template)
    hashed = call(gateway, "AddTemplate", account=ACCOUNT, password=md5_hex(KEY), content=template, fmt="xml")
    assert code_of(plain) == code_of(hashed) == 2
    assert int(hashed["templateid"]) > int(plain["templateid"]) > 0
    assert code_of(call(gateway, "AddTemplate", account=ACCOUNT, password=md5_hex("nope"), content=template)) == 405
    assert code_of(call(gateway, "AddTemplate", account=ACCOUNT, password=KEY, content=" ")) == 404
    assert code_of(call(gateway, "AddTemplate", account=ACCOUNT, password=KEY, content="验证码【变量】\x00")) == 0
    assert code_of(call(gateway, "AddTemplate", account=ACCOUNT, password=KEY, content="赌博【变量】")) == 407
    assert [t.content for t in gateway.templates] == [template, template]


def test_unknown_method_is_answered_with_code_0(gateway: SandboxGateway) -> None:
    reply = call(gateway, "Delete", account=ACCOUNT, password=KEY)
    assert code_of(reply) == 0 and reply["smsid"] == "0"
    # parse_qs-style list values and missing fields are answered, not crashed on.
    _, body = gateway.handle("sms", "Submit", {"account": [ACCOUNT], "password": [KEY], "mobile": [], "content": None})
    assert code_of(parse_reply(body)) == 403


# -- numbers and text: the gateway refuses exactly what validation.py refuses ---------------


@pytest.mark.parametrize(
    ("mobile", "content", "expected"),
    [
        ("", CODE_TEXT, 403),
        ("12345", CODE_TEXT, 406),
        ("13800138000,13900139000", CODE_TEXT, 406),  # the sms product takes one number
        (MOBILE, "  ", 404),
        (MOBILE, "字" * 301, 4073),
        (MOBILE, "您的验证码是 1234 😀", 4074),
        (MOBILE, "【互】您的验证码是 1234", 4070),
        (MOBILE, "您的验证码是 1234【互亿无线", 4070),
        (MOBILE, f"{DEFAULT_SENSITIVE_WORDS[0]}，验证码 1234", 407),
    ],
)
def test_bad_numbers_and_texts_get_the_providers_codes(
    gateway: SandboxGateway, mobile: str, content: str, expected: int
) -> None:
    reply = submit(gateway, mobile, content)
    assert code_of(reply) == expected
    assert reply["msg"] == RESULT_CODES[expected].zh
    assert gateway.balance(ACCOUNT) == 10000


def _local_verdict(mobile: str, content: str) -> int:
    try:
        normalize_mobile(mobile)
        validate_content(content)
    except HuyiApiError as exc:
        return exc.code or 0
    return 2


@hypothesis_settings(max_examples=150, deadline=None)
@given(
    mobile=st.one_of(st.from_regex(r"(\+86 ?)?1[3-9]\d{9}", fullmatch=True), st.text(max_size=16)),
    content=st.one_of(
        st.text(max_size=40),
        st.text(alphabet="验证码1234【】互亿无线 😀", max_size=40),
        st.text(min_size=295, max_size=305),
    ),
)
def test_gateway_and_local_validation_agree(mobile: str, content: str) -> None:
    clock = FakeClock()
    # No limits or words in play: only the number and text checks decide.
    with SandboxGateway(accounts={ACCOUNT: KEY}, clock=clock, sensitive_words=(), receipt_delay=3600) as gateway:
        reply = call(gateway, account=ACCOUNT, password=KEY, mobile=mobile, content=content)
        assert code_of(reply) == _local_verdict(mobile, content)


def test_marketing_sends_one_smsid_to_several_numbers(gateway: SandboxGateway) -> None:
    text = "【互亿无线】双十一大促，全场五折。回TD退订"
    mobiles = "13800138000,13900139000, 13700137000"
    reply = submit(gateway, mobiles, text, product="marketing", stime="2030-01-01 09:00:00")
    assert code_of(reply) == 2
    # Scheduled: on no phone until its stime (tests/test_sandbox_scheduled.py).
    assert [m.mobile for m in gateway.scheduled] == ["13800138000", "13900139000", "13700137000"]
    for message in gateway.scheduled:
        assert gateway.messages_for(message.mobile) == []
        assert message.smsid == reply["smsid"] and message.product == "marketing"
        assert message.stime == "2030-01-01 09:00:00"
    assert gateway.balance(ACCOUNT) == 10000 - 3
    assert code_of(submit(gateway, "13800138000,123", text, product="marketing")) == 406


def test_international_numbers_go_to_the_international_product(gateway: SandboxGateway) -> None:
    text = "Your code is 5521【Huyi】"
    assert code_of(submit(gateway, "+44 7400 123456", text)) == 406
    assert code_of(submit(gateway, "+44 7400 123456", text, product="international")) == 2
    # Filed as the international product writes it; found however it is written.
    assert gateway.phones() == ["44 7400123456"]
    assert gateway.latest_code("447400123456") == gateway.latest_code("+44 7400 123456") == "5521"


# -- per-number limits --------------------------------------------------------------------------


def test_one_message_a_second_per_number(gateway: SandboxGateway, clock: FakeClock) -> None:
    assert code_of(submit(gateway)) == 2
    clock.advance(0.5)
    assert code_of(submit(gateway, content=NOTICE_TEXT)) == 4080
    assert code_of(submit(gateway, "13900139000", NOTICE_TEXT)) == 2  # another number is not held up
    clock.advance(0.5)
    assert code_of(submit(gateway, content=NOTICE_TEXT)) == 2


def test_five_codes_a_day_then_4085(make_gateway: Callable[..., SandboxGateway], clock: FakeClock) -> None:
    gateway = make_gateway(daily_limit=10)
    for number in range(5):
        assert code_of(submit(gateway, content=f"您的验证码是：{1000 + number}。【互亿无线】")) == 2
        clock.advance(61)
    assert code_of(submit(gateway, content="Your code is 7777【Huyi】")) == 4085
    assert code_of(submit(gateway, "13800138000", "1234", product="voice")) == 4085  # voice is a code too
    assert code_of(submit(gateway, content=NOTICE_TEXT)) == 2  # a notification is not a code
    assert gateway.latest_code(MOBILE) is None


def test_five_messages_a_day_then_4082_until_the_next_china_day(gateway: SandboxGateway, clock: FakeClock) -> None:
    for number in range(5):
        assert code_of(submit(gateway, content=f"第{number}号通知：您的订单已发货。")) == 2
        clock.advance(61)
    assert code_of(submit(gateway, content=NOTICE_TEXT)) == 4082
    china = timezone(timedelta(hours=8))
    tomorrow = datetime.fromtimestamp(clock.now, china).date() + timedelta(days=1)
    clock.now = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 0, 0, 1, tzinfo=china).timestamp()
    assert code_of(submit(gateway, content=NOTICE_TEXT)) == 2


def test_identical_messages_two_a_minute_and_twenty_a_day(
    make_gateway: Callable[..., SandboxGateway], clock: FakeClock
) -> None:
    gateway = make_gateway(daily_limit=100, daily_code_limit=100)
    assert code_of(submit(gateway, content=NOTICE_TEXT)) == 2
    clock.advance(2)
    assert code_of(submit(gateway, content=NOTICE_TEXT)) == 2
    clock.advance(2)
    assert code_of(submit(gateway, content=NOTICE_TEXT)) == 4082
    assert code_of(submit(gateway, content="另一条：" + NOTICE_TEXT)) == 2
    for _ in range(18):
        clock.advance(61)
        assert code_of(submit(gateway, content=NOTICE_TEXT)) == 2
    clock.advance(61)
    assert code_of(submit(gateway, content=NOTICE_TEXT)) == 4082  # the 21st identical one today


def test_twenty_over_limit_attempts_blacklist_the_number(gateway: SandboxGateway, clock: FakeClock) -> None:
    assert code_of(submit(gateway)) == 2
    replies = [code_of(submit(gateway, content=NOTICE_TEXT)) for _ in range(20)]
    assert replies == [4080] * 19 + [408]
    assert RESULT_CODES[408].zh.startswith("发送超限")
    clock.advance(2 * 86400)
    assert code_of(submit(gateway, content=NOTICE_TEXT)) == 4030
    assert code_of(submit(gateway, "13900139000", NOTICE_TEXT)) == 2


def test_configured_blacklist(make_gateway: Callable[..., SandboxGateway]) -> None:
    gateway = make_gateway(blacklist=["13900139000"])
    reply = submit(gateway, "13900139000")
    assert code_of(reply) == 4030 and reply["msg"] == RESULT_CODES[4030].zh


# -- account ---------------------------------------------------------------------------------


def test_balance_decreases_by_parts_and_runs_out(make_gateway: Callable[..., SandboxGateway], clock: FakeClock) -> None:
    gateway = make_gateway(balance=4)
    long_text = "您的订单已发货，" * 12 + "【互亿无线】"  # 102 characters: 2 parts
    assert code_of(submit(gateway, content=long_text)) == 2
    assert gateway.messages_for(MOBILE)[0].parts == 2
    assert gateway.balance(ACCOUNT) == 2
    password = dynamic_password(ACCOUNT, KEY, str(int(clock.now)))
    assert call(gateway, "GetNum", account=ACCOUNT, password=password, time=str(int(clock.now)))["num"] == "2"
    clock.advance(61)
    assert code_of(submit(gateway, "13800138000,13900139000,13700137000", "促销【互亿无线】", product="marketing")) == 4051
    assert gateway.balance(ACCOUNT) == 2
    assert code_of(submit(gateway, content="第二条" + long_text[3:])) == 2
    assert gateway.balance(ACCOUNT) == 0
    clock.advance(61)
    reply = submit(gateway, content=NOTICE_TEXT)
    assert code_of(reply) == 4051 and reply["msg"] == RESULT_CODES[4051].zh


def test_frozen_account(make_gateway: Callable[..., SandboxGateway]) -> None:
    gateway = make_gateway(frozen_accounts=[ACCOUNT])
    assert code_of(submit(gateway)) == 4050
    assert code_of(call(gateway, "GetNum", account=ACCOUNT, password=KEY)) == 4050
    assert code_of(call(gateway, "AddTemplate", account=ACCOUNT, password=KEY, content="模板【变量】")) == 4050
    assert code_of(submit(gateway, key="wrong")) == 40502  # credentials come before the freeze


def test_registered_ips(make_gateway: Callable[..., SandboxGateway]) -> None:
    gateway = make_gateway(allowed_ips={ACCOUNT: ["10.0.0.0/8", "192.0.2.7"]})
    assert code_of(submit(gateway, remote_addr="192.168.1.20")) == 4052
    assert code_of(submit(gateway, remote_addr="not-an-ip")) == 4052
    assert code_of(submit(gateway, remote_addr="10.1.2.3")) == 2
    assert code_of(call(gateway, "GetNum", account=ACCOUNT, password=KEY, remote_addr="192.0.2.7")) == 2


# -- templates and signatures ----------------------------------------------------------------


def test_enforced_templates(make_gateway: Callable[..., SandboxGateway], clock: FakeClock) -> None:
    gateway = make_gateway(templates={ACCOUNT: []}, daily_limit=100, daily_code_limit=100)
    assert code_of(submit(gateway, content="您的验证码是：1234。【互亿无线】")) == 4071

    added = call(gateway, "AddTemplate", account=ACCOUNT, password=KEY, content="【互亿无线】您的验证码是：【变量】。")
    templateid = int(added["templateid"])
    assert code_of(submit(gateway, content="您的验证码是：1234。【互亿无线】")) == 4071  # not reviewed yet
    gateway.review_template(templateid, approved=True)

    assert code_of(submit(gateway, content="您的验证码是：1234。【互亿无线】")) == 2
    clock.advance(61)
    assert code_of(submit(gateway, content="您的验证码是：123456789。【互亿无线】")) == 40722
    assert code_of(submit(gateway, content="您的密码是：1234。【互亿无线】")) == 4072
    gateway.review_template(templateid, approved=False, msg="内容不规范")
    assert code_of(submit(gateway, content="您的验证码是：1234。【互亿无线】")) == 4071
    assert [(t.status, t.msg) for t in gateway.templates] == [("rejected", "内容不规范")]


def test_configured_templates_and_approved_signatures(make_gateway: Callable[..., SandboxGateway]) -> None:
    gateway = make_gateway(templates={ACCOUNT: ["您的验证码是：【变量】。"]}, signatures={ACCOUNT: ["互亿无线"]})
    assert code_of(submit(gateway, content="【别家公司】您的验证码是：1234。")) == 4075
    assert code_of(submit(gateway, content="【互亿无线】您的验证码是：1234。")) == 2
    other = make_gateway(accounts={"other": KEY})  # accounts not listed are not held to templates
    assert code_of(submit(other, content="【别家公司】随便什么", account="other")) == 2


# -- what the phones got ----------------------------------------------------------------------


def test_phones_and_messages_newest_first(gateway: SandboxGateway, clock: FakeClock) -> None:
    submit(gateway, "13800138000", "您的验证码是：111111。")
    clock.advance(61)
    submit(gateway, "13900139000", "您的验证码是：222222。")
    clock.advance(61)
    submit(gateway, "13800138000", "验证码 333333，订单号 20231115123456789，5 分钟内有效")
    assert gateway.phones() == ["13800138000", "13900139000"]
    assert [m.content[-10:] for m in gateway.messages_for("+86 138-0013-8000")][1].endswith("111111。")
    # The last run of 4–8 digits: not the 17-digit order number, not the lone 5.
    assert gateway.latest_code("13800138000") == "333333"
    assert gateway.latest_code("13700137000") is None


# -- pushes ------------------------------------------------------------------------------------


def test_receipts_are_pushed_for_each_accepted_message(
    make_gateway: Callable[..., SandboxGateway], fake_provider
) -> None:
    fake_provider.reply = "success"
    gateway = make_gateway(receipt_url=fake_provider.url + "?token=t", undeliverable=["13900139000"])
    delivered = submit(gateway)
    failed = submit(gateway, "13900139000")
    assert gateway.wait_idle(5)

    received = {request.form["mobilephone"]: request.form for request in fake_provider.requests}
    assert received[MOBILE]["code"] == "2" and received[MOBILE]["msg"] == "DELIVRD"
    assert received[MOBILE]["smsid"] == delivered["smsid"]
    assert received["13900139000"]["code"] != "2" and received["13900139000"]["smsid"] == failed["smsid"]
    assert received[MOBILE]["report_time"] == "2023-11-15 06:13:20"  # START in China time
    assert all(request.query == {"token": "t"} for request in fake_provider.requests)
    assert gateway.messages_for(MOBILE)[0].status == STATUS_DELIVERED
    assert gateway.messages_for("13900139000")[0].status == STATUS_UNDELIVERED
    assert all(record.delivered and len(record.attempts) == 1 for record in gateway.pushes)


def test_a_push_is_retried_after_60_then_120_seconds_until_success(
    make_gateway: Callable[..., SandboxGateway], fake_provider
) -> None:
    answers = iter(["fail", "error", "  success\n"])
    fake_provider.reply = lambda request: next(answers)
    scale = 0.005
    gateway = make_gateway(receipt_url=fake_provider.url, retry_scale=scale)
    submit(gateway)
    assert gateway.wait_idle(5)

    (record,) = gateway.pushes
    assert record.delivered and record.finished
    assert [attempt.body.strip() for attempt in record.attempts] == ["fail", "error", "success"]
    first, second = (later.at - earlier.at for earlier, later in zip(record.attempts, record.attempts[1:], strict=False))
    assert RETRY_INTERVALS[0] * scale - 0.01 <= first < RETRY_INTERVALS[0] * scale + 0.25
    assert RETRY_INTERVALS[1] * scale - 0.01 <= second < RETRY_INTERVALS[1] * scale + 0.25
    assert 1.3 < second / first < 2.8
    assert len(fake_provider.requests) == 3
    assert all(request.form == fake_provider.requests[0].form for request in fake_provider.requests)


def test_a_push_is_tried_three_times_at_most(make_gateway: Callable[..., SandboxGateway], fake_provider) -> None:
    fake_provider.status = 500
    fake_provider.reply = "success"  # the right word with the wrong status is still a failure
    gateway = make_gateway(reply_url=fake_provider.url, retry_scale=0.002)
    submit(gateway)
    record = gateway.send_reply(MOBILE, "TD")
    assert gateway.wait_idle(5)

    assert record is not None and record.finished and not record.delivered
    assert len(record.attempts) == MAX_ATTEMPTS == 3
    assert [attempt.status for attempt in record.attempts] == [500, 500, 500]
    assert len(fake_provider.requests) == 3


def test_a_push_to_nowhere_is_recorded_as_failed(make_gateway: Callable[..., SandboxGateway]) -> None:
    gateway = make_gateway(template_url="http://127.0.0.1:9/closed", retry_scale=0.001)
    templateid = int(call(gateway, "AddTemplate", account=ACCOUNT, password=KEY, content="模板【变量】")["templateid"])
    record = gateway.review_template(templateid, approved=True)
    assert gateway.wait_idle(5)
    assert record is not None and len(record.attempts) == 3
    assert all(attempt.status is None and attempt.error for attempt in record.attempts)


def _finished(record: PushRecord, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not record.finished and time.monotonic() < deadline:
        time.sleep(0.01)
    return record.finished


@pytest.fixture
def pusher() -> Iterator[Pusher]:
    pusher = Pusher()
    yield pusher
    pusher.close()


def test_a_job_that_fails_does_not_stop_the_pushes_after_it(pusher: Pusher, fake_provider, caplog) -> None:
    def broken() -> None:
        raise RuntimeError("a bug in one job")

    fake_provider.reply = "success"
    pusher.call_later(0, broken)
    record = pusher.push("receipt", fake_provider.url, {"smsid": "1"})
    assert pusher.wait_idle(5)
    assert record.delivered
    assert "a scheduled job failed" in caplog.text and "a bug in one job" in caplog.text


def test_a_job_too_far_off_for_a_timer_does_not_stop_the_pushes_after_it(pusher: Pusher, fake_provider) -> None:
    # What RECEIPT_DELAY=1e308 did before it was refused: the worker's wait overflowed and the
    # thread died, so no push was made again. A job that far off waits; the others go on.
    fake_provider.reply = "success"
    pusher.call_later(1e12, lambda: None)
    time.sleep(0.2)  # the worker starts, and takes that job's wait
    record = pusher.push("receipt", fake_provider.url, {"smsid": "1"})
    assert _finished(record) and record.delivered


@pytest.mark.parametrize("delay", [float("nan"), float("inf")])
def test_a_delay_that_is_not_a_number_of_seconds_is_refused(pusher: Pusher, fake_provider, delay: float) -> None:
    fake_provider.reply = "success"
    with pytest.raises(ValueError, match="delay"):
        pusher.call_later(delay, lambda: None)
    record = pusher.push("receipt", fake_provider.url, {"smsid": "1"})
    assert _finished(record) and record.delivered


def test_replies_and_template_reviews_carry_the_providers_fields(
    make_gateway: Callable[..., SandboxGateway], fake_provider
) -> None:
    fake_provider.reply = "success"
    gateway = make_gateway(reply_url=fake_provider.url, template_url=fake_provider.url)
    sent = submit(gateway)
    gateway.send_reply(MOBILE, "退订")
    templateid = call(gateway, "AddTemplate", account=ACCOUNT, password=KEY, content="模板【变量】")["templateid"]
    gateway.review_template(int(templateid), approved=False, msg="签名不规范")
    assert gateway.wait_idle(5)

    reply, review = (request.form for request in fake_provider.requests)
    assert reply == {
        "mobilephone": MOBILE,
        "content": "退订",
        "smsid": sent["smsid"],
        "reply_time": "2023-11-15 06:13:20",
    }
    assert review == {"code": "0", "msg": "签名不规范", "templateid": templateid}
    assert [record.kind for record in gateway.pushes] == ["reply", "template"]
    with pytest.raises(ValueError):
        gateway.send_reply(MOBILE, "  ")
    with pytest.raises(KeyError):
        gateway.review_template(999, approved=True)


# -- over real HTTP: the WSGI server and the real client ------------------------------------------


@pytest.fixture
def http_gateway() -> Iterator[tuple[SandboxGateway, str]]:
    gateway = SandboxGateway(accounts={ACCOUNT: KEY}, receipt_delay=0)
    server, _thread = serve(gateway)
    yield gateway, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    gateway.close()


@pytest.mark.parametrize("sign_mode", ["dynamic", "plain"])
@pytest.mark.parametrize("response_format", ["json", "xml"])
def test_the_client_works_end_to_end_against_the_sandbox_server(
    http_gateway: tuple[SandboxGateway, str], sign_mode: str, response_format: str
) -> None:
    gateway, base = http_gateway
    client = IhuyiClient(
        ACCOUNT, KEY, api_url=f"{base}/webservice/sms.php", sign_mode=sign_mode, response_format=response_format
    )
    result = client.submit(MOBILE, CODE_TEXT)
    assert gateway.messages_for(MOBILE)[0].smsid == result.smsid
    assert client.get_num().num == 9999
    template = client.add_template("您的验证码是：【变量】。")
    assert [t.templateid for t in gateway.templates] == [template.templateid]

    with pytest.raises(HuyiConfigurationError) as refused:
        IhuyiClient(ACCOUNT, "wrong", api_url=f"{base}/webservice/sms.php", sign_mode=sign_mode).get_num()
    assert refused.value.code == (40502 if sign_mode == "dynamic" else 405)


def test_every_product_path_and_the_phone_json(http_gateway: tuple[SandboxGateway, str]) -> None:
    gateway, base = http_gateway
    paths = {product: route for route, product in ROUTES.items()}
    IhuyiClient(ACCOUNT, KEY, api_url=f"{base}/{paths['marketing']}", product="marketing").submit(
        ["13800138000", "13900139000"], "【互亿无线】新品上市，回TD退订"
    )
    IhuyiClient(ACCOUNT, KEY, api_url=f"{base}/{paths['voice']}", product="voice").submit("13700137000", "6789")
    IhuyiClient(ACCOUNT, KEY, api_url=f"{base}/{paths['international']}", product="international").submit(
        "+44 7400 123456", "Your code is 4321【Huyi】"
    )
    with pytest.raises(HuyiContentError) as refused:
        IhuyiClient(ACCOUNT, KEY, api_url=f"{base}/{paths['voice_notice']}", product="voice_notice").submit(
            "13600136000", "代开发票"
        )
    assert refused.value.code == 407

    import requests  # the plain HTTP view, as a person or a script would read it

    phone = requests.get(f"{base}/phone/13700137000.json", timeout=5).json()
    assert phone["latest_code"] == "6789" and phone["messages"][0]["product"] == "voice"
    assert requests.get(f"{base}/nothing-here", timeout=5).status_code == 404
    query_only = requests.get(
        f"{base}/webservice/sms.php",
        params={"method": "GetNum", "account": ACCOUNT, "password": KEY, "format": "json"},
        timeout=5,
    )
    assert query_only.json() == {"code": 2, "msg": "提交成功", "num": 10000 - 2 - 1 - 1}
    assert gateway.phones()[0] == "44 7400123456"
    phone = requests.get(f"{base}/phone/44%207400123456.json", timeout=5).json()
    assert phone["latest_code"] == "4321" and phone["messages"][0]["product"] == "international"


# -- inside a Django site ----------------------------------------------------------------------------


@pytest.fixture
def site_gateway(settings: Any) -> Iterator[SandboxGateway]:
    sandbox = {"ACCOUNTS": {ACCOUNT: KEY}, "RECEIPT_DELAY": 0}
    with override_settings(HUYI_SMS={**settings.HUYI_SMS, "SANDBOX": sandbox}):
        yield get_gateway()


def test_the_provider_endpoints_answer_inside_a_site_without_csrf(site_gateway: SandboxGateway) -> None:
    client = Client(enforce_csrf_checks=True)
    url = reverse("huyi_sandbox:sms") + "?method=Submit"
    response = client.post(url, {"account": ACCOUNT, "password": KEY, "mobile": MOBILE, "content": CODE_TEXT})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert parse_reply(response.content)["smsid"] == site_gateway.messages_for(MOBILE)[0].smsid
    assert get_gateway() is site_gateway


def test_the_phone_page_shows_the_code_and_escapes_the_text(site_gateway: SandboxGateway) -> None:
    content = "<script>alert(1)</script>您的验证码是：246810。"
    submit(site_gateway, content=content)
    site_gateway.wait_idle(5)
    client = Client()

    page = client.get(reverse("huyi_sandbox:phone", args=[MOBILE])).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    assert re.search(r'class="code"[^>]*>246810<', page)
    assert "DELIVRD" in page
    assert MOBILE in client.get(reverse("huyi_sandbox:index")).content.decode()
    data = client.get(reverse("huyi_sandbox:phone_json", args=[MOBILE])).json()
    assert data["latest_code"] == "246810" and data["messages"][0]["content"] == content
    assert client.get("/sandbox/phone/not-a-number/").status_code == 404


def test_the_reply_form_validates_and_records(site_gateway: SandboxGateway) -> None:
    client = Client()
    url = reverse("huyi_sandbox:phone", args=[MOBILE])
    empty = client.post(url, {"content": "   "})
    assert empty.status_code == 400 and site_gateway.replies_for(MOBILE) == []
    sent = client.post(url, {"content": "TD"})
    assert sent.status_code == 302 and sent["Location"].endswith("?replied=1")
    assert [reply.content for reply in site_gateway.replies_for(MOBILE)] == ["TD"]
    assert Client(enforce_csrf_checks=True).post(url, {"content": "TD"}).status_code == 403


def test_the_shared_gateway_follows_the_setting(settings: Any) -> None:
    with override_settings(HUYI_SMS={**settings.HUYI_SMS, "SANDBOX": {"ACCOUNTS": {"first": "k1"}}}):
        first = get_gateway()
        assert first.accounts == {"first": "k1"}
    with override_settings(HUYI_SMS={**settings.HUYI_SMS, "SANDBOX": {"ACCOUNTS": {"second": "k2"}}}):
        assert get_gateway() is not first and get_gateway().accounts == {"second": "k2"}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--port", "70000"], "--port"),
        (["--receipt-url", "ftp://example.invalid/x"], "--receipt-url"),
        (["--retry-scale", "-1"], "--retry-scale"),
        (["--receipt-delay", "nan"], "--receipt-delay"),
    ],
)
def test_the_sandbox_command_refuses_bad_arguments(arguments: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("huyi_sandbox", *arguments)
