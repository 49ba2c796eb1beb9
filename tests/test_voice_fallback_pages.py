"""The voice fallback on the code pages and in the JSON API: "receive a voice call instead" once the
SMS code has had OTP["VOICE_FALLBACK_AFTER"] seconds, the same for numbers with and without an account."""

from __future__ import annotations

import re

import pytest
from django.test import override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from django_huyi_sms import otp
from django_huyi_sms.models import OtpRecord, SmsLog

from .flow_helpers import MOBILE, OTHER_MOBILE, make_user
from .test_error_reports import fixed_code, reports  # noqa: F401  (fixtures)
from .test_otp_voice import calls, huyi, rewind, texts, undelivered, voice_offered  # noqa: F401  (an autouse fixture)

pytestmark = pytest.mark.django_db

REQUEST = reverse("huyi_sms:otp_request")
VERIFY = reverse("huyi_sms:otp_verify")
LOGIN = reverse("huyi_sms:login")
RESET = reverse("huyi_sms:password_reset")
CONFIRM = reverse("huyi_sms:password_reset_confirm")
VERIFY_PHONE = reverse("huyi_sms:verify_phone")


# -- the pages -----------------------------------------------------------------------------------------

OFFER = re.compile(r'<div class="huyi-voice" role="status"( hidden data-huyi-reveal-in="(\d+)")?>')


def offer(page) -> str | None:
    """``"now"``, the seconds before the offer shows, or ``None`` when the page makes none."""
    found = OFFER.search(page.content.decode())
    if found is None:
        return None
    return found.group(2) or "now"


def test_the_sign_in_page_offers_a_call_once_the_sms_had_its_time(client):
    make_user()
    sent = client.post(LOGIN, {"mobile": MOBILE, "send_code": "1"})
    assert offer(sent) == "60"  # with JavaScript, shown in 60 s
    html = sent.content.decode()
    assert "<noscript>" in html and "No SMS within 60 seconds?" in html  # without it, shown with the time
    early = client.post(LOGIN, {"mobile": MOBILE, "send_voice_code": "1"})
    assert "Give the SMS a little longer to arrive" in early.content.decode() and calls() == []
    rewind(60)
    wrong = client.post(LOGIN, {"mobile": MOBILE, "code": "000000"})  # the page shown again: offered now
    assert offer(wrong) == "now" and 'name="send_voice_code"' in wrong.content.decode()
    called = client.post(LOGIN, {"mobile": MOBILE, "send_voice_code": "1"})
    assert "If this number can receive one, a call will speak the code." in called.content.decode()
    assert offer(called) is None  # a call is the last resort: no offer after it
    [call] = calls()
    signed_in = client.post(LOGIN, {"mobile": MOBILE, "code": call.content})
    assert signed_in.status_code == 302


def test_the_reset_confirmation_page_offers_it_from_its_first_view(client):
    make_user()
    client.post(RESET, {"mobile": MOBILE})
    assert offer(client.get(CONFIRM)) == "60"
    rewind(60)
    assert offer(client.get(CONFIRM)) == "now"
    client.post(CONFIRM, {"send_voice_code": "1"})
    assert len(calls()) == 1


def test_phone_verification_offers_it_at_once_when_the_sms_was_not_delivered(client):
    user = make_user(mobile=None)
    client.force_login(user)
    client.post(VERIFY_PHONE, {"mobile": MOBILE, "send_code": "1"})
    undelivered(client, SmsLog.objects.get())
    page = client.post(VERIFY_PHONE, {"mobile": MOBILE, "code": "000000"})
    assert offer(page) == "now"
    called = client.post(VERIFY_PHONE, {"mobile": MOBILE, "send_voice_code": "1"})
    assert "A call will speak the code to you." in called.content.decode()
    assert client.post(VERIFY_PHONE, {"mobile": MOBILE, "code": calls()[0].content}).status_code == 302


def test_without_the_setting_the_pages_offer_no_call_and_refuse_one(client):
    with override_settings(HUYI_SMS=huyi(VOICE_FALLBACK_AFTER=None)):
        make_user()
        sent = client.post(LOGIN, {"mobile": MOBILE, "send_code": "1"})
        assert offer(sent) is None and "Receive a voice call instead" not in sent.content.decode()
        rewind(600)
        refused = client.post(LOGIN, {"mobile": MOBILE, "send_voice_code": "1"})
        assert "Codes are not sent by voice call here." in refused.content.decode()
    assert calls() == [] and len(texts()) == 1


# -- the JSON API --------------------------------------------------------------------------------------


