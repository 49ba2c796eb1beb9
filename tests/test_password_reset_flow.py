"""Reset a password with an SMS code: the number, then the code and a new password, then done.

It never tells whether a number has an account: the same answer, the same page, the
same limits and (with ``UNIFORM_RESPONSE_SECONDS``) the same time class; only an
account's number gets an SMS.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.urls import reverse

from django_huyi_sms import otp
from django_huyi_sms.models import OtpRecord, OtpThrottle

from .flow_helpers import MOBILE, OTHER_MOBILE, PASSWORD, last_code, make_user, sms_count

pytestmark = pytest.mark.django_db

RESET = reverse("huyi_sms:password_reset")
CONFIRM = reverse("huyi_sms:password_reset_confirm")
COMPLETE = reverse("huyi_sms:password_reset_complete")
NEW_PASSWORD = "N3w-and-long-enough"


def test_the_whole_reset(client):
    alice = make_user()
    response = client.post(RESET, {"mobile": MOBILE})
    assert response.status_code == 302 and response["Location"] == CONFIRM
    assert sms_count() == 1

    page = client.get(CONFIRM)
    assert "138****8000" in page.content.decode()
    response = client.post(CONFIRM, {"code": last_code(), "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302 and response["Location"] == COMPLETE
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD) and not alice.check_password(PASSWORD)
    assert client.login(username="alice", password=NEW_PASSWORD)
    # The flow is over: its page sends you back to the start.
    assert client.get(CONFIRM)["Location"] == RESET


def test_an_unknown_number_gets_the_same_answer_and_no_sms(client):
    make_user()
    known = client.post(RESET, {"mobile": MOBILE})
    unknown = client.post(RESET, {"mobile": OTHER_MOBILE})
    assert (unknown.status_code, unknown["Location"]) == (known.status_code, known["Location"])
    assert sms_count(OTHER_MOBILE) == 0
    confirm = client.get(CONFIRM).content.decode()
    assert "139****9000" in confirm and "If 139****9000 belongs to an account" in confirm
    # The limits count for every number alike: the second ask is refused for both.
    again_known = client.post(RESET, {"mobile": MOBILE})
    again_unknown = client.post(RESET, {"mobile": OTHER_MOBILE})
    assert again_known.status_code == again_unknown.status_code == 200
    assert again_known.context["form"].errors == {"mobile": [again_known.context["form"].errors["mobile"][0]]}
    assert "wait before asking again" in again_unknown.context["form"].errors["mobile"][0]


@override_settings(HUYI_SMS={"BACKEND": "django_huyi_sms.backends.locmem.LocmemBackend",
                             "OTP": {"UNIFORM_RESPONSE_SECONDS": 0.75}})
def test_both_answers_are_padded_to_the_same_minimum_time(client, monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(otp, "_sleep", slept.append)
    make_user()
    client.post(RESET, {"mobile": MOBILE})
    client.post(RESET, {"mobile": OTHER_MOBILE})
    assert len(slept) == 2
    # Each call waited for whatever was left of the 0.75 s, so both took at least that long.
    assert all(0 < seconds <= 0.75 for seconds in slept)


def test_a_wrong_code_keeps_the_old_password_and_counts(client):
    alice = make_user()
    client.post(RESET, {"mobile": MOBILE})
    wrong = "000000" if last_code() != "000000" else "111111"
    response = client.post(CONFIRM, {"code": wrong, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 200
    assert response.context["form"].errors["code"] == ["The code is not correct."]
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)
    assert OtpRecord.objects.get().attempts == 1


@override_settings(
    AUTH_PASSWORD_VALIDATORS=[{"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"}]
)
def test_a_weak_or_mismatched_password_does_not_use_the_code_up(client):
    make_user()
    client.post(RESET, {"mobile": MOBILE})
    code = last_code()
    weak = client.post(CONFIRM, {"code": code, "new_password1": "short", "new_password2": "short"})
    assert "new_password2" in weak.context["form"].errors
    mismatch = client.post(CONFIRM, {"code": code, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD + "x"})
    assert "didn't match" in mismatch.context["form"].errors["new_password2"][0]
    record = OtpRecord.objects.get()
    assert record.status == OtpRecord.Status.ACTIVE and record.attempts == 0
    done = client.post(CONFIRM, {"code": code, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302


def test_a_login_code_cannot_reset_a_password(client):
    make_user()
    client.post(reverse("huyi_sms:login"), {"mobile": MOBILE, "send_code": "1"})
    login_code = last_code()
    OtpThrottle.objects.all().delete()
    client.post(RESET, {"mobile": MOBILE})
    OtpRecord.objects.filter(purpose="password_reset").delete()  # only the login code is left
    response = client.post(
        CONFIRM, {"code": login_code, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert response.context["form"].errors["code"]
    assert not get_user_model().objects.get().check_password(NEW_PASSWORD)


def test_resend_from_the_confirm_page_honours_the_interval(client):
    make_user()
    client.post(RESET, {"mobile": MOBILE})
    response = client.post(CONFIRM, {"send_code": "1"})
    assert response.status_code == 200
    assert sms_count() == 1
    assert 0 < response.context["resend_in"] <= 60
    OtpThrottle.objects.all().delete()
    response = client.post(CONFIRM, {"send_code": "1"})
    assert sms_count() == 2 and response.context["code_sent"] is True


def test_the_confirm_page_needs_the_first_step(client):
    assert client.get(CONFIRM)["Location"] == RESET
    assert client.post(CONFIRM, {"code": "123456"})["Location"] == RESET
