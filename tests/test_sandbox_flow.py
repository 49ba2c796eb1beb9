"""The whole loop on real loopback HTTP, as in `make demo`: the site sends through the sandbox it
serves, the sandbox pushes the receipt back to the site, the phone page shows the message."""

from __future__ import annotations

import io
import random

import pytest
from django.core.management import call_command
from django.db import OperationalError
from django.test import override_settings
from django.urls import reverse

import django_huyi_sms
from django_huyi_sms import receipts, signals
from django_huyi_sms.backends.locmem import LocmemBackend
from django_huyi_sms.client import IhuyiClient
from django_huyi_sms.models import OptOut, SmsLog, StatusReceipt, UpstreamReply
from django_huyi_sms.sandbox import get_gateway
from django_huyi_sms.sandbox.pusher import Pusher

from .push_helpers import TOKEN, receipt_fields
from .test_send import Catcher
from .workers import wait_for

# The site and the sandbox it serves answer from the live server's threads while the test
# thread writes too: that needs a connection per thread, which is why the SQLite test database
# is a file (tests/settings.py). They run on SQLite and, with DATABASE_URL, on PostgreSQL.
pytestmark = [pytest.mark.django_db(transaction=True)]

TEXT = "您的验证码是：482913。请不要把验证码泄露给其他人。"


@pytest.fixture
def demo_site(django_db_setup, live_server):
    """HUYI_SMS as the example project sets it in sandbox mode (``SANDBOX_SITE``), on the live
    server, with receipts and retries quick and the push token the tests post with themselves.

    ``django_db_setup`` comes first so that the (session-wide) live server starts once the test
    database exists: started earlier, it would see SQLite's ":memory:" name and share the test
    thread's connection with its own threads instead of opening one per thread.
    """
    sandbox = {"RECEIPT_DELAY": 0.05, "RETRY_SCALE": 0.01, "UNDELIVERABLE": ["13900000000"]}
    with override_settings(HUYI_SMS={"SANDBOX_SITE": live_server.url, "CALLBACK_TOKEN": TOKEN, "SANDBOX": sandbox}):
        yield live_server
        get_gateway().wait_idle(5)


def test_huyi_send_through_the_sandbox_then_delivered_and_on_the_phone_page(demo_site, client):
    out = io.StringIO()
    call_command("huyi_send", "13800138000", TEXT, stdout=out)
    log = SmsLog.objects.get()
    assert log.status in ("submitted", "delivered") and log.smsid.isdigit()
    assert f"smsid {log.smsid}" in out.getvalue()
    # The sandbox pushes the receipt to /sms/push/receipt/ and the row turns delivered.
    assert wait_for(lambda: SmsLog.objects.get().status == "delivered")
    assert StatusReceipt.objects.get().log_id == log.pk
    assert get_gateway().wait_idle(5)
    [push] = [p for p in get_gateway().pushes if p.kind == "receipt"]
    assert push.delivered and len(push.attempts) == 1  # 'success' stopped the retries
    page = client.get(reverse("huyi_sandbox:phone", args=["13800138000"]))
    assert page.status_code == 200
    assert "482913" in page.content.decode()


def test_an_undeliverable_number_ends_undelivered(demo_site):
    with Catcher(signals.sms_status_changed) as changed:
        log = django_huyi_sms.send_sms("13900000000", TEXT)
        # The signal follows the committed status change, in the live server's thread: wait for it.
        assert wait_for(lambda: changed.calls)
    assert SmsLog.objects.get(pk=log.pk).status == "undelivered"
    assert [(c["old_status"], c["new_status"]) for c in changed.calls] == [("submitted", "undelivered")]


def test_the_sandbox_refusals_surface_as_typed_errors(demo_site):
    from django_huyi_sms.exceptions import HuyiRateLimitError

    django_huyi_sms.send_sms("13700137000", TEXT)
    with pytest.raises(HuyiRateLimitError) as caught:
        django_huyi_sms.send_sms("13700137000", TEXT)  # same second: 4080
    assert caught.value.code == 4080
    assert list(SmsLog.objects.order_by("pk").values_list("status", "provider_code")) == [
        ("submitted", 2),
        ("failed", 4080),
    ] or SmsLog.objects.filter(status="failed", provider_code=4080).count() == 1


