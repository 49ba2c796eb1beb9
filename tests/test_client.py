"""The wire client: replies in XML and JSON, malformed replies, transport failures, and the secret key."""

from __future__ import annotations

import hashlib
import logging
import socket
import sys
import threading

import pytest

from django_huyi_sms.client import IhuyiClient, parse_reply
from django_huyi_sms.exceptions import (
    HuyiConfigurationError,
    HuyiConnectionError,
    HuyiContentError,
    HuyiResponseError,
    HuyiTransportError,
)

SECRET = "s3cr3t-apikey-0123456789abcdef"


def client_for(provider, **kwargs):
    return IhuyiClient("C12345678", SECRET, provider.url, **kwargs)


def test_submit_parses_the_vendors_xml_reply(fake_provider):
    fake_provider.reply = (
        '<?xml version="1.0" encoding="utf-8"?>\n<SubmitResult xmlns="106.ihuyi.com">'
        "<code>2</code><msg>提交成功</msg><smsid>14745625541233112231</smsid></SubmitResult>"
    )
    result = client_for(fake_provider, response_format="xml").submit("13800138000", "hello")
    assert (result.code, result.msg, result.smsid) == (2, "提交成功", "14745625541233112231")
    assert fake_provider.requests[0].form["format"] == "xml"


def test_submit_parses_the_vendors_json_reply(fake_provider):
    fake_provider.reply = '{"code":2,"msg":"提交成功","smsid":"14745625541233112231"}'
    result = client_for(fake_provider).submit("13800138000", "hello")
    assert result.smsid == "14745625541233112231"


def test_balance_and_template_in_xml(fake_provider):
    fake_provider.answer_xml("GetNumResult", code=2, msg="查询成功", num=1234)
    assert client_for(fake_provider).get_num().num == 1234
    fake_provider.answer_xml("AddTemplateResult", code=2, msg="提交成功", templateid=5)
    assert client_for(fake_provider).add_template("【变量】").templateid == 5


@pytest.mark.parametrize(
    "body, complaint",
    [
        (b"", "empty reply"),
        (b"<html><body>502 Bad Gateway</body></html>", "expected <SubmitResult>"),
        (b"<SubmitResult><code>2</code>", "malformed XML"),
        (b'{"code": 2, "msg": ', "malformed JSON"),
        (b"[1, 2]", "neither XML nor JSON"),
        (b'["code"]', "neither XML nor JSON"),
        (b'{"msg": "ok"}', "no code"),
        (b'{"code": "two", "msg": "ok"}', "not a number"),
        (b'{"code": 2, "msg": "ok", "smsid": "0"}', "no smsid"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"OK", "neither XML nor JSON"),
    ],
)
def test_a_malformed_reply_says_what_was_wrong(fake_provider, body, complaint):
    fake_provider.reply = body
    with pytest.raises(HuyiResponseError) as caught:
        client_for(fake_provider).submit("13800138000", "hello")
    assert complaint in str(caught.value)
    assert isinstance(caught.value, HuyiTransportError)


def test_an_oversized_reply_is_refused_unread(fake_provider):
    fake_provider.reply = b"{" + b" " * (2 * 1024 * 1024) + b"}"
    with pytest.raises(HuyiResponseError, match="larger than"):
        client_for(fake_provider).submit("13800138000", "hello")


def test_http_error_status_is_a_transport_error(fake_provider):
    fake_provider.status = 503
    with pytest.raises(HuyiTransportError, match="HTTP 503"):
        client_for(fake_provider).submit("13800138000", "hello")


def test_connection_refused_is_a_transport_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = IhuyiClient("C1", SECRET, f"http://127.0.0.1:{port}/webservice/sms.php")
    with pytest.raises(HuyiTransportError) as caught:
        client.submit("13800138000", "hello")
    assert caught.value.code is None


def test_a_slow_provider_times_out(fake_provider):
    fake_provider.delay = 1.0
    with pytest.raises(HuyiTransportError, match=r"no answer within 0\.2s"):
        client_for(fake_provider, timeout=0.2).submit("13800138000", "hello")


def test_missing_credentials_fail_locally_with_401_402(fake_provider):
    with pytest.raises(HuyiConfigurationError) as caught:
        IhuyiClient("", SECRET, fake_provider.url).submit("13800138000", "hello")
    assert caught.value.code == 401
    with pytest.raises(HuyiConfigurationError) as caught:
        IhuyiClient("C1", "", fake_provider.url).get_num()
    assert caught.value.code == 402
    assert fake_provider.requests == []


def test_the_key_never_appears_in_repr_errors_or_logs(fake_provider, caplog):
    caplog.set_level(logging.DEBUG)
    client = client_for(fake_provider, sign_mode="plain")
    assert SECRET not in repr(client)
    fake_provider.answer_json(code=405, msg="API ID 或 API KEY 不正确", smsid="0")
    with pytest.raises(HuyiConfigurationError) as caught:
        client.submit("13800138000", "hello")
    fake_provider.status = 500
    with pytest.raises(HuyiTransportError) as transport:
        client.get_num()
    for text in (str(caught.value), repr(caught.value), str(transport.value), caplog.text):
        assert SECRET not in text
    assert "Submit" in caplog.text  # the client does log its calls


def test_one_pooled_session_serves_many_calls(fake_provider):
    client = client_for(fake_provider)
    for _ in range(3):
        client.submit("13800138000", "hello")
    assert len(fake_provider.requests) == 3
    adapter = client.session.get_adapter(fake_provider.url)
    assert len(adapter.poolmanager.pools) == 1


