"""Garbage pushes: a short 4xx, nothing written, never a 500 (examples, then hypothesis)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_huyi_sms.models import OptOut, SmsTemplate, StatusReceipt, UpstreamReply

from .push_helpers import TOKEN, post_form, receipt_fields

pytestmark = pytest.mark.django_db

PUSHES = ["receipt_push", "reply_push", "template_push"]


def nothing_written():
    return not (
        StatusReceipt.objects.exists()
        or UpstreamReply.objects.exists()
        or SmsTemplate.objects.exists()
        or OptOut.objects.exists()
    )


@pytest.mark.parametrize(
    "fields, reason",
    [
        ({}, "missing"),
        (receipt_fields("1", code=""), "code is missing"),
        (receipt_fields("1", code="DELIVRD"), "code is not a number"),
        (receipt_fields("1", code="²"), "code is not a number"),
        (receipt_fields("1", mobile="not-a-phone"), "mobilephone"),
        (receipt_fields("", ), "smsid is missing"),
        (receipt_fields("1; DROP TABLE"), "smsid is malformed"),
        (receipt_fields("1", report_time="yesterday"), "report_time"),
        (receipt_fields("1", report_time="1970-01-01 00:00:00"), "out of range"),
        (receipt_fields("1", report_time="2999-01-01 00:00:00"), "out of range"),
        (receipt_fields("1", report_time="2026-02-30 10:00:00"), "report_time"),
        (receipt_fields("1", msg="x" * 1000), "longer than"),
        (receipt_fields("1", msg="a\x00b"), "NUL"),
    ],
)
def test_bad_receipts_are_400_with_a_reason(client, fields, reason):
    response = post_form(client, "receipt_push", fields)
    assert response.status_code == 400
    assert reason in response.content.decode()
    assert nothing_written()


@pytest.mark.parametrize(
    "fields",
    [
        {"code": "1", "msg": "x", "templateid": "5"},
        {"code": "2", "msg": "x", "templateid": "-5"},
        {"code": "2", "msg": "x", "templateid": "abc"},
        {"code": "2", "msg": "x"},
    ],
)
def test_bad_template_pushes(client, fields):
    assert post_form(client, "template_push", fields).status_code == 400
    assert nothing_written()


def test_bad_replies(client):
    fields = {"mobilephone": "13800138000", "content": "", "reply_time": "2026-11-25 10:00:00"}
    assert post_form(client, "reply_push", fields).status_code == 400
    fields = {"mobilephone": "13800138000", "content": "x" * 2000, "reply_time": "2026-11-25 10:00:00"}
    assert post_form(client, "reply_push", fields).status_code == 400
    assert nothing_written()


def test_a_field_given_twice_is_refused(client):
    body = urlencode(receipt_fields("1")) + "&code=0"
    response = client.post(f"/sms/push/receipt/?token={TOKEN}", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400 and b"2 times" in response.content
    assert nothing_written()


@pytest.mark.parametrize("name", PUSHES)
def test_oversized_bodies(client, name):
    body = urlencode({"content": "x" * 20000})
    response = client.post(f"/sms/push/{name.split('_')[0]}/?token={TOKEN}", data=body,
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400 and b"larger than" in response.content
    assert nothing_written()


@pytest.mark.parametrize(
    "body, content_type, status",
    [
        (urlencode(receipt_fields("1", msg="")).replace("msg=", "msg=%FF%FE").encode(), "application/x-www-form-urlencoded", 400),
        (b"code=2&msg=\xff\xfe", "application/x-www-form-urlencoded", 400),
        (b"{not json", "application/json", 400),
        (b"[1, 2, 3]", "application/json", 400),
        (b'{"code": {"nested": 1}}', "application/json", 400),
        (b'"success"', "application/json", 400),
        (b"<xml/>", "text/xml", 415),
        (b"code=2", "application/x-www-form-urlencoded; charset=nonsense", 400),
        ("code=2&msg=送达".encode("gbk"), "application/x-www-form-urlencoded", 400),
    ],
)
def test_wrong_encodings_and_shapes(client, body, content_type, status):
    response = client.generic("POST", f"/sms/push/receipt/?token={TOKEN}", data=body, content_type=content_type)
    assert response.status_code == status, response.content
    if status == 400 and b"%FF" in body:
        assert b"not valid UTF-8" in response.content
    assert nothing_written()


field_values = st.one_of(st.text(max_size=40), st.integers().map(str), st.sampled_from(["2", "0", "13800138000", "2026-11-25 10:00:00", ""]))
push_bodies = st.dictionaries(
    st.sampled_from(["code", "msg", "mobilephone", "smsid", "report_time", "reply_time", "content", "templateid", "x"]),
    field_values,
    max_size=8,
)


@pytest.mark.parametrize("name", PUSHES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=push_bodies)
def test_any_form_body_gets_success_or_a_4xx_never_a_500(client, name, fields):
    response = post_form(client, name, fields)
    assert response.status_code in (200, 400), response.content
    if response.status_code == 200:
        assert response.content == b"success"
    else:
        assert response.content.startswith(b"invalid: ")


@pytest.mark.parametrize("name", PUSHES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=300), content_type=st.sampled_from(
    ["application/x-www-form-urlencoded", "application/json", "text/plain", "multipart/form-data; boundary=x", ""]))
def test_any_bytes_get_a_4xx_or_success_never_a_500(client, name, body, content_type):
    response = client.generic("POST", f"/sms/push/{name.split('_')[0]}/?token={TOKEN}", data=body, content_type=content_type)
    assert 200 <= response.status_code < 500


# -- characters the database cannot store ------------------------------------------------------

GOOD_PUSHES = {
    "receipt_push": receipt_fields("1"),
    "reply_push": {"mobilephone": "13800138000", "content": "hi", "smsid": "1", "reply_time": "2026-11-25 10:00:00"},
    "template_push": {"code": "2", "msg": "ok", "templateid": "5"},
}


@pytest.mark.parametrize("name", PUSHES)
@pytest.mark.parametrize("where", ["extra value", "extra name", "name of a known field's twin"])
def test_a_nul_in_a_field_we_do_not_read_is_400(client, name, where):
    """PostgreSQL's jsonb refuses NUL: the raw copy of the push must not carry one to the database."""
    fields = dict(GOOD_PUSHES[name])
    if where == "extra value":
        fields["x"] = "a\x00b"
    elif where == "extra name":
        fields["k\x00"] = "v"
    else:
        fields["code\x00"] = "2"
    response = post_form(client, name, fields)
    assert response.status_code == 400, response.content
    assert b"NUL" in response.content
    assert nothing_written()