def test_a_reply_from_the_phone_page_arrives_through_the_reply_push(demo_site, client):
    log = django_huyi_sms.send_sms("13800138000", "新品上市，回TD退订", product="sms")
    response = client.post(reverse("huyi_sandbox:phone", args=["13800138000"]), {"content": "TD"})
    assert response.status_code in (200, 302)
    assert wait_for(lambda: UpstreamReply.objects.exists())
    reply = UpstreamReply.objects.get()
    assert (reply.content, reply.log_id) == ("TD", log.pk)
    assert OptOut.objects.get().mobile == "13800138000"


def test_client_alone_against_the_sandbox_both_sign_modes_and_formats(demo_site):
    url = f"{demo_site.url}/sms/sandbox/webservice/sms.php"
    combinations = [(sign_mode, fmt) for sign_mode in ("dynamic", "plain") for fmt in ("json", "xml")]
    for n, (sign_mode, response_format) in enumerate(combinations):
        client = IhuyiClient("sandbox", "sandbox-api-key", url, sign_mode=sign_mode, response_format=response_format)
        before = client.get_num().num
        # A number per combination: the sandbox, like ihuyi, allows one message a second per number.
        result = client.submit(f"1360013600{n}", "验" * 80 + sign_mode + response_format)
        assert result.smsid.isdigit()
        assert client.get_num().num == before - 2  # 80+ characters bill as two parts


def test_a_provider_that_retries_duplicates_and_reorders_loses_nothing(demo_site):
    """A faithful pusher (3 tries, 60 s then 120 s, scaled) sends every receipt three times, in a
    shuffled order; for half the sends all three come before the provider answers Submit (so
    before the smsid is recorded), and one push meets a database outage."""
    url = f"{demo_site.url}/sms/push/receipt/?token={TOKEN}"
    smsids = [f"9{n:08d}" for n in range(12)]
    mobiles = [f"1350013{n:04d}" for n in range(12)]
    outcomes = {smsid: ("2" if n % 3 else "0") for n, smsid in enumerate(smsids)}
    pushes = {smsid: [receipt_fields(smsid, mobile=m, code=outcomes[smsid])] * 3 for smsid, m in zip(smsids, mobiles, strict=True)}
    early = set(smsids[::2])
    pusher = Pusher(retry_scale=0.01)
    records = []

    class KnownSmsid(LocmemBackend):
        def send(self, message):
            result = super().send(message)
            smsid = smsids[mobiles.index(message.mobile)]
            if smsid in early:  # the receipts beat the answer to Submit
                records.extend(pusher.push("receipt", url, fields) for fields in pushes[smsid])
                assert pusher.wait_idle(10)
            return type(result)(code=result.code, msg=result.msg, smsid=smsid)

    original = receipts.apply_receipt
    failures = {"left": 1}

    def flaky_apply(event):
        if failures["left"]:
            failures["left"] -= 1
            raise OperationalError("database is down")
        return original(event)

    late = [fields for smsid in smsids if smsid not in early for fields in pushes[smsid]]
    random.Random(7).shuffle(late)
    with Catcher(signals.sms_status_changed) as changed:
        with override_settings(HUYI_SMS={"BACKEND": KnownSmsid, "CALLBACK_TOKEN": TOKEN}):
            receipts.apply_receipt = flaky_apply
            try:
                logs = [django_huyi_sms.send_sms(m, TEXT) for m in mobiles]
                records.extend(pusher.push("receipt", url, fields) for fields in late)
                assert pusher.wait_idle(10)
            finally:
                receipts.apply_receipt = original
                pusher.close()
    for log, smsid in zip(logs, smsids, strict=True):
        log.refresh_from_db()
        assert log.status == ("delivered" if outcomes[smsid] == "2" else "undelivered"), smsid
        assert not log.receipt_waiting
    assert all(record.delivered for record in records)
    assert sorted(len(r.attempts) for r in records)[-1] == 2  # the push that met the outage was retried once
    assert sum(len(r.attempts) for r in records) == len(records) + 1
    assert StatusReceipt.objects.count() == 3 * len(smsids)
    assert StatusReceipt.objects.filter(log__isnull=True).count() == 0
    assert sorted(c["log"].pk for c in changed.calls) == sorted(log.pk for log in logs)
