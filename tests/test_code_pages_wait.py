"""The code pages say how long to wait: seconds in every "too soon", a countdown that the server
computes (so it is still there when a page comes back with a wrong code), and a link to the
sandbox phone while the site sends to a sandbox it serves."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import override_settings
from django.urls import include, path, reverse
from django.utils import timezone

from django_huyi_sms import flows
from django_huyi_sms import urls as app_urls
from django_huyi_sms.forms import RequestCodeForm
from django_huyi_sms.models import OtpThrottle
from django_huyi_sms.views import sandbox_phone_url

from .flow_helpers import MOBILE, OTHER_MOBILE, last_code, make_user, sms_count

pytestmark = pytest.mark.django_db

LOGIN = reverse("huyi_sms:login")
RESET = reverse("huyi_sms:password_reset")
CONFIRM = reverse("huyi_sms:password_reset_confirm")
VERIFY = reverse("huyi_sms:verify_phone")
NEW_PASSWORD = "N3w-and-long-enough"

# A site that mounts the sandbox under the app's own URLs (the nested namespace huyi_sms:huyi_sandbox).
urlpatterns = [
    path("sms/", include(([*app_urls.urlpatterns, path("sandbox/", include("django_huyi_sms.sandbox.urls"))], "huyi_sms"))),
]


class WithoutSandbox:
    """A URLconf that does not mount the sandbox at all."""

    urlpatterns = [path("sms/", include("django_huyi_sms.urls"))]

SENDS_TO_A_SANDBOX = {
    "ACCOUNT": "sandbox",
    "API_KEY": "sandbox-api-key",
    "BACKEND": "django_huyi_sms.backends.ihuyi.IhuyiBackend",
    "API_URL": "http://testserver/sandbox/webservice/sms.php",
    "CALLBACK_TOKEN": "test-callback-token",
    "OTP": {"UNIFORM_RESPONSE_SECONDS": 0},
}


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def seconds_in(message: str) -> int:
    found = re.search(r"in (\d+) seconds?\.", message)
    assert found, f"no seconds in {message!r}"
    return int(found.group(1))


def countdown(html: str) -> int | None:
    """The seconds the page's send button counts down from (``None``: it does not)."""
    found = re.findall(r'data-huyi-countdown="(\d+)"', html)
    assert len(found) <= 1, found
    return int(found[0]) if found else None


def code_sent_ago(seconds: int, mobile: str = MOBILE) -> None:
    """As if the number's codes (of every purpose) had been sent ``seconds`` ago."""
    sent = timezone.now() - timedelta(seconds=seconds)
    stamp = round(sent.timestamp() * 1_000_000)
    for throttle in OtpThrottle.objects.filter(mobile=mobile):
        throttle.last_sent_at = sent
        throttle.sent_for = dict.fromkeys(throttle.sent_for, stamp)
        throttle.save(update_fields=["last_sent_at", "sent_for"])


# -- seconds in every "too soon" -----------------------------------------------------------------


def test_the_login_pages_too_soon_says_how_many_seconds(client):
    make_user()
    client.post(LOGIN, {"mobile": MOBILE, "send_code": "1"})
    code_sent_ago(20)
    response = client.post(LOGIN, {"mobile": MOBILE, "send_code": "1"})
    [message] = response.context["send_form"].errors["mobile"]
    assert "wait before asking again" in message
    assert seconds_in(message) == 40
    assert countdown(response.content.decode()) == 40
    assert sms_count() == 1


def test_the_reset_pages_too_soon_says_how_many_seconds_and_counts_down_on_its_button(client):
    make_user()
    client.post(RESET, {"mobile": MOBILE})
    code_sent_ago(15)
    response = client.post(RESET, {"mobile": MOBILE})
    assert response.status_code == 200
    [message] = response.context["form"].errors["mobile"]
    assert seconds_in(message) == 45
    html = response.content.decode()
    # The page's one button sends the code: it is the one that counts down, next to the error.
    assert re.search(r'<button type="submit" class="huyi-submit"[^>]*data-huyi-countdown="45"', html)
    assert html.index(message.split(";")[0]) < html.index('class="huyi-submit"')


def test_a_form_used_on_its_own_says_the_seconds_too(rf):
    make_user()
    request = rf.post("/", REMOTE_ADDR="203.0.113.9")
    assert RequestCodeForm(request, data={"mobile": MOBILE}).send_code()
    form = RequestCodeForm(request, data={"mobile": MOBILE})
    assert not form.send_code()
    assert 1 <= form.retry_after <= 60
    assert seconds_in(form.errors["mobile"][0]) == form.retry_after


# -- the countdown survives a wrong code ---------------------------------------------------------


def test_after_a_wrong_code_the_login_page_still_counts_down_from_the_servers_figure(client):
    make_user()
    client.post(LOGIN, {"mobile": MOBILE, "send_code": "1"})
    code_sent_ago(45)
    response = client.post(LOGIN, {"mobile": MOBILE, "code": wrong(last_code())})
    assert response.context["form"].errors["code"] == ["The code is not correct."]
    assert response.context["resend_in"] == 15
    html = response.content.decode()
    assert countdown(html) == 15
    assert "You can ask for another code in 15 seconds." in html  # without JavaScript


def test_once_the_interval_is_over_a_wrong_code_shows_no_countdown(client):
    make_user()
    client.post(LOGIN, {"mobile": MOBILE, "send_code": "1"})
    code_sent_ago(61)
    response = client.post(LOGIN, {"mobile": MOBILE, "code": wrong(last_code())})
    assert response.context["resend_in"] is None
    assert countdown(response.content.decode()) is None


