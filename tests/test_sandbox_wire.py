"""The sandbox reads a request however real ihuyi clients send one, in both of its servers.

Fields in the query string or the body (the body's win); bodies form-encoded, multipart
(PHP's curl with an array), raw unencoded UTF-8 or GBK, with no, a wrong or a right
content type. An APIID the sandbox does not know is 4053, as ihuyi's own demo data has it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from django.test import Client, override_settings
from django.urls import reverse

from django_huyi_sms.client import IhuyiClient, dynamic_password
from django_huyi_sms.exceptions import RESULT_CODES, HuyiConfigurationError
from django_huyi_sms.sandbox import get_gateway
from django_huyi_sms.sandbox.gateway import SandboxGateway
from django_huyi_sms.sandbox.wire import read_body
from django_huyi_sms.sandbox.wsgi import serve

ACCOUNT = "C1234"
KEY = "sandbox-key-1234"
MOBILE = "13800138000"
TEXT = "您的验证码是：482913。请不要把验证码泄露给其他人。"

# A poster sends (query fields, body bytes, content type) to the sms endpoint and returns the JSON reply.
Poster = Callable[[dict[str, str], bytes, str | None], dict[str, Any]]


@pytest.fixture(params=["standalone", "in a site"])
def post(request: pytest.FixtureRequest, settings: Any) -> Iterator[tuple[SandboxGateway, Poster]]:
    """Each test runs against ``huyi_sandbox``'s WSGI server and against the sandbox views of a site."""
    if request.param == "standalone":
        gateway = SandboxGateway(accounts={ACCOUNT: KEY}, receipt_delay=3600)
        server, _thread = serve(gateway)
        base = f"http://127.0.0.1:{server.server_address[1]}/webservice/sms.php"

        def over_http(query: dict[str, str], body: bytes, content_type: str | None) -> dict[str, Any]:
            headers = {"Content-Type": content_type} if content_type is not None else {}
            response = requests.post(f"{base}?{urlencode(query)}", data=body, headers=headers, timeout=5)
            return json.loads(response.content)

        try:
            yield gateway, over_http
        finally:
            server.shutdown()
            server.server_close()
            gateway.close()
        return
    sandbox = {"ACCOUNTS": {ACCOUNT: KEY}, "RECEIPT_DELAY": 3600}
    with override_settings(HUYI_SMS={**settings.HUYI_SMS, "SANDBOX": sandbox}):
        url = reverse("huyi_sandbox:sms")

        def in_site(query: dict[str, str], body: bytes, content_type: str | None) -> dict[str, Any]:
            # generic(): the bytes as they are (post() would re-encode them in the declared charset).
            response = Client().generic("POST", f"{url}?{urlencode(query)}", data=body, content_type=content_type or "")
            return json.loads(response.content)

        yield get_gateway(), in_site


def signed(mobile: str = MOBILE, content: str = TEXT, now: str = "") -> dict[str, str]:
    import time

    now = now or str(int(time.time()))
    password = dynamic_password(ACCOUNT, KEY, mobile, content, now)
    return {"account": ACCOUNT, "password": password, "mobile": mobile, "content": content, "time": now}


def multipart(fields: dict[str, str], boundary: str = "----php-curl-7f3a", charset: str = "utf-8") -> bytes:
    lines = []
    for name, value in fields.items():
        lines += [f"--{boundary}", f'Content-Disposition: form-data; name="{name}"', "", value]
    lines += [f"--{boundary}--", ""]
    return "\r\n".join(lines).encode(charset)


def test_a_multipart_body_is_read_as_php_clients_send_it(post: tuple[SandboxGateway, Poster]) -> None:
    gateway, send = post
    boundary = "----php-curl-7f3a"
    reply = send({"method": "Submit"}, multipart({**signed(), "format": "json"}, boundary), f"multipart/form-data; boundary={boundary}")
    assert reply["code"] == 2, reply
    [message] = gateway.messages_for(MOBILE)
    assert message.content == TEXT and message.smsid == reply["smsid"]


