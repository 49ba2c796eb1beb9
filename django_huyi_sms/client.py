"""The ihuyi wire protocol: sign, encode, post, parse.

This module knows nothing of Django's ORM or settings, so it can be used on
its own from a script::

    from django_huyi_sms.client import IhuyiClient
    client = IhuyiClient("C12345678", "your-apikey")
    result = client.submit("13800138000", "您的验证码是：1234。请不要把验证码泄露给其他人。")
    result.smsid

Every non-success result code becomes the typed exception of
``exceptions.RESULT_CODES``; a network failure or a reply that is not a
``SubmitResult`` becomes :class:`~django_huyi_sms.exceptions.HuyiTransportError`.

The APIKEY is kept in a private attribute and never written into a log line,
an exception or a ``repr``: it travels only inside the signed request body.
The key and every password derived from it are held as :class:`MaskedSecret`,
whose ``repr`` is masked, so they do not show among a traceback's local
variables either (Django's technical 500 page, ``AdminEmailHandler``, error
trackers all print locals with ``repr``).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

import requests
import urllib3.exceptions

from . import validation
from .exceptions import (
    ACCEPTED,
    HuyiResponseError,
    HuyiTransportError,
    error_for_code,
)

__all__ = [
    "PRODUCTS",
    "DEFAULT_API_URLS",
    "SIGN_DYNAMIC",
    "SIGN_PLAIN",
    "SubmitResult",
    "BalanceResult",
    "TemplateResult",
    "IhuyiClient",
    "dynamic_password",
    "parse_reply",
    "mask_mobile",
]

logger = logging.getLogger("django_huyi_sms.client")

#: The provider's products, by the names this package uses for them.
PRODUCTS = ("sms", "marketing", "voice", "voice_notice", "international")

#: Each product's endpoint (ihuyi-api.md, "Products and endpoints").
DEFAULT_API_URLS: dict[str, str] = {
    "sms": "https://106.ihuyi.com/webservice/sms.php",
    "marketing": "https://api.yx.ihuyi.com/webservice/sms.php",
    "voice": "https://api.voice.ihuyi.com/webservice/voice.php",
    "voice_notice": "https://api.vm.ihuyi.com/webservice/voice.php",
    "international": "https://api.isms.ihuyi.com/webservice/isms.php",
}

SIGN_DYNAMIC = "dynamic"
SIGN_PLAIN = "plain"

# The reply's root element for each method (XML) — also what we call the method.
_RESULT_ELEMENTS = {
    "Submit": "SubmitResult",
    "GetNum": "GetNumResult",
    "AddTemplate": "AddTemplateResult",
}
_STIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# A reply bigger than this is not an ihuyi reply; don't parse megabytes of an error page.
_MAX_REPLY_BYTES = 64 * 1024


class MaskedSecret(str):
    """A ``str`` whose ``repr`` hides its value.

    The password field has to be the plain APIKEY in plain signing mode (and
    ``md5(apikey)`` for AddTemplate, just as reusable), so it is a local
    variable of the frames that build the request. Error reports print frame
    locals with ``repr`` (Django's technical 500 page and
    ``AdminEmailHandler(include_html=True)`` among them); this type keeps the
    value out of them while encoding it into the request body unchanged.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "'********'" if self else "''"


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def dynamic_password(*parts: str | int) -> str:
    """The provider's dynamic password: lowercase hex MD5 of the parts joined, as UTF-8.

    Submit signs ``account + apikey + mobile + content + time``; GetNum signs
    ``account + apikey + time``.
    """
    return md5_hex("".join(str(part) for part in parts))


def mask_mobile(mobile: str) -> str:
    """``13800138000`` → ``138****8000``; short or odd values are masked whole."""
    mobile = str(mobile or "")
    if len(mobile) >= 7:
        return f"{mobile[:3]}****{mobile[-4:]}"
    return "*" * len(mobile)


@dataclass(frozen=True)
class SubmitResult:
    code: int
    msg: str
    smsid: str


@dataclass(frozen=True)
class BalanceResult:
    code: int
    msg: str
    num: int


@dataclass(frozen=True)
class TemplateResult:
    code: int
    msg: str
    templateid: int


