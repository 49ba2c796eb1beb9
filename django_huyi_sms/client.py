"""The ihuyi wire protocol: sign, encode, post, parse.

This module knows nothing of Django's ORM or settings, so it can be used on
its own from a script::

    from django_huyi_sms.client import IhuyiClient
    client = IhuyiClient("C12345678", "your-apikey")
    result = client.submit("13800138000", "您的验证码是：1234。请不要把验证码泄露给其他人。")
    result.smsid

Every non-success result code becomes the typed exception of
``exceptions.RESULT_CODES``. When no valid answer comes, the exception says
what happened on the wire: :class:`~django_huyi_sms.exceptions.HuyiConnectionError`
when the request never left (safe to send again), otherwise
:class:`~django_huyi_sms.exceptions.HuyiTransportError` (or its
``HuyiResponseError``), which means the provider may have the message.
``timeout`` bounds the whole exchange, and redirects are never followed (a
redirected POST would carry the form, and in plain mode the APIKEY, elsewhere).

The APIKEY is kept in a private attribute and never written into a log line,
an exception or a ``repr``: it travels only inside the signed request body.
The key and every password derived from it are held as :class:`MaskedSecret`,
whose ``repr`` is masked, so they do not show among a traceback's local
variables either (Django's technical 500 page, ``AdminEmailHandler``, error
trackers all print locals with ``repr``).
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import requests
import urllib3.exceptions

try:
    # Marks the frames that hold a number and a text for Django's error reports (no variable of
    # theirs, or of the frames they call, is shown). The client itself does not need Django.
    from django.views.decorators.debug import sensitive_variables

    _private: Callable[[Callable[..., Any]], Callable[..., Any]] = sensitive_variables()
except ImportError:  # pragma: no cover - used without Django: no Django report to keep them out of

    def _private(function: Callable[..., Any]) -> Callable[..., Any]:
        return function

from . import template_variables, transport, validation
from .exceptions import (
    HuyiConfigurationError,
    HuyiConnectionError,
    HuyiResponseError,
    HuyiTransportError,
    ResultCode,
    error_for_code,
)
from .provider import (
    CHINA,
    DEFAULT_API_URLS,
    NO_SMSID,
    RESULT_ELEMENTS,
    SIGN_DYNAMIC,
    SIGN_MODES,
    SIGN_PLAIN,
    TIME_FORMAT,
    BalanceResult,
    SubmitResult,
    TemplateResult,
    check_product,
    dynamic_password,
    md5_hex,
)

__all__ = [
    "IhuyiClient",
    "MaskedSecret",
    "parse_reply",
    # The provider's facts, for scripts that use the client alone (defined in provider.py).
    "SubmitResult",
    "BalanceResult",
    "TemplateResult",
    "dynamic_password",
]

logger = logging.getLogger("django_huyi_sms.client")

# A reply bigger than this is not an ihuyi reply; don't parse megabytes of an error page.
_MAX_REPLY_BYTES = 64 * 1024
# What a real reply holds (ihuyi-api.md): a result code that fits the log's 32-bit column, and an
# smsid of digits (about 20 of them). Anything else is not the provider talking.
_MAX_CODE = 2**31 - 1
_SMSID = re.compile(r"[0-9]{1,32}")
_MAX_COUNT = 2**63 - 1
_MAX_MSG_LENGTH = 255


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
    except RecursionError:
        raise HuyiResponseError(None, detail="JSON reply nested too deep to be a reply") from None
    if not isinstance(data, dict):
        raise HuyiResponseError(None, detail=f"JSON reply is not an object: {_excerpt(text)}")
    fields = {}
    for key, value in data.items():
        if isinstance(value, (dict, list)):
            raise HuyiResponseError(None, detail=f"reply's {_excerpt(str(key), 40)} is not a plain value")
        fields[str(key)] = "" if value is None else str(value)
    return fields


def _parse_xml(text: str, method: str) -> dict[str, str]:
    # The provider's XML has no DTD; expat (bundled with CPython >= 3.7.1) refuses
    # external entities and caps entity expansion, so a hostile body cannot blow up.
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        raise HuyiResponseError(None, detail=f"malformed XML reply ({exc}): {_excerpt(text)}") from None
    expected = RESULT_ELEMENTS.get(method)
    tag = _local_name(root.tag)
    if expected and tag != expected:
        raise HuyiResponseError(None, detail=f"XML reply is <{tag}>, expected <{expected}>")
    return {_local_name(child.tag): (child.text or "").strip() for child in root}


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _excerpt(text: str, limit: int = 120) -> str:
    return validation.excerpt(validation.printable(" ".join(text.split())), limit)


def _int_field(fields: Mapping[str, str], name: str, *, maximum: int = _MAX_COUNT) -> int:
    try:
        value = int(fields[name])
    except KeyError:
        raise HuyiResponseError(None, detail=f"reply has no {name}") from None
    except ValueError:
        detail = f"reply's {name} is not a number: {_excerpt(fields[name], 40)!r}"
        raise HuyiResponseError(None, detail=detail) from None
    if not 0 <= value <= maximum:
        raise HuyiResponseError(None, detail=f"reply's {name} is out of range: {_excerpt(fields[name], 40)}")
    return value


class IhuyiClient:
    """A client for one product's endpoint and one APIID/APIKEY pair.

    ``sign_mode`` is ``"dynamic"`` (default: an MD5 over the request and the
    time, so the key itself never travels) or ``"plain"``. ``timeout`` is in
    seconds, for the whole exchange: connecting, sending and reading the
    answer end within it, however slowly the provider drips. ``session`` lets
    callers share a pooled session; pass one made by
    :func:`django_huyi_sms.transport.new_session` (by default each client makes
    its own), since only its connections keep the deadline and know whether a
    request left. ``clock`` returns Unix seconds and is there for tests.
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
        check_product(product)
        if sign_mode not in SIGN_MODES:
            raise ValueError(f"sign_mode must be {' or '.join(map(repr, SIGN_MODES))}, not {sign_mode!r}")
        if response_format not in ("json", "xml"):
            raise ValueError(f"response_format must be 'json' or 'xml', not {response_format!r}")
        self.account = account or ""
        self._api_key = MaskedSecret(api_key or "")
        self.api_url = api_url or DEFAULT_API_URLS[product]
        self.product = product
        self.sign_mode = sign_mode
        self.timeout = timeout
        self.response_format = response_format
        self.session = session or transport.new_session()
        self.clock = clock
        separator = "&" if "?" in self.api_url else "?"
        self._method_urls = {method: f"{self.api_url}{separator}method={method}" for method in RESULT_ELEMENTS}
        # What requests.Session.request() would work out on every call (headers; proxies, CA bundle
        # and client certificate from the session and the environment; the adapter), worked out
        # once: a request is then prepared and handed to the adapter directly, which also means no
        # redirect is ever followed.
        headers = {
            name: value.decode("latin-1") if isinstance(value, bytes) else value
            for name, value in self.session.headers.items()
        }
        self._headers: requests.structures.CaseInsensitiveDict[str] = requests.structures.CaseInsensitiveDict(headers)
        self._headers["Content-Type"] = "application/x-www-form-urlencoded"
        send_settings = self.session.merge_environment_settings(self.api_url, {}, True, None, None)
        self._proxies = send_settings["proxies"]
        self._verify: bool | str = True if send_settings["verify"] is None else send_settings["verify"]
        self._cert = send_settings["cert"]
        self._adapter: requests.adapters.BaseAdapter | None = None

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(account={self.account!r}, api_url={self.api_url!r}, "
            f"product={self.product!r}, sign_mode={self.sign_mode!r})"
        )

    # -- the three methods ------------------------------------------------

    @_private
    def submit(
        self,
        mobile: str | list[str],
        content: str,
        *,
        templateid: int | None = None,
        stime: datetime | None = None,
        checked: bool = False,
    ) -> SubmitResult:
        """Send ``content`` to ``mobile`` (Submit). Returns the accepted message's ``smsid``.

        ``mobile`` is one number, or for the marketing product a list (or a
        comma-separated string) of numbers. ``stime`` schedules a marketing
        send; it goes out in China time, the provider's: an aware datetime is
        converted (12:00 UTC is sent as ``20:00:00``), a naive one is taken as
        this machine's local time, as Python reads one (in a Django process
        that is ``TIME_ZONE``). With ``templateid``, ``content`` is the
        template's variables, ``|``-separated (``submit(mobile, "1234",
        templateid=1)``), and the provider renders the message; the dynamic
        password signs them as sent. The number and content are checked first
        (see ``validation.py``; a template 1 send's variables as
        ``template_variables.py`` says); a refusal raises the same exception
        the provider's code would, before any HTTP call. ``checked=True`` says
        the caller has already run those checks on exactly these values
        (``sending.py`` does), so they are not run twice.

        Raises a ``HuyiApiError`` subclass for every non-success code;
        ``HuyiConnectionError`` when the request never left;
        ``HuyiTransportError`` (or ``HuyiResponseError``) when it left and no
        valid answer came, so the provider may have the message.
        """
        if checked:
            mobile_field = mobile if isinstance(mobile, str) else ",".join(mobile)
        else:
            mobile_field = validation.prepare_mobile(mobile, self.product)
            content = validation.validate_content(content, product=self.product)
            if templateid is not None:
                self._check_template_send(template_variables.check_templateid(templateid), content)
        if stime is not None and self.product != "marketing":
            raise ValueError("stime (a scheduled send) is only offered by the marketing product")
        now = self._now()
        fields = {"account": self.account, "mobile": mobile_field, "content": content}
        fields["password"] = self._password(self.account, self._api_key, mobile_field, content, now)
        if self.sign_mode == SIGN_DYNAMIC:
            fields["time"] = now
        if templateid is not None:
            fields["templateid"] = str(templateid)
        if stime is not None:
            fields["stime"] = stime.astimezone(CHINA).strftime(TIME_FORMAT)
        reply = self._call("Submit", fields)
        # ihuyi's voice notices answer the message's serial number as "voiceid" on its newer API
        # (ihuyi-api.md): the same thing under another name, that receipts name as smsid.
        smsid = (reply.get("smsid") or reply.get("voiceid") or "").strip()
        if not smsid or smsid == NO_SMSID:
            raise HuyiResponseError(
                ResultCode.ACCEPTED, reply["msg"], detail="accepted, but the reply carries no smsid"
            )
        if not _SMSID.fullmatch(smsid):
            raise HuyiResponseError(
                ResultCode.ACCEPTED,
                reply["msg"],
                detail=f"accepted, but the reply's smsid is not an smsid: {_excerpt(smsid, 40)!r}",
            )
        return SubmitResult(code=ResultCode.ACCEPTED, msg=reply["msg"], smsid=smsid)

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
        return BalanceResult(code=ResultCode.ACCEPTED, msg=reply["msg"], num=_int_field(reply, "num"))

    def add_template(self, content: str) -> TemplateResult:
        """Submit a template for review (AddTemplate); variables are written ``【变量】``.

        The dynamic password here is ``md5(apikey)`` — no time (ihuyi-api.md).
        """
        content = validation.validate_template(content)
        self._check_credentials()
        password = MaskedSecret(md5_hex(self._api_key)) if self.sign_mode == SIGN_DYNAMIC else self._api_key
        reply = self._call("AddTemplate", {"account": self.account, "password": password, "content": content})
        templateid = _int_field(reply, "templateid", maximum=_MAX_CODE)
        return TemplateResult(code=ResultCode.ACCEPTED, msg=reply["msg"], templateid=templateid)

    # -- pieces -------------------------------------------------------------

    def _check_template_send(self, templateid: int, content: str) -> None:
        """A template 1 send's variables as the provider checks them (4072, 40722).

        Only template 1's text is known to a client alone; the variables of
        another template are left to the provider (``sending.py`` knows its templates).
        """
        if template_variables.is_default_template(templateid, self.product):
            template_variables.check_values(
                template_variables.DEFAULT_TEMPLATE, template_variables.split(content), templateid=templateid
            )

    def _now(self) -> str:
        return str(int(self.clock()))

    def _check_credentials(self) -> None:
        if not self.account:
            raise error_for_code(ResultCode.ACCOUNT_EMPTY)
        if not self._api_key:
            raise error_for_code(ResultCode.PASSWORD_EMPTY)

    def _password(self, *parts: str) -> MaskedSecret:
        self._check_credentials()
        if self.sign_mode == SIGN_PLAIN:
            return self._api_key
        # A dynamic password is good for one request only, but it is masked all the same.
        return MaskedSecret(dynamic_password(*parts))

    def _call(self, method: str, fields: dict[str, str]) -> dict[str, str]:
        fields = {**fields, "format": self.response_format}
        with transport.exchange(self.timeout) as wire:
            body = self._post(method, fields, wire)
        if len(body) > _MAX_REPLY_BYTES:
            raise HuyiResponseError(None, detail=f"{method}: reply larger than {_MAX_REPLY_BYTES} bytes")
        reply = parse_reply(body, method)
        code = _int_field(reply, "code", maximum=_MAX_CODE)
        reply["msg"] = validation.printable(reply["msg"])[:_MAX_MSG_LENGTH]
        logger.debug("ihuyi %s %s (%s): code=%s", method, self.product, self.account, code)
        if code != ResultCode.ACCEPTED:
            raise error_for_code(code, reply["msg"])
        return reply

    def _post(self, method: str, fields: dict[str, str], wire: transport.Exchange) -> bytes:
        """POST ``fields`` and read the body, within the exchange's deadline; raise saying what reached the wire."""
        request = requests.PreparedRequest()
        request.method = "POST"
        request.url = self._method_urls[method]
        request.body = urlencode(fields).encode("ascii")  # percent-encoded UTF-8: ASCII
        request.headers = self._headers.copy()
        request.headers["Content-Length"] = str(len(request.body))
        if self._adapter is None:
            try:
                self._adapter = self.session.get_adapter(self.api_url)
            except requests.exceptions.InvalidSchema:
                raise HuyiConfigurationError(
                    None, detail=f"{method}: the endpoint {self.api_url!r} is not an http:// or https:// URL"
                ) from None
        try:
            response = self._adapter.send(
                request,
                stream=True,
                timeout=(self.timeout, self.timeout),
                verify=self._verify,
                cert=self._cert,
                proxies=self._proxies,
            )
        except requests.RequestException as exc:
            raise self._transport_error(method, exc, wire) from None
        try:
            status = response.status_code
            if 300 <= status < 400:
                # Not followed: the form (in plain mode the APIKEY itself) would go wherever it points.
                where = _excerpt(response.headers.get("Location", ""), 120) or "nowhere"
                detail = f"{method}: HTTP {status} redirect to {where} not followed; set API_URL to the endpoint"
                raise HuyiConfigurationError(None, detail=detail)
            if 400 <= status < 500:
                # Refused as a request before the API saw it (a wrong URL, a firewall): nothing was sent.
                raise HuyiConfigurationError(None, detail=f"{method}: HTTP {status} from {self.api_url}")
            if status != 200:
                raise HuyiTransportError(None, detail=f"{method}: HTTP {status} from {self.api_url}")
            # Read through urllib3 (not response.content) to cap the size, so its exceptions
            # come through unwrapped by requests: they are transport failures all the same.
            return response.raw.read(_MAX_REPLY_BYTES + 1, decode_content=True)
        except requests.RequestException as exc:
            raise self._transport_error(method, exc, wire) from None
        except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
            # The headers came, then the body stalled or dripped past the deadline.
            raise HuyiTransportError(None, detail=f"{method}: no answer within {self.timeout}s") from None
        except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as exc:
            raise HuyiTransportError(None, detail=f"{method}: {_read_failure(exc)}") from None
        finally:
            response.close()

    def _transport_error(
        self, method: str, exc: requests.RequestException, wire: transport.Exchange
    ) -> HuyiTransportError:
        if transport.nothing_was_sent(exc, wire):
            if isinstance(exc, requests.Timeout):
                return HuyiConnectionError(None, detail=f"{method}: could not connect within {self.timeout}s")
            return HuyiConnectionError(None, detail=f"{method}: could not connect: {_safe_reason(exc)}")
        if isinstance(exc, requests.Timeout):
            return HuyiTransportError(None, detail=f"{method}: no answer within {self.timeout}s")
        return HuyiTransportError(None, detail=f"{method}: sent, then {_safe_reason(exc)}")


def _read_failure(exc: BaseException) -> str:
    """What went wrong while reading a reply's body, in words (no URL, no body)."""
    if isinstance(exc, urllib3.exceptions.DecodeError):
        return "reply could not be decoded (its Content-Encoding is broken)"
    if isinstance(exc, (urllib3.exceptions.ProtocolError, http.client.IncompleteRead, OSError)):
        return f"reply cut short: the connection ended before the whole body came ({exc.__class__.__name__})"
    return f"reply unreadable ({exc.__class__.__name__})"


def _safe_reason(exc: Exception) -> str:
    """What went wrong, in a line: the underlying reason without urllib3's pool and class names."""
    reason: BaseException = exc
    while reason.args and isinstance(reason.args[0], BaseException):
        reason = reason.args[0]
    if isinstance(reason, urllib3.exceptions.MaxRetryError) and reason.reason is not None:
        reason = reason.reason
    text = str(reason)
    if isinstance(reason, urllib3.exceptions.NewConnectionError):
        text = text.split("): ", 1)[-1]  # drop "HTTPConnection(host=…, port=…)"
    # requests puts the URL (never the POST body) in its messages; keep it short.
    return _excerpt(f"{reason.__class__.__name__}: {text}", 200)
