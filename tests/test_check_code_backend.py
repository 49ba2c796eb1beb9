"""W003 (no SmsCodeBackend) speaks only to a site that signs people in with codes.

A send-only site includes the app's URLs for the pushes, and with them a sign-in page it never
uses: it must not hear of the backend on every migrate. A site whose settings say it signs
people in with codes (LOGIN_URL leads to the code sign-in page, or CREATE_USER_ON_LOGIN) must.
"""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.urls import path

from django_huyi_sms.checks import check_settings
from django_huyi_sms.views import CodeLoginView

ONLY_PASSWORDS = ["django.contrib.auth.backends.ModelBackend"]


class SiteLoginView(CodeLoginView):
    """A site's own sign-in page, built on the app's."""


class SiteUrls:
    urlpatterns = [path("account/sign-in/", SiteLoginView.as_view(), name="sign_in")]


def w003() -> list[str]:
    return [message.msg for message in check_settings() if message.id == "huyi_sms.W003"]


@pytest.mark.parametrize(
    "login_url",
    ["/accounts/login/", "admin:login", "https://id.example.com/sms/login/", "no-such-url-name", None],
)
def test_a_send_only_site_is_not_told_about_the_backend(login_url):
    # tests/urls.py includes the app's URLs (and so its sign-in page), as every site does for pushes.
    with override_settings(AUTHENTICATION_BACKENDS=ONLY_PASSWORDS, LOGIN_URL=login_url):
        assert w003() == []


@pytest.mark.parametrize("login_url", ["huyi_sms:login", "/sms/login/", "/sms/login/?source=menu"])
def test_a_site_whose_login_url_is_the_code_sign_in_page_is_warned(login_url):
    with override_settings(AUTHENTICATION_BACKENDS=ONLY_PASSWORDS, LOGIN_URL=login_url):
        [message] = w003()
    assert "LOGIN_URL leads to the code sign-in page" in message


def test_a_sites_own_subclass_of_the_sign_in_page_counts():
    with override_settings(AUTHENTICATION_BACKENDS=ONLY_PASSWORDS, ROOT_URLCONF=SiteUrls, LOGIN_URL="sign_in"):
        assert len(w003()) == 1


def test_creating_users_on_login_says_the_site_signs_in_with_codes():
    with override_settings(
        AUTHENTICATION_BACKENDS=ONLY_PASSWORDS,
        HUYI_SMS={"BACKEND": "django_huyi_sms.backends.locmem.LocmemBackend", "OTP": {"CREATE_USER_ON_LOGIN": True}},
    ):
        [message] = w003()
    assert "CREATE_USER_ON_LOGIN" in message


def test_with_the_backend_nobody_is_warned():
    with override_settings(LOGIN_URL="huyi_sms:login"):
        assert w003() == []
