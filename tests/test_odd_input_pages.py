"""The HTML code pages answer odd bodies with a page or a 400, never a 500."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from .flow_helpers import MOBILE, make_user

pytestmark = pytest.mark.django_db

PAGES = ["huyi_sms:login", "huyi_sms:password_reset", "huyi_sms:password_reset_confirm", "huyi_sms:verify_phone"]
CHARSETS = ["utf-8", "unicode_escape", "raw_unicode_escape", "idna", "punycode", "undefined", "utf-16", "latin-1", "gbk"]
VALUES = [b"\\ud800", b"%ED%A0%80", b"%FF", "\u4e2d".encode("utf-8"), b"\xff\xfe", b"1" * 5000]


def bodies():
    for charset in CHARSETS:
        for value in VALUES:
            form = b"mobile=" + value + b"&code=" + value + b"&send_code=1"
            yield f"application/x-www-form-urlencoded; charset={charset}", form
            multipart = b"".join(
                b'--b\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (name, value)
                for name in (b"mobile", b"code", b"send_code")
            ) + b"--b--\r\n"
            yield f"multipart/form-data; boundary=b; charset={charset}", multipart


@pytest.mark.parametrize("page", PAGES)
def test_odd_bodies_never_get_a_500(page):
    user = make_user()
    client = Client(raise_request_exception=False)
    client.force_login(user)
    session = client.session
    session["huyi_sms_reset_mobile"] = MOBILE  # the reset's second page needs the number from the first
    session.save()
    answers = {}
    for content_type, body in bodies():
        response = client.generic("POST", reverse(page), body, content_type)
        answers.setdefault(response.status_code, []).append((content_type, body[:40]))
    assert not any(status >= 500 for status in answers), {s: v[:3] for s, v in answers.items() if s >= 500}
