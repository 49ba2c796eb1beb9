"""The provider's wire as the sandbox speaks it: endpoint paths, request fields, XML and JSON replies.

The methods, their reply elements, the "no smsid" value and the time format
come from ``provider.py``, the table the client reads too, so the sandbox
cannot answer in a shape the client does not expect. Pure Python; no Django.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from ..provider import CHINA, NO_SMSID, RESULT_ELEMENTS, TIME_FORMAT

__all__ = ["ROUTES", "Request", "read_request", "render", "refusal_fields", "china_time", "new_smsid"]

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
