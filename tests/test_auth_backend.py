"""SmsCodeBackend: sign in with a number and the login code sent to it."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import authenticate
from django.test import override_settings
from django.urls import reverse

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


SIGN_UP = {"BACKEND": "django_huyi_sms.backends.locmem.LocmemBackend", "OTP": {"CREATE_USER_ON_LOGIN": True}}


@override_settings(AUTHENTICATION_BACKENDS=BACKENDS, HUYI_SMS=SIGN_UP)
def test_new_accounts_are_not_named_after_their_number(django_user_model):
    otp.request_code("13700137000", purpose="login")
    user = authenticate(None, mobile="13700137000", code=sent_code())
    assert user is not None
    # The username shows wherever users are listed (the SmsLog detail's "user", say): it must
    # not be the number, which the admin masks everywhere else.
    assert "13700137000" not in user.get_username()
    assert "0137000" not in user.get_username() and not user.has_usable_password()


@override_settings(AUTHENTICATION_BACKENDS=BACKENDS, HUYI_SMS=SIGN_UP)
def test_an_account_already_named_after_the_number_does_not_break_sign_up(django_user_model):
    squatter = django_user_model.objects.create_user("13700137000")  # its number is not verified
    otp.request_code("13700137000", purpose="login")
    user = authenticate(None, mobile="13700137000", code=sent_code())
    assert user is not None and user != squatter  # the one who proved the number, not the name's owner
    assert get_adapter().get_user_by_mobile("13700137000") == user


@override_settings(AUTHENTICATION_BACKENDS=BACKENDS, HUYI_SMS=SIGN_UP)
def test_signing_up_through_the_api_answers_200_when_the_number_is_a_username(django_user_model):
    from rest_framework.test import APIClient

    django_user_model.objects.create_user("13700137000")
    api = APIClient()
    api.post(reverse("huyi_sms:otp_request"), {"mobile": "13700137000", "purpose": "login"}, format="json")
    response = api.post(
        reverse("huyi_sms:otp_verify"), {"mobile": "13700137000", "code": sent_code(), "purpose": "login"}, format="json"
    )
    assert response.status_code == 200
    assert "13700137000" not in response.json()["user"]["username"]