def test_the_api_says_when_to_offer_a_call_and_takes_channel_voice():
    make_user()
    api = APIClient()
    sent = api.post(REQUEST, {"mobile": MOBILE, "purpose": "login"}, format="json")
    assert sent.status_code == 200
    assert (sent.json()["channel"], sent.json()["voice_after"]) == ("sms", 60)
    early = api.post(REQUEST, {"mobile": MOBILE, "purpose": "login", "channel": "voice"}, format="json")
    assert early.status_code == 429 and early.json()["code"] == "voice_too_soon"
    assert early["Retry-After"] == str(early.json()["retry_after"]) == "60"
    rewind(60)
    called = api.post(REQUEST, {"mobile": MOBILE, "purpose": "login", "channel": "voice"}, format="json")
    assert called.status_code == 200
    assert (called.json()["channel"], called.json()["voice_after"]) == ("voice", None)
    code = calls()[0].content
    # A code is checked the same way whichever way it came; a channel on the check is not a field.
    signed_in = api.post(VERIFY, {"mobile": MOBILE, "code": code, "purpose": "login", "channel": "sms"}, format="json")
    assert signed_in.status_code == 200


@pytest.mark.parametrize(
    ("channel", "setting", "status", "code"),
    [("fax", 60, 400, "invalid"), ("voice", None, 400, "voice_not_offered")],
)
def test_the_api_refuses_a_channel_it_does_not_offer(channel, setting, status, code):
    with override_settings(HUYI_SMS=huyi(VOICE_FALLBACK_AFTER=setting)):
        answer = APIClient().post(REQUEST, {"mobile": MOBILE, "channel": channel}, format="json")
    assert (answer.status_code, answer.json()["code"]) == (status, code)
    assert not OtpRecord.objects.exists()


# -- not telling who has an account --------------------------------------------------------------------


@pytest.mark.parametrize("purpose", ["login", "password_reset"])
def test_the_voice_story_is_the_same_with_and_without_an_account_even_when_the_sms_is_undelivered(client, purpose):
    make_user()
    api = APIClient()

    def story(mobile):
        answers = [api.post(REQUEST, {"mobile": mobile, "purpose": purpose}, format="json")]
        answers.append(api.post(REQUEST, {"mobile": mobile, "purpose": purpose, "channel": "voice"}, format="json"))
        return answers

    with_account, without_account = story(MOBILE), story(OTHER_MOBILE)
    # The account's SMS comes back undelivered; the other number had none. Neither may be hastened.
    undelivered(client, SmsLog.objects.get(mobile=MOBILE))
    with_account.append(api.post(REQUEST, {"mobile": MOBILE, "purpose": purpose, "channel": "voice"}, format="json"))
    without_account.append(
        api.post(REQUEST, {"mobile": OTHER_MOBILE, "purpose": purpose, "channel": "voice"}, format="json")
    )
    assert otp.voice_fallback_in(MOBILE, purpose, receipts=False) == otp.voice_fallback_in(
        OTHER_MOBILE, purpose, receipts=False
    )
    rewind(60)
    for mobile, answers in ((MOBILE, with_account), (OTHER_MOBILE, without_account)):
        answers.append(api.post(REQUEST, {"mobile": mobile, "purpose": purpose, "channel": "voice"}, format="json"))
        answers.append(api.post(REQUEST, {"mobile": mobile, "purpose": purpose, "channel": "voice"}, format="json"))

    def comparable(answer):
        return answer.status_code, {k: ("…" if k == "retry_after" else v) for k, v in answer.json().items()}

    assert [comparable(a) for a in with_account] == [comparable(a) for a in without_account]
    assert [a.status_code for a in with_account] == [200, 429, 429, 200, 429]
    assert [a.json().get("code") for a in with_account[1:3]] == ["voice_too_soon", "voice_too_soon"]
    assert len(calls(MOBILE)) == 1 and calls(OTHER_MOBILE) == []  # only the account was called


def test_the_sign_in_page_offers_the_call_alike_with_and_without_an_account(client):
    make_user()
    for mobile in (MOBILE, OTHER_MOBILE):
        client.post(LOGIN, {"mobile": mobile, "send_code": "1"})
    undelivered(client, SmsLog.objects.get(mobile=MOBILE))
    pages = [client.post(LOGIN, {"mobile": mobile, "code": "000000"}) for mobile in (MOBILE, OTHER_MOBILE)]
    assert offer(pages[0]) == offer(pages[1]) == "60"


@pytest.mark.usefixtures("fixed_code")
def test_a_bug_while_a_call_is_asked_for_from_a_page_leaves_no_code_or_number_in_the_report(request):
    from django.test import Client

    from .test_error_reports import assert_clean

    mailed = request.getfixturevalue("reports")  # a backend with a bug, and the reports it causes
    make_user()
    response = Client(raise_request_exception=False).post(LOGIN, {"mobile": MOBILE, "send_voice_code": "1"})
    assert response.status_code == 500
    [report] = mailed
    assert_clean(report)
    assert SmsLog.objects.get().product == "voice"