def parse_reply(body: bytes | str, method: str = "Submit") -> dict[str, str]:
    """Parse a reply body, XML or JSON, into a dict of strings.

    The result always has ``code`` (still a string) and ``msg``; other fields
    (``smsid``, ``num``, ``templateid``) are there when the provider sent them.
    Raises :class:`HuyiResponseError` saying what was wrong with a body that
    is not a reply.
    """
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise HuyiResponseError(None, detail=f"reply is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    else:
        text = body
    stripped = text.strip()
    if not stripped:
        raise HuyiResponseError(None, detail="empty reply")
    if stripped[0] == "{":
        fields = _parse_json(stripped)
    elif stripped[0] == "<":
        fields = _parse_xml(stripped, method)
    else:
        raise HuyiResponseError(None, detail=f"reply is neither XML nor JSON: {_excerpt(stripped)}")
    if "code" not in fields:
        raise HuyiResponseError(None, detail=f"reply has no code: {_excerpt(stripped)}")
    fields.setdefault("msg", "")
    return fields


def _parse_json(text: str) -> dict[str, str]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise HuyiResponseError(None, detail=f"malformed JSON reply ({exc}): {_excerpt(text)}") from None
    if not isinstance(data, dict):
        raise HuyiResponseError(None, detail=f"JSON reply is not an object: {_excerpt(text)}")
    return {str(key): "" if value is None else str(value) for key, value in data.items()}


def _parse_xml(text: str, method: str) -> dict[str, str]:
    # The provider's XML has no DTD; expat (bundled with CPython >= 3.7.1) refuses
    # external entities and caps entity expansion, so a hostile body cannot blow up.
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        raise HuyiResponseError(None, detail=f"malformed XML reply ({exc}): {_excerpt(text)}") from None
    expected = _RESULT_ELEMENTS.get(method)
    tag = _local_name(root.tag)
    if expected and tag != expected:
        raise HuyiResponseError(None, detail=f"XML reply is <{tag}>, expected <{expected}>")
    return {_local_name(child.tag): (child.text or "").strip() for child in root}


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _excerpt(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _int_field(fields: Mapping[str, str], name: str) -> int:
    try:
        return int(fields[name])
    except KeyError:
        raise HuyiResponseError(None, detail=f"reply has no {name}") from None
    except ValueError:
        raise HuyiResponseError(None, detail=f"reply's {name} is not a number: {fields[name]!r}") from None


class IhuyiClient:
    """A client for one product's endpoint and one APIID/APIKEY pair.

    ``sign_mode`` is ``"dynamic"`` (default: an MD5 over the request and the
    time, so the key itself never travels) or ``"plain"``. ``timeout`` is in
    seconds, for connecting and for reading. ``session`` lets callers share a
    pooled :class:`requests.Session`; by default each client has its own.
    ``clock`` returns Unix seconds and is there for tests.
    """

    def __init__(
        self,
        account: str,
        api_key: str,
        api_url: str | None = None,
        *,
        product: str = "sms",
        sign_mode: str = SIGN_DYNAMIC,
        timeout: float = 10,
        response_format: str = "json",
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if product not in PRODUCTS:
            raise ValueError(f"unknown product {product!r}; expected one of {', '.join(PRODUCTS)}")
        if sign_mode not in (SIGN_DYNAMIC, SIGN_PLAIN):
            raise ValueError(f"sign_mode must be {SIGN_DYNAMIC!r} or {SIGN_PLAIN!r}, not {sign_mode!r}")
        if response_format not in ("json", "xml"):
            raise ValueError(f"response_format must be 'json' or 'xml', not {response_format!r}")
        self.account = account or ""
        self._api_key = MaskedSecret(api_key or "")
        self.api_url = api_url or DEFAULT_API_URLS[product]
        self.product = product
        self.sign_mode = sign_mode
        self.timeout = timeout
        self.response_format = response_format
        self.session = session or requests.Session()
        self.clock = clock

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(account={self.account!r}, api_url={self.api_url!r}, "
            f"product={self.product!r}, sign_mode={self.sign_mode!r})"
        )

    # -- the three methods ------------------------------------------------

    def submit(self, mobile: str | list[str], content: str, *, stime: datetime | None = None) -> SubmitResult:
        """Send ``content`` to ``mobile`` (Submit). Returns the accepted message's ``smsid``.

        ``mobile`` is one number, or for the marketing product a list (or a
        comma-separated string) of numbers. ``stime`` schedules a marketing
        send. The number and content are checked first (see
        ``validation.py``); a refusal raises the same exception the provider's
        code would, before any HTTP call.

        Raises a ``HuyiApiError`` subclass for every non-success code, and
        ``HuyiTransportError`` when the provider cannot be reached or answers
        garbage.
        """
        mobile_field = validation.prepare_mobile(mobile, self.product)
        content = validation.validate_content(content)
        if stime is not None and self.product != "marketing":
            raise ValueError("stime (a scheduled send) is only offered by the marketing product")
        now = self._now()
        fields = {"account": self.account, "mobile": mobile_field, "content": content}
        fields["password"] = self._password(self.account, self._api_key, mobile_field, content, now)
        if self.sign_mode == SIGN_DYNAMIC:
            fields["time"] = now
        if stime is not None:
            fields["stime"] = stime.strftime(_STIME_FORMAT)
        reply = self._call("Submit", fields)
        smsid = reply.get("smsid", "")
        if not smsid or smsid == "0":
            raise HuyiResponseError(ACCEPTED, reply["msg"], detail="accepted, but the reply carries no smsid")
        return SubmitResult(code=ACCEPTED, msg=reply["msg"], smsid=smsid)

    def get_num(self) -> BalanceResult:
        """How many messages the account has left (GetNum)."""
        now = self._now()
        fields = {
            "account": self.account,
            "password": self._password(self.account, self._api_key, now),
        }
        if self.sign_mode == SIGN_DYNAMIC:
            fields["time"] = now
        reply = self._call("GetNum", fields)
        return BalanceResult(code=ACCEPTED, msg=reply["msg"], num=_int_field(reply, "num"))

    def add_template(self, content: str) -> TemplateResult:
        """Submit a template for review (AddTemplate); variables are written ``【变量】``.

        The dynamic password here is ``md5(apikey)`` — no time (ihuyi-api.md).
        """
        content = validation.validate_template(content)
        self._check_credentials()
        password = MaskedSecret(md5_hex(self._api_key)) if self.sign_mode == SIGN_DYNAMIC else self._api_key
        reply = self._call("AddTemplate", {"account": self.account, "password": password, "content": content})
        return TemplateResult(code=ACCEPTED, msg=reply["msg"], templateid=_int_field(reply, "templateid"))

    # -- pieces -------------------------------------------------------------

    def _now(self) -> str:
        return str(int(self.clock()))

    def _check_credentials(self) -> None:
        if not self.account:
            raise error_for_code(401)
        if not self._api_key:
            raise error_for_code(402)

    def _password(self, *parts: str) -> MaskedSecret:
        self._check_credentials()
        if self.sign_mode == SIGN_PLAIN:
            return self._api_key
        # A dynamic password is good for one request only, but it is masked all the same.
        return MaskedSecret(dynamic_password(*parts))

    def _call(self, method: str, fields: dict[str, str]) -> dict[str, str]:
        fields = {**fields, "format": self.response_format}
        try:
            response = self.session.post(
                self.api_url,
                params={"method": method},
                data=fields,
                timeout=(self.timeout, self.timeout),
                stream=True,
            )
        except requests.Timeout:
            raise HuyiTransportError(None, detail=f"{method}: no answer within {self.timeout}s") from None
        except requests.RequestException as exc:
            raise HuyiTransportError(None, detail=f"{method}: {exc.__class__.__name__}: {_safe_reason(exc)}") from None
        try:
            if response.status_code != 200:
                raise HuyiTransportError(None, detail=f"{method}: HTTP {response.status_code} from {self.api_url}")
            # Read through urllib3 (not response.content) to cap the size, so its exceptions
            # come through unwrapped by requests: they are transport failures all the same.
            body = response.raw.read(_MAX_REPLY_BYTES + 1, decode_content=True)
        except requests.RequestException as exc:
            raise HuyiTransportError(None, detail=f"{method}: {exc.__class__.__name__}: {_safe_reason(exc)}") from None
        except urllib3.exceptions.ReadTimeoutError:
            # The headers came, then the body stalled: for the caller the same as no answer.
            raise HuyiTransportError(None, detail=f"{method}: no answer within {self.timeout}s") from None
        except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as exc:
            raise HuyiTransportError(None, detail=f"{method}: {_read_failure(exc)}") from None
        finally:
            response.close()
        if len(body) > _MAX_REPLY_BYTES:
            raise HuyiResponseError(None, detail=f"{method}: reply larger than {_MAX_REPLY_BYTES} bytes")
        reply = parse_reply(body, method)
        try:
            code = int(reply["code"])
        except ValueError:
            raise HuyiResponseError(None, detail=f"{method}: reply code is not a number: {reply['code']!r}") from None
        logger.debug("ihuyi %s %s (%s): code=%s", method, self.product, self.account, code)
        if code != ACCEPTED:
            raise error_for_code(code, reply["msg"])
        return reply


def _read_failure(exc: BaseException) -> str:
    """What went wrong while reading a reply's body, in words (no URL, no body)."""
    if isinstance(exc, urllib3.exceptions.DecodeError):
        return "reply could not be decoded (its Content-Encoding is broken)"
    if isinstance(exc, (urllib3.exceptions.ProtocolError, http.client.IncompleteRead, OSError)):
        return f"reply cut short: the connection ended before the whole body came ({exc.__class__.__name__})"
    return f"reply unreadable ({exc.__class__.__name__})"


def _safe_reason(exc: Exception) -> str:
    # requests puts the URL (never the POST body) in its messages; keep it short.
    return _excerpt(str(exc), 200)

