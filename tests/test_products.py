"""Voice codes, voice notices and international SMS: each product to its own endpoint, with its own
credentials, in its own format; and the whole loop through the sandbox, receipts included."""

from __future__ import annotations

import re

import pytest
from django.test import override_settings
from django.urls import reverse

import django_huyi_sms
from django_huyi_sms.exceptions import HuyiContentError
from django_huyi_sms.models import SmsLog, StatusReceipt
from django_huyi_sms.provider import dynamic_password
from django_huyi_sms.sandbox import get_gateway

from .push_helpers import TOKEN
from .workers import wait_for

CODE_TEXT = "您的验证码是：482913。请不要把验证码泄露给其他人。"
NOTICE = "您好，您的订单已发货，快递单号 SF1234567890，请注意查收。" * 3  # a long text: one call all the same

# Each product's own account, key and endpoint path (as ihuyi's hosts have them: only the host differs).
OWN = {
    "sms": ("C10001", "sms-key", "/webservice/sms.php"),
    "voice": ("VC20002", "voice-key", "/voice/webservice/voice.php"),
    "voice_notice": ("VN30003", "notice-key", "/vm/webservice/voice.php"),
    "international": ("I40004", "isms-key", "/isms/webservice/isms.php"),
}
SENDS = {
    "sms": ("13800138000", CODE_TEXT, "13800138000"),
    "voice": ("13800138000", "482913", "13800138000"),
    "voice_notice": ("+86 139-0013-9000", NOTICE, "13900139000"),
    "international": ("+44 7400 123456", "Your code is 482913【Huyi】", "44 7400123456"),
}


@pytest.fixture
def own_products(settings, fake_provider):
    """Every product on the fake provider, each with an account, a key and a path of its own."""
    origin = fake_provider.url.split("/webservice/", 1)[0]
    account, key, path = OWN["sms"]
    huyi = {
        **settings.HUYI_SMS,
        "BACKEND": "django_huyi_sms.backends.ihuyi.IhuyiBackend",
        "ACCOUNT": account,
        "API_KEY": key,
        "API_URL": origin + path,
        "PRODUCTS": {
            product: {"ACCOUNT": account, "API_KEY": key, "API_URL": origin + path}
            for product, (account, key, path) in OWN.items()
            if product != "sms"
        },
    }
    with override_settings(HUYI_SMS=huyi):
        yield fake_provider


@pytest.mark.django_db
@pytest.mark.parametrize("product", list(OWN))
def test_each_product_goes_to_its_endpoint_with_its_credentials_in_its_format(own_products, product):
    typed, content, wire_mobile = SENDS[product]
    log = django_huyi_sms.send_sms(typed, content, product=product)
    [request] = own_products.requests
    account, key, path = OWN[product]
    assert (request.path, request.query["method"]) == (path, "Submit")
    form = request.form
    assert (form["account"], form["mobile"], form["content"]) == (account, wire_mobile, content)
    assert form["password"] == dynamic_password(account, key, wire_mobile, content, form["time"])
    log.refresh_from_db()
    assert (log.product, log.mobile, log.status) == (product, wire_mobile, "submitted")


@pytest.mark.django_db
def test_a_long_notice_is_one_call_but_the_same_text_is_several_messages(own_products):
    # A call is one call however long the text it speaks; a text is billed by its length.
    call = django_huyi_sms.send_sms("13900139000", NOTICE, product="voice_notice")
    text = django_huyi_sms.send_sms("13900139000", NOTICE, product="sms")
    assert (call.parts, text.parts) == (1, 2)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "code", "complaint"),
    [
        (CODE_TEXT, None, "the digits alone"),  # a sentence is a voice_notice's content
        ("4829 13", None, "the digits alone"),
        ("１２３４", None, "the digits alone"),  # full-width digits: the provider speaks ASCII ones
        ("123", None, "at least 4"),
        ("123456789", 40722, "at most 8"),
        (" ", 404, ""),
    ],
)
def test_a_voice_code_is_four_to_eight_digits_or_nothing_is_written(own_products, content, code, complaint):
    with pytest.raises(HuyiContentError) as caught:
        django_huyi_sms.send_sms("13800138000", content, product="voice")
    assert caught.value.code == code and complaint in str(caught.value)
    assert not SmsLog.objects.exists() and own_products.requests == []


