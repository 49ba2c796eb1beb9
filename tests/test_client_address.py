"""The caller's address: one reader for code records, per-IP limits and the push allow-list."""

from __future__ import annotations

import logging

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

import django_huyi_sms
from django_huyi_sms.client_address import client_ip
from django_huyi_sms.models import OtpRecord, StatusReceipt

from .flow_helpers import make_user
from .push_helpers import TOKEN, post_form, receipt_fields

REQUEST = reverse("huyi_sms:otp_request")
BASE = {"BACKEND": "django_huyi_sms.backends.locmem.LocmemBackend", "OTP": {"UNIFORM_RESPONSE_SECONDS": 0}}
PROXY = "10.0.0.1"
ALICE, BOB = "203.0.113.7", "203.0.113.8"


def numbers(count: int, start: int = 0) -> list[str]:
    return [f"1380013{index:04d}" for index in range(start, start + count)]


def ask_for_a_code(api: APIClient, mobile: str) -> int:
    return api.post(REQUEST, {"mobile": mobile, "purpose": "verify_phone"}).status_code


def forwarded_for(caller: str) -> dict[str, str]:
    # The left entry is the client's own claim; nginx appends the address it saw.
    return {"HTTP_X_FORWARDED_FOR": f"198.51.100.99, {caller}"}


def real_ip(caller: str) -> dict[str, str]:
    return {"HTTP_X_REAL_IP": caller}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "huyi, django, header",
    [
        ({"CALLBACK_PROXY_COUNT": 1}, {}, forwarded_for),  # the older name, as sites set it for pushes
        ({"TRUSTED_PROXY_COUNT": 1}, {}, forwarded_for),
        ({}, {"RATELIMIT_IP_META_KEY": "HTTP_X_REAL_IP"}, real_ip),  # as docs/otp.md advised
    ],
    ids=["CALLBACK_PROXY_COUNT", "TRUSTED_PROXY_COUNT", "RATELIMIT_IP_META_KEY"],
)
def test_the_code_record_and_the_per_ip_limit_see_the_same_caller_behind_a_proxy(huyi, django, header):
    settings = {**BASE, **huyi, "RATELIMITS": {"REQUEST_CODE": "2/h"}}
    with override_settings(HUYI_SMS=settings, **django):
        alice = APIClient(REMOTE_ADDR=PROXY, **header(ALICE))
        alice.force_authenticate(make_user("alice", mobile=None))
        bob = APIClient(REMOTE_ADDR=PROXY, **header(BOB))
        bob.force_authenticate(make_user("bob", mobile=None))
        alices = [ask_for_a_code(alice, mobile) for mobile in numbers(3)]
        bobs = ask_for_a_code(bob, numbers(1, start=3)[0])
    # Both callers come through one proxy: each has a count of their own, and each record names them.
    assert (alices, bobs) == ([200, 200, 429], 200)
    assert sorted(OtpRecord.objects.values_list("ip", flat=True)) == [ALICE, ALICE, BOB]


def request(remote: str = PROXY, **meta: str):
    return RequestFactory().get("/", REMOTE_ADDR=remote, **meta)


@pytest.mark.parametrize(
    "huyi, meta, expected",
    [
        ({}, {"HTTP_X_FORWARDED_FOR": ALICE}, PROXY),  # no proxy count: headers are not trusted
        ({"TRUSTED_PROXY_COUNT": 1}, {"HTTP_X_FORWARDED_FOR": f"198.51.100.99, {ALICE}"}, ALICE),
        ({"TRUSTED_PROXY_COUNT": 2}, {"HTTP_X_FORWARDED_FOR": f"198.51.100.99, {ALICE}, 10.0.0.2"}, ALICE),
        ({"TRUSTED_PROXY_COUNT": 2}, {"HTTP_X_FORWARDED_FOR": ALICE}, PROXY),  # fewer entries than proxies
        ({"TRUSTED_PROXY_COUNT": 1}, {}, PROXY),
        ({"TRUSTED_PROXY_COUNT": 1}, {"HTTP_X_FORWARDED_FOR": "2001:DB8:0:0::1"}, "2001:db8::1"),
        ({"TRUSTED_PROXY_COUNT": 0, "CALLBACK_PROXY_COUNT": 0}, {"HTTP_X_FORWARDED_FOR": ALICE}, PROXY),
    ],
)
def test_client_ip_trusts_only_what_your_proxies_wrote(huyi, meta, expected):
    with override_settings(HUYI_SMS=huyi):
        assert client_ip(request(**meta)) == expected


