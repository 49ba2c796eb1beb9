"""The sandbox's marketing product: one smsid per batch, a receipt per number, scheduled sends received at stime."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from django_huyi_sms.client import IhuyiClient
from django_huyi_sms.sandbox.gateway import STATUS_DELIVERED, SandboxGateway
from django_huyi_sms.sandbox.wire import china_time
from django_huyi_sms.sandbox.wsgi import serve

from .test_sandbox import ACCOUNT, KEY, FakeClock, code_of, submit

TEXT = "【互亿无线】双十一大促，全场五折。回T退订"
MOBILES = ["13800138000", "13900139000", "13700137000"]


@pytest.fixture
def pushes_to(fake_provider):
    """A gateway pushing receipts to the fake receiver (which answers success)."""
    fake_provider.reply = "success"
    made: list[SandboxGateway] = []

    def make(clock=time.time, **options) -> SandboxGateway:
        gateway = SandboxGateway(
            accounts={ACCOUNT: KEY}, clock=clock, receipt_delay=0, receipt_url=fake_provider.url, **options
        )
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        gateway.close()


def receipts(fake_provider) -> dict[str, dict[str, str]]:
    return {request.form["mobilephone"]: request.form for request in fake_provider.requests}


def test_a_batch_gets_one_smsid_and_a_receipt_for_each_number(pushes_to, fake_provider):
    gateway = pushes_to(undeliverable=[MOBILES[1]])
    reply = submit(gateway, ",".join(MOBILES), TEXT, product="marketing")
    assert code_of(reply) == 2
    assert gateway.wait_idle(5)
    got = receipts(fake_provider)
    assert set(got) == set(MOBILES)
    assert {form["smsid"] for form in got.values()} == {reply["smsid"]}
    assert [got[mobile]["code"] for mobile in MOBILES] == ["2", "0", "2"]


def test_a_scheduled_send_reaches_the_phones_and_pushes_its_receipts_at_its_stime(pushes_to, fake_provider):
    arrived: list[tuple[str, float]] = []
    gateway = pushes_to(on_message=lambda message: arrived.append((message.mobile, time.time())))
    stime_at = int(time.time()) + 2  # stime has whole seconds
    sent_at = time.time()
    reply = submit(gateway, ",".join(MOBILES), TEXT, product="marketing", stime=china_time(stime_at))
    assert code_of(reply) == 2
    assert gateway.balance(ACCOUNT) == 10000 - 3  # charged when accepted
    assert [m.mobile for m in gateway.scheduled] == MOBILES
    assert all(gateway.messages_for(mobile) == [] for mobile in MOBILES)
    assert fake_provider.requests == [] and arrived == []
    assert gateway.wait_idle(10)
    assert gateway.scheduled == []
    assert sorted(mobile for mobile, _at in arrived) == sorted(MOBILES)
    assert all(at >= stime_at - 0.05 for _mobile, at in arrived), (sent_at, stime_at, arrived)
    for mobile in MOBILES:
        (message,) = gateway.messages_for(mobile)
        assert message.status == STATUS_DELIVERED and message.received_at == stime_at
    got = receipts(fake_provider)
    assert set(got) == set(MOBILES) and {form["smsid"] for form in got.values()} == {reply["smsid"]}
    assert {form["report_time"] for form in got.values()} == {china_time(stime_at)}


def test_the_time_is_read_as_china_time_and_the_delay_follows_the_gateways_clock(pushes_to, fake_provider):
    clock = FakeClock(1_700_000_000.0)  # 2023-11-15 06:13:20 China time
    gateway = pushes_to(clock=clock)
    started = time.monotonic()
    assert code_of(submit(gateway, MOBILES[0], TEXT, product="marketing", stime="2023-11-15 06:13:21")) == 2
    assert gateway.wait_idle(10)
    assert 0.9 <= time.monotonic() - started < 3
    assert receipts(fake_provider)[MOBILES[0]]["report_time"] == "2023-11-15 06:13:21"


def test_a_past_stime_is_received_at_once(pushes_to, fake_provider):
    gateway = pushes_to()
    submit(gateway, MOBILES[0], TEXT, product="marketing", stime=china_time(time.time() - 3600))
    assert gateway.scheduled == [] and len(gateway.messages_for(MOBILES[0])) == 1


@pytest.mark.parametrize("stime", ["2030-01-01 09:00", "2030/01/01 09:00:00", "tomorrow", "2030-02-30 09:00:00"])
def test_a_malformed_stime_is_refused_with_code_0(pushes_to, stime):
    gateway = pushes_to()
    reply = submit(gateway, MOBILES[0], TEXT, product="marketing", stime=stime)
    assert (code_of(reply), reply["smsid"]) == (0, "0")
    assert gateway.balance(ACCOUNT) == 10000 and gateway.scheduled == []


def test_other_products_ignore_stime(pushes_to):
    gateway = pushes_to()
    assert code_of(submit(gateway, MOBILES[0], "您的验证码是：1234。", stime="garbage")) == 2
    assert len(gateway.messages_for(MOBILES[0])) == 1


def test_the_client_schedules_through_the_sandbox(pushes_to, fake_provider):
    """The client's stime (an aware datetime, converted to China time) is what the sandbox waits for."""
    gateway = pushes_to()
    server, _thread = serve(gateway, "127.0.0.1", 0)
    try:
        port = server.server_address[1]
        client = IhuyiClient(ACCOUNT, KEY, f"http://127.0.0.1:{port}/yx/webservice/sms.php", product="marketing")
        when = datetime.fromtimestamp(int(time.time()) + 2, UTC)
        result = client.submit(MOBILES[:2], TEXT, stime=when)
        assert [m.smsid for m in gateway.scheduled] == [result.smsid] * 2
        assert gateway.wait_idle(10)
        assert all(gateway.messages_for(mobile)[0].received_at == when.timestamp() for mobile in MOBILES[:2])
    finally:
        server.shutdown()
        server.server_close()
