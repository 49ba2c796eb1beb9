"""Fuzz every push URL and every API endpoint: no 5xx, and a body is stored whole or not at all.

Over ten thousand bodies: form fields, JSON, multipart and random bytes, built
from real pushes and requests and bent — fields dropped, repeated, replaced
by odd text (lone surrogates, NUL, escapes), nested deep — under random
content types and charsets. A refused body (any answer but 200) changes no row
of the app; an accepted one writes what a whole push or request writes.

Slow (``-m "not slow"`` leaves it out); derandomized, so every run, and CI,
tries the same bodies.
"""

from __future__ import annotations

import codecs

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

import django_huyi_sms
from django_huyi_sms import urls
from django_huyi_sms.api import OtpApiView
from django_huyi_sms.models import OtpThrottle, StatusReceipt
from django_huyi_sms.pushes.views import PushView

from .flow_helpers import MOBILE, make_user
from .fuzz_helpers import (
    CHARSETS,
    FUZZ,
    as_form,
    as_json,
    as_multipart,
    bent_pairs,
    changes,
    content_type,
    row_counts,
    writes_one_of,
)
from .push_helpers import TOKEN, receipt_fields

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

# Every endpoint that takes a body, found in urls.py: one added later is fuzzed too.
ENDPOINTS = [
    pattern.name
    for pattern in urls.urlpatterns
    if issubclass(getattr(pattern.callback, "view_class", object), (PushView, OtpApiView))
]
PUSHES = [name for name in ENDPOINTS if name.endswith("_push")]
API = [name for name in ENDPOINTS if name not in PUSHES]

GOOD = {
    "receipt_push": receipt_fields("1"),
    "reply_push": {"mobilephone": MOBILE, "content": "TD", "smsid": "1", "reply_time": "2026-11-25 10:00:00"},
    "template_push": {"code": "2", "msg": "ok", "templateid": "5"},
    "otp_request": {"mobile": MOBILE, "purpose": "login"},
    "otp_verify": {"mobile": MOBILE, "code": "123456", "purpose": "login"},
}
NAMES = sorted({name for fields in GOOD.values() for name in fields} | {"new_password", "x", ""})

# What Django does with each charset is its own business before any view runs (docs/security.md):
# a push URL carries the token in its query string, which Django decodes in the body's charset.
def _django_reads_a_query_string_in(charset: str | None) -> bool:
    """Whether Django can build a request with a query string and this charset at all."""
    if charset is None:
        return True
    try:
        codecs.lookup(charset)
    except LookupError:
        return True  # not a codec: Django ignores the charset
    try:
        f"token={TOKEN}".encode().decode(charset)
    except UnicodeDecodeError:
        return True  # Django falls back to ISO-8859-1
    except (LookupError, UnicodeError):
        return False  # rot13, undefined…: Django's own 500 (docs/security.md)
    return True


QUERY_CHARSETS = [charset for charset in CHARSETS if _django_reads_a_query_string_in(charset)]

Body = tuple[bytes, str, "list[tuple[str, object]] | None"]

RANDOM_MEDIA_TYPES = [
    "application/x-www-form-urlencoded", "application/json", "multipart/form-data; boundary=x", "multipart/form-data",
    "text/plain", "text/xml", "application/octet-stream", "", "*/*", "application/json;;", "application/x-json",
]


@st.composite
def bodies(draw, name: str) -> list[Body]:
    """Five bodies: one bent push or request as form fields, as JSON and as multipart; deep JSON; random bytes.

    Each is ``(body, content type, the pairs it carries if it is plain UTF-8 form or JSON)``.
    """
    pairs = draw(bent_pairs(GOOD[name], NAMES))
    charsets = st.sampled_from(QUERY_CHARSETS if name in PUSHES else CHARSETS)
    form_charset, json_charset = draw(charsets), draw(charsets)
    found = [
        (as_form(pairs), content_type("application/x-www-form-urlencoded", form_charset), form_charset),
        (as_json(pairs), content_type("application/json", json_charset), json_charset),
        (as_multipart(pairs), content_type("multipart/form-data; boundary=x", draw(charsets)), "-"),
    ]
    depth = draw(st.sampled_from([31, 32, 33, 1000, 3000, 50_000]))
    found.append((b'{"code": ' + b"[" * depth + b"]" * depth + b"}", "application/json", "-"))
    found.append((draw(st.binary(max_size=200)), content_type(draw(st.sampled_from(RANDOM_MEDIA_TYPES)), draw(charsets)), "-"))
    return [(body, content_type, pairs if charset in (None, "utf-8") else None) for body, content_type, charset in found]