@pytest.mark.parametrize("garbage", ["unknown", "203.0.113.7:51234", "<script>"])
def test_a_forwarded_entry_that_is_not_an_address_falls_back_to_remote_addr(garbage, caplog):
    with override_settings(HUYI_SMS={"TRUSTED_PROXY_COUNT": 1}), caplog.at_level(logging.WARNING):
        assert client_ip(request(HTTP_X_FORWARDED_FOR=garbage)) == PROXY
    assert "not an address" in caplog.text


def caller_from_header(request) -> str:
    return request.META.get("HTTP_X_CLIENT", "")


def test_ratelimit_ip_meta_key_may_be_a_function_and_the_proxy_count_comes_first():
    meta = {"HTTP_X_CLIENT": ALICE, "HTTP_X_FORWARDED_FOR": BOB}
    with override_settings(RATELIMIT_IP_META_KEY="tests.test_client_address.caller_from_header"):
        assert client_ip(request(**meta)) == ALICE
        with override_settings(HUYI_SMS={"TRUSTED_PROXY_COUNT": 1}):
            assert client_ip(request(**meta)) == BOB


@pytest.mark.parametrize("huyi", [{"TRUSTED_PROXY_COUNT": "1"}, {"TRUSTED_PROXY_COUNT": 1, "CALLBACK_PROXY_COUNT": 2}])
def test_wrong_proxy_settings_raise_rather_than_guess(huyi):
    with override_settings(HUYI_SMS=huyi), pytest.raises(ImproperlyConfigured, match="PROXY_COUNT"):
        client_ip(request())


@pytest.mark.django_db
def test_callers_in_one_ipv6_slash_64_share_a_count_as_with_django_ratelimits_ip_key():
    settings = {**BASE, "RATELIMITS": {"REQUEST_CODE": "2/h"}}
    answers = []
    addresses = ["2001:db8:1:1::1", "2001:db8:1:1::2", "2001:db8:1:1:ffff::9", "2001:db8:1:2::1"]
    with override_settings(HUYI_SMS=settings):
        for index, address in enumerate(addresses):
            api = APIClient(REMOTE_ADDR=address)
            api.force_authenticate(make_user(f"user{index}", mobile=None))
            answers.append(ask_for_a_code(api, numbers(1, start=index)[0]))
    assert answers == [200, 200, 429, 200]


@pytest.mark.django_db
def test_the_push_allow_list_reads_the_caller_as_the_limits_do(client):
    log = django_huyi_sms.send_sms("13800138000", "您的验证码是：1234。")
    settings = {"CALLBACK_TOKEN": TOKEN, "CALLBACK_ALLOWED_IPS": ["203.0.113.0/24"], "TRUSTED_PROXY_COUNT": 1}
    fields = receipt_fields(log.smsid)
    with override_settings(HUYI_SMS=settings):
        spoofed = post_form(client, "receipt_push", fields, HTTP_X_FORWARDED_FOR=f"{ALICE}, 198.51.100.1")
        honest = post_form(client, "receipt_push", fields, HTTP_X_FORWARDED_FOR=f"198.51.100.1, {ALICE}")
    assert (spoofed.status_code, honest.status_code) == (403, 200)
    assert StatusReceipt.objects.count() == 1
