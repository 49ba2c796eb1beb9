"""SmsCodeBackend: sign in with a number and the login code sent to it."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import authenticate
from django.test import override_settings

import django_huyi_sms
from django_huyi_sms import otp
from django_huyi_sms.adapter import get_adapter
from django_huyi_sms.models import OtpThrottle, UserMobile

pytestmark = pytest.mark.django_db

MOBILE = "13800138000"
BACKENDS = ["django_huyi_sms.auth.SmsCodeBackend", "django.contrib.auth.backends.ModelBackend"]


def sent_code():
    return re.findall(r"\d{6}", django_huyi_sms.outbox[-1].content)[-1]


@pytest.fixture
def alice(django_user_model):
    user = django_user_model.objects.create_user("alice", password="pw")
    get_adapter().set_user_mobile(user, MOBILE)
    return user


@override_settings(AUTHENTICATION_BACKENDS=BACKENDS)
def test_the_right_login_code_signs_the_user_in(alice):
    otp.request_code(MOBILE, purpose="login")
    assert authenticate(None, mobile="+86 13800138000", code=sent_code()) == alice
    assert authenticate(None, mobile=MOBILE, code=sent_code()) is None  # used up


@override_settings(AUTHENTICATION_BACKENDS=BACKENDS)
def test_wrong_code_other_purpose_or_inactive_user_is_refused(alice):
    otp.request_code(MOBILE, purpose="password_reset")
    assert authenticate(None, mobile=MOBILE, code=sent_code()) is None
    alice.is_active = False
    alice.save()
    OtpThrottle.objects.all().delete()  # skip the resend interval
    otp.request_code(MOBILE, purpose="login")
    assert authenticate(None, mobile=MOBILE, code=sent_code()) is None


@override_settings(AUTHENTICATION_BACKENDS=BACKENDS)
def test_passwords_still_go_to_the_model_backend(alice):
    assert authenticate(None, username="alice", password="pw") == alice


@override_settings(AUTHENTICATION_BACKENDS=BACKENDS)
def test_unknown_numbers_are_not_signed_up_unless_asked(django_user_model):
    otp.request_code("13900139000", purpose="login")
    assert authenticate(None, mobile="13900139000", code=sent_code()) is None
    assert django_user_model.objects.count() == 0
    settings = {"BACKEND": "django_huyi_sms.backends.locmem.LocmemBackend", "OTP": {"CREATE_USER_ON_LOGIN": True}}
    with override_settings(HUYI_SMS=settings):
        otp.request_code("13700137000", purpose="login")
        user = authenticate(None, mobile="13700137000", code=sent_code())
    assert user is not None and UserMobile.objects.get(user=user).mobile == "13700137000"


def test_a_number_belongs_to_one_user_at_most(alice, django_user_model):
    bob = django_user_model.objects.create_user("bob")
    get_adapter().set_user_mobile(bob, MOBILE)
    assert get_adapter().get_user_by_mobile(MOBILE) == bob
    assert UserMobile.objects.filter(mobile=MOBILE).count() == 1
