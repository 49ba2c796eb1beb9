"""A bulk send the whole way on real loopback HTTP: the site sends through the sandbox it serves, on the
marketing product's own endpoint and account; the sandbox pushes a receipt per number back."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

import django_huyi_sms
from django_huyi_sms import optouts
from django_huyi_sms.models import OptOut, SmsLog
from django_huyi_sms.sandbox import get_gateway

from .push_helpers import TOKEN
from .workers import wait_for

pytestmark = [pytest.mark.django_db(transaction=True)]

TEXT = "【商城】双十一全场五折，详询门店。"


@pytest.fixture
def marketing_site(django_db_setup, live_server):
    """The example project's sandbox mode, with marketing on its own account, as ihuyi sells it."""
    base = live_server.url
    settings = {
        "ACCOUNT": "sandbox",
        "API_KEY": "sandbox-api-key",
        "API_URL": f"{base}/sandbox/webservice/sms.php",
        "PRODUCTS": {
            "marketing": {"ACCOUNT": "M1", "API_KEY": "marketing-key", "API_URL": f"{base}/sandbox/yx/webservice/sms.php"},
        },
        "BACKEND": "django_huyi_sms.backends.ihuyi.IhuyiBackend",
        "CALLBACK_TOKEN": TOKEN,
        "MARKETING": {"BATCH_SIZE": 2},
        "SANDBOX": {
            "ACCOUNTS": {"sandbox": "sandbox-api-key", "M1": "marketing-key"},
            "RECEIPT_URL": f"{base}/sms/push/receipt/?token={TOKEN}",
            "RECEIPT_DELAY": 0.05,
            "RETRY_SCALE": 0.01,
            "UNDELIVERABLE": ["13900000000"],
        },
    }
    with override_settings(HUYI_SMS=settings):
        yield live_server
        get_gateway().wait_idle(5)


def test_marketing_reaches_only_those_who_did_not_opt_out_and_each_receipt_finds_its_row(marketing_site):
    optouts.opt_out("13700137000", OptOut.Reason.REPLIED)
    mobiles = ["13800138000", "13900000000", "13700137000", "13600136000", "13500135000"]
    sent = django_huyi_sms.send_bulk(mobiles, TEXT)  # the immediate backend: sent right after the commit
    assert (sent.recipients, sent.opted_out, sent.batches) == (4, 1, 2)
    assert wait_for(lambda: not sent.logs.filter(status="submitted").exists())
    statuses = dict(sent.logs.values_list("mobile", "status"))
    assert statuses == {
        "13800138000": "delivered",
        "13900000000": "undelivered",
        "13600136000": "delivered",
        "13500135000": "delivered",
    }
    gateway = get_gateway()
    assert gateway.messages_for("13700137000") == []  # opted out: never sent
    for log in sent.logs.all():
        (message,) = gateway.messages_for(log.mobile)
        assert (message.smsid, message.account, message.content) == (log.smsid, "M1", TEXT + "回T退订")
    assert sent.logs.values("batch", "smsid").distinct().count() == 2  # one smsid a batch
    assert sent.logs.values("smsid").distinct().count() == 2


def test_a_scheduled_bulk_send_reaches_the_phones_at_its_china_time(marketing_site):
    at = (timezone.now() + timedelta(seconds=2)).replace(microsecond=0)
    sent = django_huyi_sms.send_bulk(["13800138000", "13600136000"], TEXT, scheduled_at=at)
    gateway = get_gateway()
    assert set(sent.logs.values_list("status", flat=True)) == {"submitted"}  # accepted now…
    assert gateway.messages_for("13800138000") == []  # …on no phone yet
    assert [message.received_at for message in gateway.scheduled] == [at.timestamp()] * 2
    assert wait_for(lambda: not sent.logs.exclude(status="delivered").exists(), timeout=10)
    assert time.time() >= at.timestamp()
    assert all(log.delivered_at >= at for log in SmsLog.objects.all())
