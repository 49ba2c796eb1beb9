"""The provider's wire as the sandbox speaks it: endpoint paths, request fields, XML and JSON replies.

The methods, their reply elements, the "no smsid" value and the time format
come from ``provider.py``, the table the client reads too, so the sandbox
cannot answer in a shape the client does not expect. Pure Python; no Django.
"""

from __future__ import annotations

import codecs
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import unquote_to_bytes
from xml.sax.saxutils import escape

from ..provider import CHINA, NO_SMSID, RESULT_ELEMENTS, TIME_FORMAT

__all__ = ["ROUTES", "Request", "read_body", "read_request", "render", "refusal_fields", "china_time", "new_smsid"]

#: The provider's endpoint paths (after the host), and the product each one serves.
#: Shared by the standalone WSGI app and the Django URLconf.
ROUTES: dict[str, str] = {
    "webservice/sms.php": "sms",
    "yx/webservice/sms.php": "marketing",
    "voice/webservice/voice.php": "voice",
    "vm/webservice/voice.php": "voice_notice",
    "isms/webservice/isms.php": "international",
}

# An unknown method is answered as a failed Submit, as the provider does.
_FALLBACK_METHOD = "Submit"
# What a refusal carries besides code and msg: each reply's "nothing".
_NOTHING: dict[str, dict[str, Any]] = {
    "Submit": {"smsid": NO_SMSID},
    "GetNum": {"num": 0},
    "AddTemplate": {"templateid": 0},
}
# Real servers write this namespace; clients match elements by name whatever it is.
_XMLNS = "106.ihuyi.com"


@dataclass(frozen=True)
class Request:
    """The fields of one API request that the sandbox reads, each a string (``""`` when absent)."""

    account: str
    password: str
    mobile: str
    content: str
    time: str
    stime: str
    templateid: str
    as_json: bool


def read_request(params: Mapping[str, Any]) -> Request:
    """``params`` (a query string and form merged, or ``parse_qs``-style lists) as a :class:`Request`.

    Never raises: missing fields, ``None`` and empty lists read as ``""``, as
    the provider answers garbage with a code rather than a crash.
    """
    return Request(
        account=_field(params, "account"),
        password=_field(params, "password"),
        mobile=_field(params, "mobile"),
        content=_field(params, "content"),
        time=_field(params, "time"),
        stime=_field(params, "stime"),
        templateid=_field(params, "templateid").strip(),
        as_json=_field(params, "format").strip().lower() == "json",
    )


def read_body(content_type: str, body: bytes) -> dict[str, str]:
    """The fields of a request body, however a real client sent them (ihuyi-api.md, "What real clients send").

    ``multipart/form-data`` (PHP clients that hand curl an array) is read part
    by part; parts that are files are not fields and are left out, as PHP's
    ``$_POST`` leaves them. Any other body is read as form fields, whatever it
    calls itself: ``application/x-www-form-urlencoded``, or no type, a wrong
    one (``text/plain``), or raw unencoded UTF-8 (the vendor's shell demo).
    Text is UTF-8 whatever the charset says, since clients often declare a
    wrong one; text that is not UTF-8 is read in the declared charset (the
    Java demo's GBK), undecodable bytes replaced. Never raises: the gateway
    answers a garbled request with a code, as ihuyi does. Later fields win
    over earlier ones of the same name, as in PHP.
    """
    header = _parse_header(content_type)
    charset = _charset(header.get_param("charset"))
    if header.get_content_type() == "multipart/form-data":
        return _read_multipart(content_type, body, charset)
    fields: dict[str, str] = {}
    for pair in body.split(b"&"):
        if not pair.strip():
            continue
        name, _, value = pair.partition(b"=")
        fields[_form_text(name, charset)] = _form_text(value, charset)
    return fields


def _parse_header(content_type: str) -> Message:
    """A ``Content-Type`` header as ``email`` reads one (the stdlib parser of MIME headers, params and all)."""
    message = Message()
    message["Content-Type"] = content_type or "application/x-www-form-urlencoded"
    return message


def _charset(declared: Any) -> str:
    """``declared`` if Python knows that codec, else UTF-8 (what the provider expects)."""
    if isinstance(declared, str) and declared.strip():
        try:
            return codecs.lookup(declared.strip()).name
        except LookupError:
            pass
    return "utf-8"


def _text(data: bytes, charset: str) -> str:
    """``data`` as UTF-8 if it is UTF-8 (whatever was declared), else in ``charset``, bad bytes replaced."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode(charset, "replace")


def _form_text(encoded: bytes, charset: str) -> str:
    # unquote_to_bytes leaves raw (unencoded) bytes alone, so raw UTF-8 reads like %-encoded UTF-8.
    return _text(unquote_to_bytes(encoded.replace(b"+", b" ")), charset)


def _read_multipart(content_type: str, body: bytes, charset: str) -> dict[str, str]:
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1", "replace")
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    fields: dict[str, str] = {}
    if not message.is_multipart():
        return fields
    for part in message.get_payload():
        if not isinstance(part, Message) or part.get_filename() is not None:
            continue
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        fields[name] = _text(data, _charset(part.get_content_charset() or charset))
    return fields


def refusal_fields(method: str) -> dict[str, Any]:
    """What a refused ``method`` answers besides code and msg (``smsid`` ``"0"``, ``num`` 0, ``templateid`` 0)."""
    return dict(_NOTHING.get(method, _NOTHING[_FALLBACK_METHOD]))


def render(method: str, fields: Mapping[str, Any], as_json: bool) -> tuple[str, bytes]:
    """The reply to ``method``, ``fields`` in order (code, msg, then the method's own): ``(content_type, body)``."""
    if as_json:
        body = json.dumps(dict(fields), ensure_ascii=False, separators=(",", ":"))
        return "application/json; charset=utf-8", body.encode("utf-8")
    element = RESULT_ELEMENTS.get(method, RESULT_ELEMENTS[_FALLBACK_METHOD])
    inner = "".join(f"<{name}>{escape(str(value))}</{name}>" for name, value in fields.items())
    body = f'<?xml version="1.0" encoding="utf-8"?>\n<{element} xmlns="{_XMLNS}">{inner}</{element}>'
    return "text/xml; charset=utf-8", body.encode("utf-8")


def china_time(unix_seconds: float) -> str:
    """``unix_seconds`` as the provider writes times: ``YYYY-mm-dd HH:MM:SS``, China time (UTC+8)."""
    return datetime.fromtimestamp(unix_seconds, CHINA).strftime(TIME_FORMAT)


def new_smsid(now: float, sequence: int) -> str:
    """An smsid shaped like the provider's (20 digits), unique per ``sequence`` within a gateway.

    Seconds, then the sequence, then noise so that ids do not look guessable in demos.
    """
    return f"{int(now) % 10**10:010d}{sequence % 10**6:06d}{random.randrange(10**4):04d}"


def _field(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    if isinstance(value, (list, tuple)):  # parse_qs-style values: the last one wins, as in PHP
        value = value[-1] if value else ""
    return "" if value is None else str(value)
