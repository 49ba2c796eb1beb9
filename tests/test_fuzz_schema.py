"""Schemathesis over the JSON API's OpenAPI schema: every answer is one the schema describes, no 5xx, no half write.

The cases come from the schema itself (``openapi.app_schema``): bodies that fit it
(positive) and bodies that do not (negative), in each media type it names, posted to
the app in-process through WSGI. Each answer must pass schemathesis' checks — no
server error, a status, a content type and a body the schema lists for the
operation — so the schema stays the contract: when an answer is not described, the
schema (``openapi.py``) is what gets fixed. And the rows each answer leaves must be
what it says: a refusal (4xx) writes nothing (a wrong try is counted on the code's
row, which adds none), a success what a whole request or check writes, and a send
that failed (503) its own failed SMS row and the code's record, as ``otp.py`` keeps
them.

Part of each batch is steered to where the schema cannot lead: the number of a real
account, the code it was last sent, a signed-in session, a provider that cannot be
reached. The quick form runs in the normal suite; the long one (10,000 cases) is
marked slow. Both are derandomized.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client, override_settings
from django.test.client import ClientHandler
from hypothesis import given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import django_huyi_sms
from django_huyi_sms import otp, purposes
from django_huyi_sms.exceptions import HuyiError

from .flow_helpers import MOBILE, last_code, make_user
from .fuzz_helpers import FUZZ, at_length, changes, row_counts, writes_one_of
from .test_openapi import app_schema

pytestmark = pytest.mark.django_db

CONFORMANCE = [status_code_conformance, content_type_conformance, response_schema_conformance]
CHECKS = [not_a_server_error, *CONFORMANCE]
REQUEST, VERIFY = "/sms/api/otp/", "/sms/api/otp/verify/"
# A provider nobody answers at (the port is discard's, closed here): the send fails at once.
UNREACHABLE = {
    "BACKEND": "django_huyi_sms.backends.ihuyi.IhuyiBackend",
    "API_URL": "http://127.0.0.1:9/sms.php",
    "CONNECT_RETRIES": 0,
}

# What each answer may leave in the database (model → rows added); anything else is a half write.
NOTHING: dict[str, set[int]] = {}
CODE_ISSUED = {"OtpRecord": {1}, "SmsLog": {0, 1}, "OtpThrottle": {0, 1}}
# A send that failed: its row is kept, failed, and the code's record with it; the limits gave it back.
SEND_FAILED = {"OtpRecord": {1}, "SmsLog": {1}, "OtpThrottle": {0, 1}}
# The code used (an UPDATE); a sign-in gives an app its DRF token, the first time; a phone verified, its link.
CODE_USED = {"Token": {0, 1}, "UserMobile": {0, 1}}
WRITES = {
    (REQUEST, 200): [CODE_ISSUED],
    (REQUEST, 503): [SEND_FAILED],
    (VERIFY, 200): [CODE_USED],
}

_HANDLER = ClientHandler(enforce_csrf_checks=True)


def site(environ: dict[str, Any], start_response: Any) -> Any:
    """The test site as a WSGI application, as the test client runs it (one database connection, kept)."""
    response = _HANDLER(environ)
    headers = [*response.items(), *(("Set-Cookie", morsel.OutputString()) for morsel in response.cookies.values())]
    start_response(f"{response.status_code} {response.reason_phrase}", headers)
    return response


def load_schema() -> Any:
    schema = schemathesis.openapi.from_dict(app_schema())
    schema.app = site
    return schema


SCHEMA = load_schema()
OPERATIONS = [REQUEST, VERIFY]


def test_the_fuzz_covers_every_operation_of_the_schema():
    assert sorted(result.ok().path for result in SCHEMA.get_all_operations()) == OPERATIONS


# Where a case is steered: as drawn (first, so hypothesis leans to it), or with a real number, its last code,
# a session (with Django's CSRF token, or without), a provider that cannot be reached.
steering = st.fixed_dictionaries(
    {
        "mobile": st.booleans(),
        "code": st.booleans(),
        "session": st.sampled_from(["none", "signed in", "no csrf token"]),
        "unreachable": st.integers(0, 7).map(lambda n: n == 7),
    }
)


def steer(case: Any, how: dict[str, bool]) -> None:
    body = case.body
    if not isinstance(body, dict):
        return
    if how["mobile"]:
        body["mobile"] = MOBILE
        purpose = body.get("purpose", "login")
        if how["code"] and "code" in body and purpose in purposes.ALL:
            # A code of the case's purpose, asked for before the case (its writes are not the case's).
            try:
                otp.request_code(MOBILE, purpose=purpose)
            except HuyiError:
                pass  # too soon: the last one is still good
            body["code"] = last_code(MOBILE)


@pytest.fixture
def alice(settings):
    # The per-IP limits would soon answer 429 to everything: the per-number ones are what this fuzzes.
    settings.HUYI_SMS = {**settings.HUYI_SMS, "RATELIMITS": {"REQUEST_CODE": None, "VERIFY_CODE": None}}
    return make_user()


@dataclass(frozen=True)
class Session:
    """A browser signed in as the account: its cookies, and the CSRF header a page of the site would send."""

    cookies: dict[str, str]
    headers: dict[str, str]

    @classmethod
    def signed_in(cls, user: Any) -> Session:
        client = Client()
        client.force_login(user)
        token = _get_new_csrf_string()
        cookies = {
            django_settings.SESSION_COOKIE_NAME: client.cookies[django_settings.SESSION_COOKIE_NAME].value,
            django_settings.CSRF_COOKIE_NAME: token,
        }
        return cls(cookies, {"X-CSRFToken": token})

    def sent(self, how: str) -> dict[str, Any]:
        if how == "signed in":
            return {"cookies": self.cookies, "headers": self.headers}
        if how == "no csrf token":
            return {"cookies": self.cookies}
        return {}


def run_case(case: Any, how: dict[str, Any], session: Session) -> None:
    """One case: call it, check the answer against the schema, and the rows against the answer."""
    steer(case, how)
    before = row_counts()
    outbox = len(django_huyi_sms.outbox)
    if how["unreachable"]:
        with override_settings(HUYI_SMS={**django_settings.HUYI_SMS, **UNREACHABLE}):
            response = case.call(**session.sent(how["session"]))
    else:
        response = case.call(**session.sent(how["session"]))
    if how["unreachable"]:
        # The one 5xx the API gives, and describes: the SMS could not be sent. Nothing else.
        assert response.status_code < 500 or (response.status_code, response.json()["code"]) == (503, "sms_unavailable")
        case.validate_response(response, checks=CONFORMANCE)
    else:
        case.validate_response(response, checks=CHECKS)
    changed = changes(before, row_counts())
    allowed = WRITES.get((case.operation.path, response.status_code), [NOTHING])
    assert writes_one_of(changed, *allowed), (case.operation.path, response.status_code, response.text[:200], changed)
    assert changed.get("SmsLog", 0) >= len(django_huyi_sms.outbox) - outbox


def fuzz(path: str, mode: GenerationMode, examples: int, alice: Any) -> None:
    from django_huyi_sms.models import OtpThrottle

    operation = SCHEMA[path]["POST"]
    session = Session.signed_in(alice)

    # Five cases an example: hypothesis' own work is per example, and a batch lets one case follow another
    # (a code asked for, then checked; asked for again too soon).
    @settings(FUZZ, max_examples=examples)
    @given(batch=st.lists(st.tuples(operation.as_strategy(generation_mode=mode), steering), min_size=5, max_size=5))
    def cases(batch: list[tuple[Any, dict[str, Any]]]) -> None:
        # Each batch starts with no per-number limit counted, or they would soon answer 429 to everything.
        OtpThrottle.objects.all().delete()
        for case, how in batch:
            run_case(case, how, session)

    cases()


@pytest.mark.parametrize("mode", list(GenerationMode))
@pytest.mark.parametrize("path", OPERATIONS)
def test_schema_cases(path, mode, alice):
    # 2 operations × 2 modes × 15 examples × 5 cases = 300 cases.
    fuzz(path, mode, 15, alice)


@pytest.mark.slow
@pytest.mark.parametrize("mode", list(GenerationMode))
@pytest.mark.parametrize("path", OPERATIONS)
def test_schema_cases_at_length(path, mode, alice):
    # 2 operations × 2 modes × 500 examples × 5 cases = 10,000 cases (a quarter in CI: at_length).
    fuzz(path, mode, at_length(500), alice)
