"""Sign in with an SMS code through the page: send code (with its countdown), then sign in."""

from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY
from django.urls import reverse
from django.utils import translation

from django_huyi_sms.models import OtpRecord, OtpThrottle, SmsLog

from .flow_helpers import MOBILE, OTHER_MOBILE, last_code, make_user, sms_count

pytestmark = pytest.mark.django_db

LOGIN = reverse("huyi_sms:login")


def send_code(client, mobile=MOBILE, **extra):
    return client.post(LOGIN, {"mobile": mobile, "send_code": "1", **extra})


def test_the_page_works_without_javascript_and_loads_the_countdown_script(client):
    response = client.get(LOGIN)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="send_code"' in html and 'name="code"' in html and 'name="mobile"' in html
    assert "django_huyi_sms/countdown.js" in html
    # Enter in a field presses the first submit button: it must be "sign in", not "send code".
    assert html.index("huyi-default-submit") < html.index('name="send_code"')


def test_send_code_then_sign_in(client):
    alice = make_user()
    response = send_code(client)
    assert response.status_code == 200
    assert sms_count() == 1
    assert 'data-huyi-countdown="60"' in response.content.decode()
    assert response.context["form"]["mobile"].value() == MOBILE  # kept for the next step

    response = client.post(LOGIN, {"mobile": MOBILE, "code": last_code()})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert int(client.session[SESSION_KEY]) == alice.pk
    assert OtpRecord.objects.get().status == OtpRecord.Status.USED
    assert SmsLog.objects.get().purpose == "login"


def test_next_is_honoured_but_not_to_another_site(client):
    make_user()
    send_code(client)
    response = client.post(f"{LOGIN}?next=/account/", {"mobile": MOBILE, "code": last_code(), "next": "/account/"})
    assert response["Location"] == "/account/"

    client.logout()
    OtpThrottle.objects.all().delete()  # skip the resend interval
    send_code(client)
    response = client.post(LOGIN, {"mobile": MOBILE, "code": last_code(), "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_a_wrong_code_is_an_error_on_the_code_field_and_nobody_is_signed_in(client):
    make_user()
    send_code(client)
    wrong = "000000" if last_code() != "000000" else "111111"
    response = client.post(LOGIN, {"mobile": MOBILE, "code": wrong})
    assert response.status_code == 200
    assert response.context["form"].errors["code"] == ["The code is not correct."]
    assert SESSION_KEY not in client.session
    assert OtpRecord.objects.get().attempts == 1


def test_resend_within_the_interval_shows_the_seconds_left_and_sends_nothing(client):
    make_user()
    send_code(client)
    response = send_code(client)
    assert sms_count() == 1
    html = response.content.decode()
    assert "data-huyi-countdown=" in html
    assert response.context["resend_in"] <= 60
    assert "wait before asking again" in html


def test_unknown_number_gets_the_same_answer_and_no_sms(client):
    make_user()
    known = send_code(client)
    unknown = send_code(client, OTHER_MOBILE)
    assert sms_count(OTHER_MOBILE) == 0
    assert unknown.status_code == known.status_code == 200
    assert unknown.context["code_sent"] is known.context["code_sent"] is True
    # The same words either way (the number itself differs, so compare the notice).
    assert "If this number can receive one" in unknown.content.decode()
    # ... and the limits count for it too, so they do not tell either.
    assert "wait before asking again" in send_code(client, OTHER_MOBILE).content.decode()


def test_inactive_users_get_no_code_and_cannot_sign_in(client):
    make_user(is_active=False)
    send_code(client)
    assert sms_count() == 0
    response = client.post(LOGIN, {"mobile": MOBILE, "code": "123456"})
    assert SESSION_KEY not in client.session
    assert response.context["form"].errors["code"]


def test_malformed_numbers_are_field_errors(client):
    response = send_code(client, "12345")
    assert response.status_code == 200
    assert "11 digits" in response.content.decode()
    assert sms_count("12345") == 0 and not SmsLog.objects.exists()


def test_errors_speak_chinese_to_chinese_users(client):
    make_user()
    send_code(client)
    with translation.override("zh-hans"):
        response = client.post(LOGIN, {"mobile": MOBILE, "code": "1"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.context["form"].errors["code"] == ["验证码不正确。"]
    assert "用短信验证码登录" in response.content.decode()


def test_five_wrong_codes_kill_the_code_even_the_right_one_after(client):
    make_user()
    send_code(client)
    right = last_code()
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(5):
        client.post(LOGIN, {"mobile": MOBILE, "code": wrong})
    response = client.post(LOGIN, {"mobile": MOBILE, "code": right})
    assert SESSION_KEY not in client.session
    assert response.context["form"].errors["code"] == ["Too many wrong tries; ask for a new code."]