# What a whole accepted push or request writes: model → the row counts it may add.
WHOLE = {
    "receipt_push": {"StatusReceipt": {1}},
    "reply_push": {"UpstreamReply": {0, 1}, "OptOut": {0, 1}},
    "template_push": {"SmsTemplate": {0, 1}},
    "otp_request": {"OtpRecord": {1}, "SmsLog": {0, 1}, "OtpThrottle": {0, 1}},
    # A sign-in gives an app its DRF token, the first time.
    "otp_verify": {"UserMobile": {0, 1}, "Token": {0, 1}},
}


def _post(client: Client, name: str, body: bytes, content_type: str):
    url = reverse(f"huyi_sms:{name}") + (f"?token={TOKEN}" if name in PUSHES else "")
    return client.generic("POST", url, data=body, content_type=content_type)


def check(client: Client, name: str, body: Body, before: dict[str, int]) -> dict[str, int]:
    """Post ``body``, check the answer and the writes against the row counts ``before``; return the counts after."""
    content, content_type, pairs = body
    if name in API and before["OtpThrottle"]:
        # Or the per-number limits would soon answer 429 to everything.
        OtpThrottle.objects.all().delete()
        before = row_counts()
    outbox = len(django_huyi_sms.outbox)
    response = _post(client, name, content, content_type)
    assert response.status_code < 500, (response.status_code, response.content[:300], content_type, content[:200])
    after = row_counts()
    changed = changes(before, after)
    if response.status_code != 200:
        assert changed == {}, (response.status_code, response.content[:200], changed)
        assert len(django_huyi_sms.outbox) == outbox
        return after
    assert writes_one_of(changed, WHOLE[name]), (name, changed)
    assert changed.get("SmsLog", 0) == len(django_huyi_sms.outbox) - outbox
    if name == "receipt_push" and pairs is not None:
        # Every field as sent: a name given twice would have been refused, not half-kept.
        raw = StatusReceipt.objects.latest("pk").raw
        assert raw == {key[:64]: str(value)[:1000] for key, value in pairs}, (raw, pairs)
    return after


@pytest.fixture
def client():
    return Client(raise_request_exception=False)


@pytest.fixture(autouse=True)
def _no_per_ip_limits(settings):
    # Not what this fuzzes, and they would soon answer 429 to everything.
    settings.HUYI_SMS = {**settings.HUYI_SMS, "RATELIMITS": {"REQUEST_CODE": None, "VERIFY_CODE": None}}


@pytest.fixture
def alice():
    """An account for the API's number, so a request can send a code and a sign-in can succeed."""
    return make_user()


def test_the_fuzz_covers_every_endpoint_that_takes_a_body():
    assert set(ENDPOINTS) == set(GOOD)


# Five bodies an example: 5 × 400 × 5 endpoints = 10,000 bodies.
@pytest.mark.parametrize("name", PUSHES)
@settings(FUZZ, max_examples=400)
@given(data=st.data())
def test_push_bodies(client, name, data):
    counts = row_counts()
    for body in data.draw(bodies(name)):
        counts = check(client, name, body, counts)


@pytest.mark.parametrize("name", API)
@settings(FUZZ, max_examples=400)
@given(data=st.data())
def test_api_bodies(client, alice, name, data):
    counts = row_counts()
    for body in data.draw(bodies(name)):
        counts = check(client, name, body, counts)
