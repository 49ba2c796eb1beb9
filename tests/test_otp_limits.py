"""What stops SMS bombing and guessing before the provider has to: per-IP limits, the
pre-send check (a captcha), and codes that never reach a log."""

from __future__ import annotations

import logging
import re

import pytest
from django import forms
from django.test import override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from django_huyi_sms.adapter import HuyiAdapter
from django_huyi_sms.models import OtpRecord, OtpThrottle, SmsLog

from .flow_helpers import MOBILE, last_code, make_user, sms_count

pytestmark = pytest.mark.django_db

LOGIN = reverse("huyi_sms:login")
REQUEST = reverse("huyi_sms:otp_request")
VERIFY = reverse("huyi_sms:otp_verify")

BASE = {"BACKEND": "django_huyi_sms.backends.locmem.LocmemBackend", "OTP": {"UNIFORM_RESPONSE_SECONDS": 0}}


def numbers(count: int) -> list[str]:
    return [f"1380013{index:04d}" for index in range(count)]


@override_settings(HUYI_SMS={**BASE, "RATELIMITS": {"REQUEST_CODE": "3/h"}})
def test_one_address_cannot_walk_through_many_numbers():
    api = APIClient(REMOTE_ADDR="203.0.113.7")
    # verify_phone sends to any number (no account needed), so every request would send.
    api.force_authenticate(make_user("bob", mobile=None))
    answers = [api.post(REQUEST, {"mobile": mobile, "purpose": "verify_phone"}) for mobile in numbers(5)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429, 429]
    assert answers[-1].json()["code"] == "rate_limited"
    assert int(answers[-1]["Retry-After"]) > 0
    assert SmsLog.objects.count() == 3
    # Another address has its own count.
    other = APIClient(REMOTE_ADDR="203.0.113.8")
    other.force_authenticate(make_user("carol", mobile=None))
    assert other.post(REQUEST, {"mobile": numbers(6)[5], "purpose": "verify_phone"}).status_code == 200


@override_settings(HUYI_SMS={**BASE, "RATELIMITS": {"VERIFY_CODE": "4/h"}})
def test_guessing_across_numbers_is_cut_off_per_address(client):
    for index, mobile in enumerate(numbers(3)):
        make_user(f"user{index}", mobile=mobile)
    answers = [client.post(LOGIN, {"mobile": mobile, "code": "000000"}) for mobile in numbers(3) * 2]
    errors = [answer.context["form"].errors["code"][0] for answer in answers]
    assert errors[:4] == ["The code is not correct."] * 4
    assert errors[4:] == ["Too many requests from your network; try again later."] * 2


@override_settings(HUYI_SMS={**BASE, "RATELIMITS": {"REQUEST_CODE": None, "VERIFY_CODE": None}})
def test_a_rate_of_none_turns_a_limit_off():
    api = APIClient()
    for index, mobile in enumerate(numbers(12)):
        make_user(f"user{index}", mobile=mobile)
        assert api.post(REQUEST, {"mobile": mobile}).status_code == 200
    assert SmsLog.objects.count() == 12


class ChallengeForm(forms.Form):
    """Stands in for django-simple-captcha's form: the answer must be right."""

    captcha = forms.CharField(label="What is six times seven?")

    def clean_captcha(self):
        if self.cleaned_data["captcha"] != "42":
            raise forms.ValidationError("wrong")
        return self.cleaned_data["captcha"]


class CaptchaAdapter(HuyiAdapter):
    def get_challenge_form(self, request, data=None):
        return ChallengeForm(data)


@override_settings(HUYI_SMS={**BASE, "ADAPTER": "tests.test_otp_limits.CaptchaAdapter"})
def test_a_challenge_form_is_shown_and_checked_before_any_code(client):
    make_user()
    for page in ("huyi_sms:login", "huyi_sms:password_reset"):
        assert "What is six times seven?" in client.get(reverse(page)).content.decode()
    response = client.post(LOGIN, {"mobile": MOBILE, "send_code": "1", "captcha": "41"})
    assert "Please complete the verification" in response.content.decode()
    answer = APIClient().post(REQUEST, {"mobile": MOBILE}, format="json")
    assert answer.status_code == 400 and answer.json()["code"] == "challenge_failed"
    assert sms_count() == 0 and not OtpRecord.objects.exists()

    client.post(LOGIN, {"mobile": MOBILE, "send_code": "1", "captcha": "42"})
    assert sms_count() == 1
    OtpThrottle.objects.all().delete()
    assert APIClient().post(REQUEST, {"mobile": MOBILE, "captcha": "42"}, format="json").status_code == 200
    assert sms_count() == 2


def test_no_code_and_no_api_key_in_any_log_line(client, caplog):
    make_user()
    caplog.set_level(logging.DEBUG)
    client.post(LOGIN, {"mobile": MOBILE, "send_code": "1"})
    code = last_code()
    client.post(LOGIN, {"mobile": MOBILE, "code": "999999" if code != "999999" else "888888"})
    client.post(LOGIN, {"mobile": MOBILE, "code": code})
    APIClient().post(VERIFY, {"mobile": MOBILE, "code": code})
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert logged  # the flows do log what happened ...
    assert not re.search(rf"(?<!\d){code}(?!\d)", logged)  # ... but never the code (an smsid may contain it)
    assert "sandbox-api-key" not in logged
    assert MOBILE not in logged  # numbers are masked


@override_settings(RATELIMIT_IP_META_KEY="HTTP_X_REAL_IP")
@pytest.mark.parametrize("header", [None, "not-an-ip", "1.2.3.4, 5.6.7.8"])
def test_a_missing_or_garbage_proxy_header_is_counted_by_address_not_a_500(header):
    make_user()
    extra = {"HTTP_X_REAL_IP": header} if header is not None else {}
    response = APIClient().post(REQUEST, {"mobile": MOBILE}, **extra)
    assert response.status_code == 200
    assert sms_count() == 1