@pytest.mark.parametrize("name", PUSHES)
def test_a_nul_in_any_known_field_is_400(client, name):
    for field in GOOD_PUSHES[name]:
        fields = {**GOOD_PUSHES[name], field: GOOD_PUSHES[name][field][:1] + "\x00" + GOOD_PUSHES[name][field][1:]}
        response = post_form(client, name, fields)
        assert response.status_code == 400, (field, response.content)
        assert b"NUL" in response.content, field
    assert nothing_written()


@pytest.mark.parametrize("name", PUSHES)
@pytest.mark.parametrize("body", [
    b'{"x": "\\u0000"}',
    b'{"\\u0000": "v"}',
    b'{"x": "\\ud800"}',
    b'{"\\udfff": "v"}',
    b'{"msg": "\\ud83d"}',
])
def test_json_escapes_the_database_refuses_are_400(client, name, body):
    import json

    fields = {**GOOD_PUSHES[name], **json.loads(body)}
    data = json.dumps(fields).encode()
    response = client.generic("POST", f"/sms/push/{name.split('_')[0]}/?token={TOKEN}", data=data,
                              content_type="application/json")
    assert response.status_code == 400, response.content
    assert nothing_written()


@pytest.mark.parametrize("name", PUSHES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(extra=st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=20), max_size=3))
def test_any_extra_fields_get_success_or_400_never_a_5xx(client, name, extra):
    fields = {**extra, **GOOD_PUSHES[name]}
    response = post_form(client, name, fields)
    assert response.status_code in (200, 400), response.content