@pytest.mark.django_db
def test_a_reply_that_calls_the_serial_number_voiceid_is_accepted(own_products):
    own_products.answer_json(code=2, msg="提交成功", voiceid="16788822331")
    log = django_huyi_sms.send_sms("13900139000", "您的订单已发货。", product="voice_notice")
    assert (log.status, log.smsid) == ("submitted", "16788822331")


# -- the whole loop through the sandbox, on loopback HTTP ----------------------------------------------




@pytest.fixture
def sandbox_site(django_db_setup, live_server):
    """The site sends every product through the sandbox it serves, which pushes receipts back to it."""
    base = live_server.url
    sandbox = "/sandbox"
    huyi = {
        "ACCOUNT": "sandbox",
        "API_KEY": "sandbox-api-key",
        "API_URL": f"{base}{sandbox}/webservice/sms.php",
        "PRODUCTS": {
            product: {"ACCOUNT": account, "API_KEY": key, "API_URL": f"{base}{sandbox}{path}"}
            for product, (account, key, path) in OWN.items()
            if product != "sms"
        },
        "BACKEND": "django_huyi_sms.backends.ihuyi.IhuyiBackend",
        "CALLBACK_TOKEN": TOKEN,
        "SANDBOX": {
            "ACCOUNTS": {"sandbox": "sandbox-api-key", **{account: key for account, key, _path in OWN.values()}},
            "RECEIPT_URL": f"{base}/sms/push/receipt/?token={TOKEN}",
            "RECEIPT_DELAY": 0.05,
            "RETRY_SCALE": 0.01,
        },
    }
    with override_settings(HUYI_SMS=huyi):
        yield live_server
        get_gateway().wait_idle(5)


@pytest.mark.django_db(transaction=True)
def test_a_voice_code_and_an_international_message_reach_their_endpoints_and_come_back_delivered(sandbox_site, client):
    voice = django_huyi_sms.send_sms("13800138000", "482913", product="voice")
    abroad = django_huyi_sms.send_sms("+44 7400 123456", "Your code is 551234【Huyi】", product="international")
    gateway = get_gateway()
    [call] = gateway.messages_for("13800138000")
    [text] = gateway.messages_for("44 7400123456")
    # Each went to its own endpoint, on its own account, in its own format.
    assert (call.product, call.account, call.content, call.smsid) == ("voice", "VC20002", "482913", voice.smsid)
    assert (text.product, text.account, text.mobile) == ("international", "I40004", "44 7400123456")
    # The receipts name the numbers as they were sent, and find their sends.
    assert wait_for(lambda: set(SmsLog.objects.values_list("status", flat=True)) == {"delivered"})
    assert {receipt.log_id for receipt in StatusReceipt.objects.all()} == {voice.pk, abroad.pk}
    assert gateway.balance("VC20002") == gateway.balance("I40004") == 10000 - 1

    # The sandbox's phone shows the call as a call, its code digit by digit, and still picks the code out.
    page = client.get(reverse("huyi_sandbox:phone", args=["13800138000"])).content.decode()
    assert "Phone call" in page and re.search(r'class="spoken">4 8 2 9 1 3<', page)
    assert re.search(r'class="code"[^>]*>482913<', page)
    listed = client.get(reverse("huyi_sandbox:index")).content.decode()
    assert reverse("huyi_sandbox:phone", args=["44 7400123456"]) in listed
    data = client.get(reverse("huyi_sandbox:phone_json", args=["44 7400123456"])).json()
    assert data["latest_code"] == "551234" and data["messages"][0]["call"] is False
