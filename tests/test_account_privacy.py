"""Sign-in and password reset never tell whether a number has an account: not by the answer,
not by the limits, not by how wrong tries end, not by the provider's troubles."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from django_huyi_sms.models import OtpRecord

from .flow_helpers import MOBILE, OTHER_MOBILE, make_user, sms_count

pytestmark = pytest.mark.django_db

REQUEST = reverse("huyi_sms:otp_request")
VERIFY = reverse("huyi_sms:otp_verify")
LOGIN = reverse("huyi_sms:login")
RESET = reverse("huyi_sms:password_reset")
CONFIRM = reverse("huyi_sms:password_reset_confirm")


def api_story(mobile: str, purpose: str) -> list[tuple[int, dict]]:
    """Ask for a code, try six wrong ones, ask again: every answer, as (status, body)."""
    api = APIClient()
    story = [api.post(REQUEST, {"mobile": mobile, "purpose": purpose}, format="json")]
    body = {"mobile": mobile, "code": "000000", "purpose": purpose, "new_password": "Brand-new-passw0rd"}
    story += [api.post(VERIFY, body, format="json") for _ in range(6)]
    story.append(api.post(REQUEST, {"mobile": mobile, "purpose": purpose}, format="json"))
    return [(answer.status_code, _comparable(answer.json())) for answer in story]


def _comparable(body: dict) -> dict:
    # retry_after counts down with the clock; its presence is what must match.
    return {key: ("…" if key == "retry_after" else value) for key, value in body.items()}


@pytest.mark.parametrize("purpose", ["login", "password_reset"])
def test_the_whole_api_story_is_the_same_with_and_without_an_account(purpose):
    make_user()
    # The right code is never typed, so the account's story is all wrong tries too.
    with_account = api_story(MOBILE, purpose)
    without_account = api_story(OTHER_MOBILE, purpose)
    assert with_account == without_account
    assert [status for status, _ in with_account] == [200, 400, 400, 400, 400, 400, 400, 429]
    assert with_account[5][1]["code"] == "too_many_attempts"
    assert sms_count(MOBILE) == 1 and sms_count(OTHER_MOBILE) == 0


def test_the_pages_end_wrong_tries_alike_with_and_without_an_account(client):
    make_user()

    def page_story(mobile):
        client.post(LOGIN, {"mobile": mobile, "send_code": "1"})
        return [client.post(LOGIN, {"mobile": mobile, "code": "000000"}).context["form"].errors["code"]
                for _ in range(6)]

    assert page_story(MOBILE) == page_story(OTHER_MOBILE)


@pytest.mark.parametrize("status, reply", [(200, '{"code":4085,"msg":"超出限制","smsid":"0"}'), (500, "oops")])
def test_a_provider_refusal_or_outage_is_not_told_either(fake_provider, settings, status, reply):
    settings.HUYI_SMS = {
        "ACCOUNT": "sandbox",
        "API_KEY": "sandbox-api-key",
        "API_URL": fake_provider.url,
        "BACKEND": "django_huyi_sms.backends.ihuyi.IhuyiBackend",
        "OTP": {"UNIFORM_RESPONSE_SECONDS": 0},
    }
    fake_provider.status, fake_provider.reply = status, reply
    make_user()
    api = APIClient()
    known = api.post(REQUEST, {"mobile": MOBILE, "purpose": "password_reset"}, format="json")
    unknown = api.post(REQUEST, {"mobile": OTHER_MOBILE, "purpose": "password_reset"}, format="json")
    assert len(fake_provider.requests) == 1  # only the account's number reached the provider
    assert known.status_code == unknown.status_code == 200
    assert known.json() == unknown.json()
    # ... and the limits counted for both.
    again = [api.post(REQUEST, {"mobile": mobile, "purpose": "password_reset"}, format="json").json()["code"]
             for mobile in (MOBILE, OTHER_MOBILE)]
    assert again == ["resend_too_soon", "resend_too_soon"]
    assert OtpRecord.objects.filter(status="active").count() == 2
