"""Odd bodies on the push URLs and the JSON API: a 400 with a short reason, never a 500.

Each case here was a 500 once (docs/security.md): JSON nested thousands deep,
a charset whose codec fails with ``UnicodeError`` (``idna``, ``punycode``) or is
no text encoding at all, and a lone surrogate (``"\\ud800"``) that came back in
an error message, in a body, a form value or a query string. A name given twice
is refused too, in JSON as in a form, so no value is silently dropped.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from django.test import Client

import django_huyi_sms
from django_huyi_sms.models import StatusReceipt

from .flow_helpers import MOBILE, make_user
from .fuzz_helpers import row_counts
from .push_helpers import TOKEN, receipt_fields

pytestmark = pytest.mark.django_db

PUSH_URLS = [f"/sms/push/{kind}/?token={TOKEN}" for kind in ("receipt", "reply", "template")]
API_URLS = ["/sms/api/otp/", "/sms/api/otp/verify/"]
ALL_URLS = PUSH_URLS + API_URLS

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def client():
    # A 500 must show as a 500 here, not as the exception the test client would re-raise.
    return Client(raise_request_exception=False)


def post(client, url: str, body: bytes, content_type: str):
    return client.generic("POST", url, data=body, content_type=content_type)


def assert_refused(response, *reasons: str) -> None:
    """A 400 whose short reason names one of ``reasons``: ``invalid: …`` for a push, JSON for the API."""
    assert response.status_code == 400, response.content[:300]
    assert len(response.content) < 300
    if response["Content-Type"].startswith("application/json"):
        body = response.json()
        assert body["code"] == "parse_error", body
        text = body["detail"]
    else:
        text = response.content.decode()
        assert text.startswith("invalid: "), text
    assert any(reason.lower() in text.lower() for reason in reasons), text


def multipart(fields: dict[str, str], charset: str) -> tuple[bytes, str]:
    parts = b"".join(
        b'--x\r\nContent-Disposition: form-data; name="' + name.encode() + b'"\r\n\r\n' + value.encode() + b"\r\n"
        for name, value in fields.items()
    )
    return parts + b"--x--\r\n", f"multipart/form-data; boundary=x; charset={charset}"


# -- JSON nested deeper than any push or request needs ------------------------------------------


@pytest.mark.parametrize("url", ALL_URLS)
@pytest.mark.parametrize("depth", [40, 3000])
@pytest.mark.parametrize("where", ["the body", "a value"])
def test_deeply_nested_json_is_400(client, url, depth, where):
    nested = "[" * depth + "]" * depth
    body = nested if where == "the body" else f'{{"mobile": {nested}, "code": "2"}}'
    before = row_counts()
    assert_refused(post(client, url, body.encode(), "application/json"), "nested more than")
    assert row_counts() == before


@pytest.mark.parametrize("url", API_URLS)
def test_json_nested_past_the_interpreters_own_limit_is_400(client, url):
    # Deeper than any Python's recursion limit: the JSON parser itself gives up (RecursionError).
    depth = 100_000
    assert_refused(post(client, url, b"[" * depth + b"]" * depth, "application/json"), "nested more than")


# -- charsets ----------------------------------------------------------------------------------


# Codecs that fail with a bare UnicodeError, not UnicodeDecodeError, or cannot decode with errors="replace".
ODD_FORMS = [("idna", b"code=%32&mobile=13800138000"), ("idna", b"xn--zz=1"), ("punycode", b"code=2"), ("undefined", b"code=2")]
ODD_JSON = [
    ("idna", '{"code": "2", "msg": "送达"}'.encode()),
    ("punycode", b'{"code": "2", "mobile": "13800138000"}'),
    ("undefined", b'{"code": "2", "mobile": "13800138000"}'),
]


@pytest.mark.parametrize("url", API_URLS)
@pytest.mark.parametrize(
    "content_type, charset, body",
    [(FORM, charset, body) for charset, body in ODD_FORMS] + [("application/json", charset, body) for charset, body in ODD_JSON],
)
def test_api_bodies_in_charsets_that_fail_oddly_are_400(client, url, content_type, charset, body):
    before = row_counts()
    assert_refused(post(client, url, body, f"{content_type}; charset={charset}"), charset)
    assert row_counts() == before


@pytest.mark.parametrize("url", PUSH_URLS)
@pytest.mark.parametrize("content_type, body", [(FORM, body) for _, body in ODD_FORMS[:2]] + [("application/json", ODD_JSON[0][1])])
def test_push_bodies_in_idna_are_400(client, url, content_type, body):
    before = row_counts()
    assert_refused(post(client, url, body, f"{content_type}; charset=idna"), "idna")
    assert row_counts() == before


@pytest.mark.parametrize("url", PUSH_URLS)
@pytest.mark.parametrize("content_type", [FORM, "application/json"])
def test_a_push_in_punycode_cannot_even_show_its_token(client, url, content_type):
    # Django decodes the query string in the body's charset: punycode makes the token garbage.
    # (With charset=undefined, or rot13 and the like, Django fails before any view: docs/security.md.)
    response = post(client, url, b'{"code": "2"}', f"{content_type}; charset=punycode")
    assert response.status_code == 403 and response.content == b"missing or wrong token"
    assert not StatusReceipt.objects.exists()


@pytest.mark.parametrize("url", API_URLS)
@pytest.mark.parametrize("charset", ["rot13", "base64", "hex", "uu", "zlib", "bz2", "undefined"])
@pytest.mark.parametrize("shape", ["json", "form", "multipart"])
def test_charsets_that_are_no_text_encoding_are_400(client, url, charset, shape):
    # Without a query string, which Django itself cannot decode in these (docs/security.md).
    fields = {"mobile": MOBILE, "purpose": "login"}
    if shape == "json":
        body, content_type = json.dumps(fields).encode(), f"application/json; charset={charset}"
    elif shape == "form":
        body, content_type = b"mobile=13800138000&purpose=login", f"{FORM}; charset={charset}"
    else:
        body, content_type = multipart(fields, charset)
    assert_refused(post(client, url, body, content_type), charset)
    assert django_huyi_sms.outbox == []


@pytest.mark.parametrize("url", API_URLS)
@pytest.mark.parametrize("charset", ["idna", "punycode"])
@pytest.mark.parametrize("code", ["123456", "送达"])  # punycode reads its input as strict ASCII, whatever the errors
def test_multipart_bodies_in_idna_or_punycode_are_400(client, url, charset, code):
    body, content_type = multipart({"mobile": MOBILE, "code": code}, charset)
    response = post(client, url, body, content_type)
    assert response.status_code == 400, response.content[:300]
    assert django_huyi_sms.outbox == []


# -- lone surrogates: no character, cannot be encoded as UTF-8, stored or echoed --------------


@pytest.mark.parametrize("url", ALL_URLS)
@pytest.mark.parametrize(
    "body",
    [
        b'{"mobile": "13800138000", "purpose": "\\ud800"}',  # the API's "not a valid choice" echoed it
        b'{"mobile": "\\udfff", "code": "2"}',
        b'{"\\ud800": [1]}',  # a push's "must be a single value" echoed the name
        b'{"code": "2", "x": ["\\ud83d"]}',
    ],
)
def test_a_lone_surrogate_in_json_is_400(client, url, body):
    before = row_counts()
    assert_refused(post(client, url, body, "application/json"), "surrogate")
    assert row_counts() == before


@pytest.mark.parametrize("url", ALL_URLS)
@pytest.mark.parametrize("shape", ["form", "multipart"])
def test_a_lone_surrogate_in_a_form_value_is_400(client, url, shape):
    # charset=unicode_escape turns the six characters \ud800 into a lone surrogate.
    fields = {"mobile": MOBILE, "purpose": "\\ud800", "code": "2"}
    if shape == "form":
        body, content_type = b"mobile=13800138000&purpose=\\ud800&code=2", f"{FORM}; charset=unicode_escape"
    else:
        body, content_type = multipart(fields, "unicode_escape")
    if shape == "multipart" and url in PUSH_URLS:
        # The pushes take no multipart at all.
        assert post(client, url, body, content_type).status_code == 415
        return
    before = row_counts()
    assert_refused(post(client, url, body, content_type), "surrogate")
    assert row_counts() == before


def test_a_lone_surrogate_in_the_push_token_is_403(client):
    response = post(client, "/sms/push/receipt/?token=%5Cud800", b"code=2", f"{FORM}; charset=unicode_escape")
    assert response.status_code == 403
    assert response.content == b"missing or wrong token"


def test_a_lone_surrogate_in_the_product_is_400(client):
    url = f"/sms/push/template/?token={TOKEN}&product=%5Cud800"
    response = post(client, url, b"code=2&templateid=5", f"{FORM}; charset=unicode_escape")
    assert response.status_code == 400 and response.content == b"invalid: unknown product"


# -- a name given twice ------------------------------------------------------------------------


def test_a_json_push_with_a_repeated_key_is_refused_and_nothing_is_stored(client):
    fields = receipt_fields("1")
    body = json.dumps(fields)[:-1] + ', "code": "0"}'  # "code" twice: "2", then "0"
    assert_refused(post(client, PUSH_URLS[0], body.encode(), "application/json"), "code is given 2 times")
    assert not StatusReceipt.objects.exists()


def test_a_json_push_sent_once_per_key_keeps_every_field(client):
    fields = receipt_fields("1")
    response = post(client, PUSH_URLS[0], json.dumps(fields).encode(), "application/json")
    assert response.content == b"success"
    assert StatusReceipt.objects.get().raw == fields


@pytest.mark.parametrize("url", API_URLS)
def test_an_api_body_with_a_repeated_key_is_refused_before_anything_is_sent(client, url):
    make_user()
    body = f'{{"mobile": "19900000000", "mobile": "{MOBILE}", "code": "123456"}}'
    before = row_counts()
    assert_refused(post(client, url, body.encode(), "application/json"), "mobile is given 2 times")
    assert row_counts() == before
    assert django_huyi_sms.outbox == []


@pytest.mark.parametrize("url", API_URLS)
def test_an_api_form_with_a_repeated_field_is_refused_too(client, url):
    make_user()
    body = f"mobile=19900000000&mobile={MOBILE}&code=123456".encode()
    assert_refused(post(client, url, body, FORM), "mobile is given 2 times")
    assert django_huyi_sms.outbox == []


@pytest.mark.parametrize("url", ALL_URLS)
def test_a_repeated_key_deep_inside_is_refused_too(client, url):
    assert_refused(post(client, url, b'{"x": {"a": 1, "a": 2}}', "application/json"), "a is given 2 times")


def test_a_repeated_key_is_named_without_its_odd_characters(client):
    response = post(client, API_URLS[0], b'{"\\ud800": 1, "\\ud800": 2}', "application/json")
    assert_refused(response, "surrogate", "given 2 times")
    response.json()  # and the answer itself is valid UTF-8 JSON


@pytest.mark.parametrize("url", ALL_URLS)
def test_a_percent_escape_that_is_not_utf8_is_400_even_in_a_field_nobody_reads(client, url):
    # Django's form parsing makes U+FFFD of %ED%A0%80 (a surrogate's bytes, no UTF-8): a push's
    # raw copy would have kept that instead of what was sent.
    fields = {**receipt_fields("1"), "mobile": MOBILE}
    body = (urlencode(fields) + "&extra=%ED%A0%80").encode()
    before = row_counts()
    assert_refused(post(client, url, body, FORM), "not valid UTF-8")
    assert row_counts() == before
