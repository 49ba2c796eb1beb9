"""The JSON API for apps and mini-programs: ``api/otp/`` then ``api/otp/verify/``."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import override_settings
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from django_huyi_sms.models import OtpRecord, OtpThrottle, UserMobile

from .flow_helpers import MOBILE, OTHER_MOBILE, last_code, make_user, sms_count

pytestmark = pytest.mark.django_db

REQUEST = reverse("huyi_sms:otp_request")
VERIFY = reverse("huyi_sms:otp_verify")


@pytest.fixture
def api():
    return APIClient()


def test_request_then_sign_in_gives_a_session_and_a_token(api):
    alice = make_user()
    response = api.post(REQUEST, {"mobile": MOBILE, "purpose": "login"}, format="json")
    assert response.status_code == 200
    assert response.json()["resend_after"] == 60 and response.json()["expires_in"] == 300
    assert sms_count() == 1

    response = api.post(VERIFY, {"mobile": MOBILE, "code": last_code(), "purpose": "login"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["user"] == {"id": alice.pk, "username": "alice"}
    assert body["token"] == Token.objects.get(user=alice).key
    assert int(api.session[SESSION_KEY]) == alice.pk
    # The token works for DRF's token authentication.
    assert Token.objects.get(key=body["token"]).user == alice


def test_form_encoded_bodies_work_too(api):
    make_user()
    assert api.post(REQUEST, {"mobile": MOBILE}).status_code == 200  # purpose defaults to login
    assert api.post(VERIFY, {"mobile": MOBILE, "code": last_code()}).status_code == 200


def test_unknown_numbers_get_the_same_answer_and_no_sms(api):
    make_user()
    known = api.post(REQUEST, {"mobile": MOBILE, "purpose": "password_reset"}, format="json")
    unknown = api.post(REQUEST, {"mobile": OTHER_MOBILE, "purpose": "password_reset"}, format="json")
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    assert sms_count(OTHER_MOBILE) == 0
    # A code for an unknown number cannot sign in, and says nothing more than "not correct".
    response = api.post(VERIFY, {"mobile": OTHER_MOBILE, "code": "123456", "purpose": "login"}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid_code"


def test_limits_answer_429_with_retry_after(api):
    make_user()
    api.post(REQUEST, {"mobile": MOBILE}, format="json")
    response = api.post(REQUEST, {"mobile": MOBILE}, format="json")
    assert response.status_code == 429
    assert response.json()["code"] == "resend_too_soon"
    assert 0 < int(response["Retry-After"]) <= 60
    assert response.json()["retry_after"] == int(response["Retry-After"])


@override_settings(HUYI_SMS={"BACKEND": "django_huyi_sms.backends.locmem.LocmemBackend",
                             "OTP": {"UNIFORM_RESPONSE_SECONDS": 0, "DAILY_LIMIT": 2}})
def test_the_daily_limit_is_a_429_too(api):
    make_user()
    for _ in range(2):
        assert api.post(REQUEST, {"mobile": MOBILE}, format="json").status_code == 200
        OtpThrottle.objects.update(last_sent_at=None)
    response = api.post(REQUEST, {"mobile": MOBILE}, format="json")
    assert response.status_code == 429 and response.json()["code"] == "daily_limit"
    assert int(response["Retry-After"]) > 0
    assert sms_count() == 2


def test_wrong_expired_and_dead_codes_have_their_own_machine_codes(api):
    make_user()
    api.post(REQUEST, {"mobile": MOBILE}, format="json")
    right = last_code()
    wrong = "000000" if right != "000000" else "111111"
    codes = [api.post(VERIFY, {"mobile": MOBILE, "code": wrong}, format="json").json()["code"] for _ in range(5)]
    assert codes == ["invalid_code"] * 4 + ["too_many_attempts"]
    assert api.post(VERIFY, {"mobile": MOBILE, "code": right}, format="json").json()["code"] == "too_many_attempts"

    OtpThrottle.objects.update(last_sent_at=None)
    api.post(REQUEST, {"mobile": MOBILE}, format="json")
    from django.utils import timezone

    OtpRecord.objects.filter(status="active").update(expires_at=timezone.now())
    response = api.post(VERIFY, {"mobile": MOBILE, "code": last_code()}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "code_expired"


def test_reset_a_password_through_the_api(api):
    alice = make_user()
    api.post(REQUEST, {"mobile": MOBILE, "purpose": "password_reset"}, format="json")
    missing = api.post(VERIFY, {"mobile": MOBILE, "code": last_code(), "purpose": "password_reset"}, format="json")
    assert missing.status_code == 400 and "new_password" in missing.json()["fields"]
    response = api.post(
        VERIFY,
        {"mobile": MOBILE, "code": last_code(), "purpose": "password_reset", "new_password": "Brand-new-passw0rd"},
        format="json",
    )
    assert response.status_code == 200
    alice.refresh_from_db()
    assert alice.check_password("Brand-new-passw0rd")
    assert SESSION_KEY not in api.session  # a reset does not sign in


def test_verify_phone_needs_a_signed_in_user(api):
    assert api.post(REQUEST, {"mobile": MOBILE, "purpose": "verify_phone"}, format="json").status_code == 401
    response = api.post(VERIFY, {"mobile": MOBILE, "code": "123456", "purpose": "verify_phone"}, format="json")
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"
    assert sms_count() == 0

    bob = make_user("bob", mobile=None)
    api.force_authenticate(bob)
    assert api.post(REQUEST, {"mobile": OTHER_MOBILE, "purpose": "verify_phone"}, format="json").status_code == 200
    response = api.post(
        VERIFY, {"mobile": OTHER_MOBILE, "code": last_code(OTHER_MOBILE), "purpose": "verify_phone"}, format="json"
    )
    assert response.status_code == 200 and response.json()["mobile"] == OTHER_MOBILE
    assert UserMobile.objects.get(user=bob).mobile == OTHER_MOBILE


@pytest.mark.parametrize(
    "body, expected",
    [
        ({}, "invalid"),
        ({"mobile": ""}, "invalid"),
        ({"mobile": "12345"}, "invalid_mobile"),
        ({"mobile": MOBILE, "purpose": "steal"}, "invalid"),
        ({"mobile": ["1", "2"]}, "invalid"),
        ({"mobile": {"a": 1}}, "invalid"),
        ({"mobile": "1" * 100}, "invalid"),
    ],
)
def test_bad_request_bodies_are_400_with_a_machine_code(api, body, expected):
    response = api.post(REQUEST, body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == expected
    assert sms_count() == 0 and not OtpRecord.objects.exists()


def test_garbage_that_is_not_json_is_400_not_500(api):
    response = api.post(REQUEST, b"{not json", content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "parse_error"
    response = api.post(REQUEST, b"\xff\xfe", content_type="text/plain")
    assert response.status_code == 415 and response.json()["code"] == "unsupported_media_type"
    assert api.get(REQUEST).status_code == 405


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.dictionaries(
        st.sampled_from(["mobile", "code", "purpose", "new_password", "x"]),
        st.one_of(st.text(max_size=40), st.integers(), st.none(), st.lists(st.text(max_size=5), max_size=3)),
        max_size=5,
    ),
    endpoint=st.sampled_from([REQUEST, VERIFY]),
)
def test_no_body_makes_either_endpoint_answer_500(body, endpoint):
    response = APIClient().post(endpoint, json.dumps(body), content_type="application/json")
    assert response.status_code in (200, 400, 401, 429, 503), response.content
    assert "code" in response.json() or response.status_code == 200


def test_a_cross_site_form_cannot_sign_a_browser_in_without_the_csrf_token():
    make_user()
    csrf_client = APIClient(enforce_csrf_checks=True)
    csrf_client.post(REQUEST, {"mobile": MOBILE})  # asking for a code needs no session
    response = csrf_client.post(VERIFY, {"mobile": MOBILE, "code": last_code()})
    # No CSRF token: no session (an app gets its token instead).
    assert response.status_code == 200
    assert response.json()["session"] is False and response.json()["token"]
    assert SESSION_KEY not in csrf_client.session


def test_without_token_auth_a_sign_in_without_csrf_is_refused_before_the_code_is_used(monkeypatch):
    from django_huyi_sms import flows

    monkeypatch.setattr(flows, "token_auth_installed", lambda: False)
    make_user()
    csrf_client = APIClient(enforce_csrf_checks=True)
    csrf_client.post(REQUEST, {"mobile": MOBILE})
    response = csrf_client.post(VERIFY, {"mobile": MOBILE, "code": last_code()})
    assert response.status_code == 403 and response.json()["code"] == "csrf_failed"
    record = OtpRecord.objects.get()
    assert record.status == OtpRecord.Status.ACTIVE and record.attempts == 0


def test_with_the_csrf_token_a_browser_gets_a_session(client):
    alice = make_user()
    client_with_csrf = type(client)(enforce_csrf_checks=True)
    token = client_with_csrf.get(reverse("huyi_sms:login")).context["csrf_token"]
    headers = {"X-CSRFToken": str(token)}
    client_with_csrf.post(REQUEST, {"mobile": MOBILE}, headers=headers)
    response = client_with_csrf.post(VERIFY, {"mobile": MOBILE, "code": last_code()}, headers=headers)
    assert response.status_code == 200 and response.json()["session"] is True
    assert int(client_with_csrf.session[SESSION_KEY]) == alice.pk


def test_codes_and_passwords_are_hidden_from_error_reports(monkeypatch):
    from django.core.signals import got_request_exception

    from django_huyi_sms import flows

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(flows, "reset_password", boom)
    seen = []
    receiver = lambda sender, request, **kwargs: seen.append(request)  # noqa: E731
    got_request_exception.connect(receiver)
    try:
        api = APIClient(raise_request_exception=False)
        body = {"mobile": MOBILE, "code": "123456", "purpose": "password_reset", "new_password": "Brand-new-passw0rd"}
        assert api.post(VERIFY, body).status_code == 500
    finally:
        got_request_exception.disconnect(receiver)
    from django.views.debug import SafeExceptionReporterFilter

    post = SafeExceptionReporterFilter().get_post_parameters(seen[0])
    assert post["code"] != "123456" and post["new_password"] != "Brand-new-passw0rd"
    assert post["mobile"] != MOBILE  # the number a code goes to is hidden too (the admin masks it)
    assert post["purpose"] == "password_reset"  # what is not private stays readable