def test_parse_reply_strips_a_byte_order_mark():
    assert parse_reply('\ufeff{"code":2,"msg":"ok"}'.encode())["code"] == "2"


def test_constructor_refuses_unknown_product_and_modes():
    with pytest.raises(ValueError):
        IhuyiClient("a", "b", product="fax")
    with pytest.raises(ValueError):
        IhuyiClient("a", "b", sign_mode="sha1")


# -- a reply whose body goes wrong after the headers -------------------------------------------


@pytest.fixture
def raw_provider():
    """A loopback socket server that answers each request with the raw bytes a test sets.

    ``http.server`` always writes a well-formed reply; this one can stall mid-body, promise more
    bytes than it sends, or send garbage as gzip.
    """
    state = {"reply": b"", "stall": False}
    release = threading.Event()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.1)

    def serve():
        while not release.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    conn.recv(65536)
                    conn.sendall(state["reply"])
                    if state["stall"]:
                        release.wait(5)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{server.getsockname()[1]}/webservice/sms.php"
    yield state
    release.set()
    thread.join(2)
    server.close()


def _head(length: int, *extra: str) -> bytes:
    lines = ["HTTP/1.1 200 OK", "Content-Type: application/json", f"Content-Length: {length}", *extra, "", ""]
    return "\r\n".join(lines).encode()


def test_a_body_that_stalls_after_the_headers_is_a_timeout(raw_provider):
    raw_provider["reply"] = _head(50) + b'{"code":'
    raw_provider["stall"] = True
    client = IhuyiClient("C1", SECRET, raw_provider["url"], timeout=0.3)
    with pytest.raises(HuyiTransportError, match=r"Submit: no answer within 0.3s") as caught:
        client.submit("13800138000", "hello")
    assert caught.value.code is None


def test_a_body_shorter_than_its_content_length_is_a_transport_error(raw_provider):
    raw_provider["reply"] = _head(500) + b'{"code":2'
    with pytest.raises(HuyiTransportError, match="cut short") as caught:
        IhuyiClient("C1", SECRET, raw_provider["url"], timeout=2).submit("13800138000", "hello")
    assert not isinstance(caught.value, HuyiResponseError)  # the network failed, not the provider's format


def test_a_broken_gzip_body_is_a_transport_error(raw_provider):
    raw_provider["reply"] = _head(10, "Content-Encoding: gzip") + b"0123456789"
    with pytest.raises(HuyiTransportError, match="could not be decoded"):
        IhuyiClient("C1", SECRET, raw_provider["url"], timeout=2).get_num()


# -- the key in error reports ------------------------------------------------------------------


def _error_report(client: IhuyiClient, call: str) -> tuple[str, str]:
    """Call the provider and render the error as Django does; only the client is in this frame's locals."""
    from django.views.debug import ExceptionReporter

    try:
        if call == "submit":
            client.submit("13800138000", "hello")
        else:
            client.add_template("您的验证码是【变量】")
    except HuyiConfigurationError:
        reporter = ExceptionReporter(None, *sys.exc_info())
        return reporter.get_traceback_html(), reporter.get_traceback_text()
    raise AssertionError("405 did not raise")


@pytest.mark.parametrize("sign_mode", ["plain", "dynamic"])
@pytest.mark.parametrize("call", ["submit", "add_template"])
def test_the_key_is_not_in_a_technical_500_page(fake_provider, sign_mode, call):
    """Django's debug page and AdminEmailHandler(include_html=True) print every frame's locals."""
    fake_provider.answer_json(code=405, msg="API ID 或 API KEY 不正确", smsid="0")
    html, text = _error_report(client_for(fake_provider, sign_mode=sign_mode), call)
    assert "fields" in html and "password" in html  # the frames and their locals are there…
    for report in (html, text):
        assert SECRET not in report  # …but not the key,
        assert hashlib.md5(SECRET.encode()).hexdigest() not in report  # nor AddTemplate's md5(key).
    if sign_mode == "plain":  # The key still went out as the password, unchanged.
        assert fake_provider.requests[-1].form["password"] == SECRET


def test_a_template_with_a_control_character_is_refused_before_any_http_call(fake_provider):
    with pytest.raises(HuyiContentError) as caught:
        client_for(fake_provider).add_template("您的验证码是【变量】\x00")
    assert caught.value.code is None and "U+0000" in str(caught.value)
    with pytest.raises(HuyiContentError) as caught:
        client_for(fake_provider).add_template("  ")
    assert caught.value.code == 404
    assert fake_provider.requests == []


@pytest.fixture
def tls_provider(tmp_path):
    """An https:// provider on loopback with a self-signed certificate (its file: ``.cert``)."""
    import http.server
    import ssl
    import subprocess

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            body = '{"code":2,"msg":"提交成功","smsid":"14745625541233112231"}'.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.url = f"https://127.0.0.1:{server.server_address[1]}/webservice/sms.php"
    server.cert = str(cert)
    yield server
    server.shutdown()
    server.server_close()


def test_the_ca_bundle_named_in_the_environment_is_trusted_as_requests_would(tls_provider, monkeypatch):
    """REQUESTS_CA_BUNDLE (a company's own CA, say) is honoured like requests.Session.request() honours it."""
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    with pytest.raises(HuyiConnectionError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        IhuyiClient("C12345678", SECRET, tls_provider.url).submit("13800138000", "hello")

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls_provider.cert)
    result = IhuyiClient("C12345678", SECRET, tls_provider.url).submit("13800138000", "hello")
    assert result.smsid == "14745625541233112231"
