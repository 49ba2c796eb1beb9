"""A signed-in user verifies a mobile number: the number is theirs once the code is right."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.urls import reverse

from django_huyi_sms.adapter import get_adapter
from django_huyi_sms.models import UserMobile

from .flow_helpers import MOBILE, OTHER_MOBILE, last_code, make_user, sms_count

pytestmark = pytest.mark.django_db

VERIFY = reverse("huyi_sms:verify_phone")


def test_signing_in_is_needed(client):
    response = client.get(VERIFY)
    assert response.status_code == 302 and "login" in response["Location"]


def test_verify_a_new_number(client):
    bob = make_user("bob", mobile=None)
    client.force_login(bob)
    assert "no verified mobile number" in client.get(VERIFY).content.decode()

    response = client.post(VERIFY, {"mobile": OTHER_MOBILE, "send_code": "1"})
    assert sms_count(OTHER_MOBILE) == 1
    assert "A code is on its way" in response.content.decode()  # no need to hide anything here

    response = client.post(VERIFY, {"mobile": OTHER_MOBILE, "code": last_code(OTHER_MOBILE)}, follow=True)
    assert UserMobile.objects.get(user=bob).mobile == OTHER_MOBILE
    assert "139****9000 is verified" in response.content.decode()


def test_the_code_must_be_for_that_number(client):
    bob = make_user("bob", mobile=None)
    client.force_login(bob)
    client.post(VERIFY, {"mobile": OTHER_MOBILE, "send_code": "1"})
    response = client.post(VERIFY, {"mobile": MOBILE, "code": last_code(OTHER_MOBILE)})
    assert response.context["form"].errors["code"]
    assert not UserMobile.objects.filter(user=bob).exists()


def test_a_verified_number_moves_to_whoever_proves_it_now(client):
    make_user("alice", mobile=MOBILE)
    bob = make_user("bob", mobile=None)
    client.force_login(bob)
    client.post(VERIFY, {"mobile": MOBILE, "send_code": "1"})
    client.post(VERIFY, {"mobile": MOBILE, "code": last_code()})
    assert UserMobile.objects.get(mobile=MOBILE).user == bob
    assert UserMobile.objects.count() == 1


@override_settings(HUYI_SMS={"BACKEND": "django_huyi_sms.backends.locmem.LocmemBackend",
                             "USER_MOBILE_FIELD": "last_name", "OTP": {"UNIFORM_RESPONSE_SECONDS": 0}})
def test_with_user_mobile_field_the_number_goes_on_the_user_model(client):
    # last_name stands in for a custom user model's mobile field.
    bob = get_user_model().objects.create_user("bob", password="x")
    client.force_login(bob)
    client.post(VERIFY, {"mobile": MOBILE, "send_code": "1"})
    client.post(VERIFY, {"mobile": MOBILE, "code": last_code()})
    bob.refresh_from_db()
    assert bob.last_name == MOBILE
    assert not UserMobile.objects.exists()
    assert get_adapter().get_user_by_mobile(MOBILE) == bob
    assert f"{MOBILE}" in client.get(VERIFY).content.decode()


def test_otp_verified_names_the_user(client):
    from django_huyi_sms import signals

    seen = []
    signals.otp_verified.connect(lambda **kwargs: seen.append((kwargs["record"].purpose, kwargs["user"])), weak=False,
                                 dispatch_uid="test-otp-verified")
    try:
        alice = make_user("alice", mobile=MOBILE)
        client.post(reverse("huyi_sms:login"), {"mobile": MOBILE, "send_code": "1"})
        client.post(reverse("huyi_sms:login"), {"mobile": MOBILE, "code": last_code()})
        bob = make_user("bob", mobile=None)
        client.force_login(bob)
        client.post(VERIFY, {"mobile": OTHER_MOBILE, "send_code": "1"})
        client.post(VERIFY, {"mobile": OTHER_MOBILE, "code": last_code(OTHER_MOBILE)})
    finally:
        signals.otp_verified.disconnect(dispatch_uid="test-otp-verified")
    assert seen == [("login", alice), ("verify_phone", bob)]


@override_settings(HUYI_SMS={"BACKEND": "django_huyi_sms.backends.locmem.LocmemBackend",
                             "USER_MOBILE_FIELD": "last_name", "OTP": {"UNIFORM_RESPONSE_SECONDS": 0}})
def test_with_user_mobile_field_a_number_still_belongs_to_one_user(client):
    users = get_user_model().objects
    users.create_user("alice", password="x", last_name=MOBILE)
    bob = users.create_user("bob", password="x")
    client.force_login(bob)
    client.post(VERIFY, {"mobile": MOBILE, "send_code": "1"})
    client.post(VERIFY, {"mobile": MOBILE, "code": last_code()})
    assert list(users.filter(last_name=MOBILE)) == [bob]
    assert get_adapter().get_user_by_mobile(MOBILE) == bob