def test_the_reset_confirm_page_counts_down_when_it_opens_and_after_a_wrong_code(client):
    make_user()
    client.post(RESET, {"mobile": MOBILE})
    opened = client.get(CONFIRM)
    assert 59 <= countdown(opened.content.decode()) <= 60
    code_sent_ago(30)
    response = client.post(CONFIRM, {"code": wrong(last_code()), "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.context["form"].errors["code"] == ["The code is not correct."]
    assert countdown(response.content.decode()) == 30


def test_the_verify_page_counts_down_after_a_wrong_code(client):
    user = make_user(mobile=None)
    client.force_login(user)
    client.post(VERIFY, {"mobile": OTHER_MOBILE, "send_code": "1"})
    code_sent_ago(50, OTHER_MOBILE)
    response = client.post(VERIFY, {"mobile": OTHER_MOBILE, "code": wrong(last_code(OTHER_MOBILE))})
    assert response.context["form"].errors["code"] == ["The code is not correct."]
    assert countdown(response.content.decode()) == 10


def test_a_number_that_is_not_one_gets_no_countdown_and_no_error_page(client):
    response = client.post(LOGIN, {"mobile": "not a number", "code": "123456"})
    assert response.status_code == 200
    assert response.context["resend_in"] is None


def test_resend_in_refuses_an_unknown_purpose():
    with pytest.raises(ValueError, match="unknown purpose"):
        flows.resend_in(MOBILE, "lunch")


def test_a_login_code_does_not_hold_back_a_reset_code(client):
    make_user()
    client.post(LOGIN, {"mobile": MOBILE, "send_code": "1"})
    assert flows.resend_in(MOBILE, flows.LOGIN) is not None
    assert flows.resend_in(MOBILE, flows.PASSWORD_RESET) is None
    response = client.post(RESET, {"mobile": MOBILE})
    assert response.status_code == 302 and sms_count() == 2
    # …while the login page still counts down for its own code.
    again = client.post(LOGIN, {"mobile": MOBILE, "send_code": "1"})
    assert again.context["send_form"].errors["mobile"]


# -- next ----------------------------------------------------------------------------------------


def test_next_is_kept_through_the_send_code_step_but_never_another_sites(client):
    make_user()
    page = client.post(f"{LOGIN}?next=/account/", {"mobile": MOBILE, "send_code": "1", "next": "/account/"})
    assert '<input type="hidden" name="next" value="/account/">' in page.content.decode()
    signed_in = client.post(LOGIN, {"mobile": MOBILE, "code": last_code(), "next": "/account/"})
    assert signed_in["Location"] == "/account/"

    client.logout()
    code_sent_ago(61)
    evil = client.post(LOGIN, {"mobile": MOBILE, "send_code": "1", "next": "https://evil.example/"})
    assert "evil.example" not in evil.content.decode()


# -- the sandbox phone link ------------------------------------------------------------------------


@override_settings(HUYI_SMS=SENDS_TO_A_SANDBOX)
def test_the_pages_link_to_the_sandbox_phone_while_the_site_sends_to_its_sandbox(client):
    # tests/urls.py mounts the sandbox itself, at sandbox/ (namespace huyi_sandbox).
    assert f'href="{reverse("huyi_sandbox:index")}"' in client.get(LOGIN).content.decode()
    assert f'href="{reverse("huyi_sandbox:index")}"' in client.get(RESET).content.decode()
    # Once the page knows the number: that number's phone.
    html = client.post(LOGIN, {"mobile": "+86 138-0013-8000", "code": "123456"}).content.decode()
    assert f'href="{reverse("huyi_sandbox:phone", kwargs={"mobile": MOBILE})}"' in html
    assert "Read the code on the sandbox phone" in html


@override_settings(HUYI_SMS={"SANDBOX_SITE": "http://testserver", "OTP": {"UNIFORM_RESPONSE_SECONDS": 0}}, ROOT_URLCONF=WithoutSandbox)
def test_the_sandbox_the_app_serves_with_sandbox_site_is_found_too(client):
    assert sandbox_phone_url(MOBILE) == f"/sms/sandbox/phone/{MOBILE}/"
    assert 'href="/sms/sandbox/"' in client.get("/sms/login/").content.decode()


@override_settings(HUYI_SMS=SENDS_TO_A_SANDBOX, ROOT_URLCONF=WithoutSandbox)
def test_no_link_when_the_sandbox_is_not_mounted(client):
    assert sandbox_phone_url() == ""
    assert "sandbox" not in client.get("/sms/login/").content.decode()


@pytest.mark.parametrize(
    "huyi_sms",
    [
        {**SENDS_TO_A_SANDBOX, "API_URL": "https://106.ihuyi.com/webservice/sms.php"},  # for real
        {**SENDS_TO_A_SANDBOX, "BACKEND": "django_huyi_sms.backends.locmem.LocmemBackend"},  # nowhere
    ],
    ids=["ihuyi", "locmem"],
)
def test_no_link_when_the_site_does_not_send_to_a_sandbox(client, huyi_sms):
    with override_settings(HUYI_SMS=huyi_sms):
        assert sandbox_phone_url(MOBILE) == ""
        assert "Read the code on the sandbox phone" not in client.get(LOGIN).content.decode()