def test_a_file_part_is_not_a_field(post: tuple[SandboxGateway, Poster]) -> None:
    _gateway, send = post
    boundary = "b0undary"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"format\"\r\n\r\njson\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"account\"; filename=\"a.txt\"\r\n"
        f"Content-Type: text/plain\r\n\r\n{ACCOUNT}\r\n--{boundary}--\r\n"
    ).encode()
    reply = send({"method": "GetNum", "password": KEY}, body, f"multipart/form-data; boundary={boundary}")
    assert reply["code"] == 401  # the file named "account" is no account, as in PHP's $_POST


def test_every_field_may_come_in_the_query_string(post: tuple[SandboxGateway, Poster]) -> None:
    gateway, send = post
    reply = send({"method": "Submit", **signed(), "format": "json"}, b"", None)
    assert reply["code"] == 2
    assert gateway.messages_for(MOBILE)[0].content == TEXT


def test_the_body_wins_over_the_query_string(post: tuple[SandboxGateway, Poster]) -> None:
    gateway, send = post
    fields = signed()
    query = {"method": "Submit", "format": "json", **fields, "content": "查询串里的另一条"}
    reply = send(query, urlencode({"content": TEXT}).encode(), "application/x-www-form-urlencoded")
    assert reply["code"] == 2  # signed over the body's content, which is the one read
    assert gateway.messages_for(MOBILE)[0].content == TEXT


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded; charset=ISO-8859-1"])
@pytest.mark.parametrize("encoded", [False, True])
def test_a_utf8_body_with_no_wrong_or_lying_content_type_is_read(
    post: tuple[SandboxGateway, Poster], content_type: str | None, encoded: bool
) -> None:
    gateway, send = post
    fields = {**signed(), "format": "json"}
    # Raw (the vendor's shell demo) or percent-encoded UTF-8; "ISO-8859-1" is a lie clients tell.
    raw = urlencode(fields) if encoded else "&".join(f"{name}={value}" for name, value in fields.items())
    reply = send({"method": "Submit"}, raw.encode("utf-8"), content_type)
    assert reply["code"] == 2, reply
    assert gateway.messages_for(MOBILE)[0].content == TEXT


def test_a_gbk_body_that_says_so_is_read_in_gbk(post: tuple[SandboxGateway, Poster]) -> None:
    gateway, send = post
    body = urlencode({**signed(), "format": "json"}, encoding="gbk").encode("ascii")
    reply = send({"method": "Submit"}, body, "application/x-www-form-urlencoded; charset=GBK")
    assert reply["code"] == 2, reply
    assert gateway.messages_for(MOBILE)[0].content == TEXT


def test_an_unknown_account_is_4053_and_a_wrong_key_405(post: tuple[SandboxGateway, Poster]) -> None:
    _gateway, send = post
    unknown = send({"method": "GetNum", "account": "C9999", "password": KEY, "format": "json"}, b"", None)
    assert (unknown["code"], unknown["msg"]) == (4053, RESULT_CODES[4053].zh) == (4053, "用户不存在")
    wrong = send({"method": "GetNum", "account": ACCOUNT, "password": "not-the-key", "format": "json"}, b"", None)
    assert wrong["code"] == 405


def test_the_client_raises_4053_as_a_configuration_error(post: tuple[SandboxGateway, Poster]) -> None:
    gateway, _send = post
    server, _thread = serve(gateway)
    try:
        client = IhuyiClient("C9999", KEY, f"http://127.0.0.1:{server.server_address[1]}/webservice/sms.php")
        with pytest.raises(HuyiConfigurationError) as caught:
            client.submit(MOBILE, TEXT)
    finally:
        server.shutdown()
        server.server_close()
    assert caught.value.code == 4053 and "no such account" in str(caught.value)


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        ("", b"a=1&b=%E4%BD%A0", {"a": "1", "b": "你"}),
        ("text/plain", "a=你&b=x+y".encode(), {"a": "你", "b": "x y"}),
        ("application/x-www-form-urlencoded", b"a=%FF&&=&c", {"a": "\ufffd", "": "", "c": ""}),
        ("application/x-www-form-urlencoded; charset=no-such-codec", b"a=%E4%BD%A0", {"a": "你"}),
        ("multipart/form-data", b"--x\r\n\r\n", {}),  # no boundary: nothing to read, no crash
        ("multipart/form-data; boundary=x", b"garbage", {}),
    ],
)
def test_read_body_never_raises(content_type: str, body: bytes, expected: dict[str, str]) -> None:
    assert read_body(content_type, body) == expected
