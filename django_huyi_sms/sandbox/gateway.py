"""A stand-in for ihuyi: answers Submit, GetNum and AddTemplate as the provider does.

:class:`SandboxGateway` checks requests in the provider's order (account,
password, signature, frozen account, IP, number and text, sensitive words,
templates and signatures, blacklist, per-number limits, balance) and answers
with the provider's codes and texts, taken from ``exceptions.RESULT_CODES``.
Number and text checks are those of ``validation.py``, so the sandbox refuses
exactly what a local check refuses. Accepted messages are kept per phone, and
a delivery receipt for each is pushed after ``receipt_delay`` seconds with the
provider's retry contract (see ``pusher.py``); replies and template reviews
are pushed on demand.

All state is in memory, behind one lock. Pure Python; no Django: the WSGI app
in ``wsgi.py`` and the Django views in ``views.py`` both call :meth:`handle`.
"""

from __future__ import annotations

import hmac
import ipaddress
import itertools
import json
import logging
import random
import re
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any
from xml.sax.saxutils import escape

from ..exceptions import RESULT_CODES, HuyiApiError, ResultCode, error_for_code
from ..provider import PRODUCTS, dynamic_password, md5_hex
from ..validation import (
    count_parts,
    find_signatures,
    normalize_mobile,
    validate_content,
    validate_mobiles,
    validate_template,
)
from .config import DEFAULT_SENSITIVE_WORDS, SandboxConfig
from .pusher import Pusher, PushRecord

__all__ = [
    "ROUTES",
    "METHODS",
    "DEFAULT_SENSITIVE_WORDS",
    "STATUS_SUBMITTED",
    "STATUS_DELIVERED",
    "STATUS_UNDELIVERED",
    "SandboxConfig",
    "SandboxMessage",
    "SandboxReply",
    "SandboxTemplate",
    "SandboxGateway",
    "china_time",
    "phone_payload",
]

logger = logging.getLogger("django_huyi_sms.sandbox")

#: The provider's endpoint paths (after the host), and the product each one serves.
#: Shared by the standalone WSGI app and the Django URLconf.
ROUTES: dict[str, str] = {
    "webservice/sms.php": "sms",
    "yx/webservice/sms.php": "marketing",
    "voice/webservice/voice.php": "voice",
    "vm/webservice/voice.php": "voice_notice",
    "isms/webservice/isms.php": "international",
}

#: ``?method=`` values, and the root element of each one's reply.
METHODS: dict[str, str] = {
    "Submit": "SubmitResult",
    "GetNum": "GetNumResult",
    "AddTemplate": "AddTemplateResult",
}

STATUS_SUBMITTED = "submitted"
STATUS_DELIVERED = "delivered"
STATUS_UNDELIVERED = "undelivered"

# Delivery receipt fields. Receipt codes are not Submit result codes: "2" means
# delivered and anything else failed; the msg is the operator's status word.
_RECEIPT_DELIVERED = ("2", "DELIVRD")
_RECEIPT_UNDELIVERED = ("0", "UNDELIV")
# Template review push: code 2 approved, 0 rejected.
_REVIEW_APPROVED = "2"
_REVIEW_REJECTED = "0"

TEMPLATE_PENDING = "pending"
TEMPLATE_APPROVED = "approved"
TEMPLATE_REJECTED = "rejected"

_CHINA = timezone(timedelta(hours=8), "China")
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_VARIABLE = "【变量】"
# The provider caps a template variable's value at 8 characters (code 40722).
_MAX_VARIABLE_LENGTH = 8
# What latest_code() picks out: a run of 4–8 digits that is not part of a longer number.
_CODE = re.compile(r"(?<![0-9])[0-9]{4,8}(?![0-9])")
# The per-number windows for identical messages.
_MINUTE = 60.0
_SECOND = 1.0


def china_time(unix_seconds: float) -> str:
    """``unix_seconds`` as the provider writes times: ``YYYY-mm-dd HH:MM:SS``, China time (UTC+8)."""
    return datetime.fromtimestamp(unix_seconds, _CHINA).strftime(_TIME_FORMAT)


def _china_date(unix_seconds: float) -> str:
    return datetime.fromtimestamp(unix_seconds, _CHINA).strftime("%Y-%m-%d")


@dataclass
class SandboxMessage:
    """One accepted message, as one phone "received" it.

    A marketing Submit to several numbers gives one of these per number, all
    with the same ``smsid``. ``status`` moves from ``submitted`` to
    ``delivered`` or ``undelivered`` when the receipt is due; ``receipt``
    then holds the receipt's fields.
    """

    smsid: str
    product: str
    mobile: str
    content: str
    parts: int
    received_at: float  # Unix seconds, by the gateway's clock
    account: str
    verification: bool = False
    stime: str = ""  # a marketing send's scheduled time, as given
    status: str = STATUS_SUBMITTED
    receipt: dict[str, str] | None = None

    @property
    def received_time(self) -> str:
        """``received_at`` in China time, as the provider writes times."""
        return china_time(self.received_at)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON: every field, plus ``received_time``."""
        return {**asdict(self), "received_time": self.received_time}


@dataclass
class SandboxReply:
    """An upstream reply sent with :meth:`SandboxGateway.send_reply`."""

    mobile: str
    content: str
    smsid: str
    reply_time: str


@dataclass
class SandboxTemplate:
    """A template submitted with AddTemplate (or configured as approved)."""

    templateid: int
    account: str
    content: str
    status: str = TEMPLATE_PENDING
    msg: str = ""


class _PushUrl:
    """A push URL read from the gateway's config; a test may point a running gateway elsewhere.

    Setting one checks it as the setting is checked (``SandboxConfigError``) and changes nothing else.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, gateway: SandboxGateway, owner: type | None = None) -> str:
        return str(getattr(gateway.config, self.name))

    def __set__(self, gateway: SandboxGateway, url: str) -> None:
        changed: dict[str, Any] = {self.name: url}
        gateway._config = replace(gateway.config, **changed)


class SandboxGateway:
    """The provider, in memory. See the module docstring.

    ``config`` is a :class:`~.config.SandboxConfig`; or pass its fields as
    keyword arguments (``SandboxGateway(accounts={"id": "key"}, receipt_delay=0)``),
    which build one on top of ``config`` or the defaults. ``clock`` returns Unix
    seconds (tests pass one they move by hand); ``on_message`` is called with a
    copy of each accepted :class:`SandboxMessage`, outside the lock.

    Raises :class:`~.config.SandboxConfigError` (a ``ValueError``) for an unusable setting.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
        on_message: Callable[[SandboxMessage], None] | None = None,
        **settings: Any,
    ) -> None:
        config = config if config is not None else SandboxConfig()
        self._config = replace(config, **settings) if settings else config
        self.clock = clock
        self.on_message = on_message

        self._lock = threading.Lock()
        self._pusher = Pusher(retry_scale=self._config.retry_scale)
        self._balances = dict.fromkeys(self._config.accounts, self._config.balance)
        self._messages: OrderedDict[str, list[SandboxMessage]] = OrderedDict()  # last to receive = last
        self._replies: defaultdict[str, list[SandboxReply]] = defaultdict(list)
        self._blacklist: set[str] = set(self._config.blacklist)
        self._over_limit: defaultdict[tuple[str, str], int] = defaultdict(int)  # (mobile, China date) → attempts
        self._pushes: list[PushRecord] = []
        self._smsid_sequence = itertools.count(1)
        self._template_ids = itertools.count(1)
        self._templates: dict[int, SandboxTemplate] = {}
        # Accounts that must send approved templates (listed in ``templates``, even with none).
        self._template_accounts = frozenset(self._config.templates)
        for account, texts in self._config.templates.items():
            for text in texts:
                templateid = next(self._template_ids)
                self._templates[templateid] = SandboxTemplate(templateid, account, text, TEMPLATE_APPROVED)

    @property
    def config(self) -> SandboxConfig:
        """The settings this gateway runs with (read-only but for the push URLs below)."""
        return self._config

    receipt_url = _PushUrl()
    reply_url = _PushUrl()
    template_url = _PushUrl()

    # -- life cycle -------------------------------------------------------------

    def close(self) -> None:
        """Stop pushing; receipts and retries not yet sent are dropped."""
        self._pusher.close()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every scheduled receipt and push (retries included) is done; False on timeout."""
        return self._pusher.wait_idle(timeout)

    def __enter__(self) -> SandboxGateway:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(accounts={sorted(self._config.accounts)!r})"

    # -- the provider's API -------------------------------------------------------

    def handle(
        self, product: str, method: str, params: Mapping[str, str], *, remote_addr: str = "127.0.0.1"
    ) -> tuple[str, bytes]:
        """Answer one API request as the provider would: ``(content_type, body)``.

        ``product`` is one of ``client.PRODUCTS`` (see :data:`ROUTES`),
        ``method`` the ``?method=`` value, ``params`` the request's fields.
        Every refusal is an answer with the provider's code, never an
        exception; an unknown method is answered with code 0. Raises
        ``ValueError`` only for an unknown ``product`` (a programming error).
        """
        if product not in PRODUCTS:
            raise ValueError(f"unknown product {product!r}; expected one of {', '.join(PRODUCTS)}")
        method = str(method or "")
        fields = {name: _field(params, name) for name in ("account", "password", "mobile", "content", "time")}
        as_json = _field(params, "format").strip().lower() == "json"
        element = METHODS.get(method, "SubmitResult")
        accepted: list[SandboxMessage] = []
        try:
            if method == "Submit":
                extra, accepted = self._submit(product, fields, _field(params, "stime"), remote_addr)
            elif method == "GetNum":
                extra = self._get_num(fields, remote_addr)
            elif method == "AddTemplate":
                extra = self._add_template(fields, remote_addr)
            else:
                raise error_for_code(ResultCode.SUBMIT_FAILED, detail=f"unknown method {method[:40]!r}")
            code, msg = ResultCode.ACCEPTED, RESULT_CODES[ResultCode.ACCEPTED].zh
        except HuyiApiError as refusal:
            code, msg = refusal.code or ResultCode.SUBMIT_FAILED, refusal.msg
            extra = _EMPTY_EXTRA[element]
        except Exception:  # the provider answers garbage with a code, never with a crash
            logger.exception("sandbox: %s %s failed", product, method[:40])
            code, msg = ResultCode.SUBMIT_FAILED, RESULT_CODES[ResultCode.SUBMIT_FAILED].zh
            extra = _EMPTY_EXTRA[element]
        for message in accepted:
            self._notify(message)
        return _render(element, {"code": code, "msg": msg, **extra}, as_json)

    def _submit(
        self, product: str, fields: dict[str, str], stime: str, remote_addr: str
    ) -> tuple[dict[str, Any], list[SandboxMessage]]:
        account = fields["account"]
        self._authenticate(fields, signed=(fields["mobile"], fields["content"]))
        self._check_account(account, remote_addr)
        # Number first, then text: the order client.IhuyiClient.submit checks them in.
        if product == "marketing":
            mobiles = validate_mobiles(fields["mobile"])
        else:
            mobiles = [normalize_mobile(fields["mobile"], international=product == "international")]
        content = validate_content(fields["content"])
        self._check_sensitive_words(content)
        verification = product == "voice" or "验证码" in content or "code" in content.lower()
        parts = count_parts(content)
        with self._lock:
            self._check_templates(account, content)
            self._check_signatures(account, content)
            now = self.clock()
            for mobile in mobiles:
                self._check_recipient(mobile, content, verification, now)
            cost = parts * len(mobiles)
            if self._balances[account] < cost:
                raise error_for_code(ResultCode.BALANCE_EXHAUSTED)
            self._balances[account] -= cost
            smsid = self._new_smsid(now)
            accepted = []
            for mobile in mobiles:
                message = SandboxMessage(
                    smsid=smsid,
                    product=product,
                    mobile=mobile,
                    content=content,
                    parts=parts,
                    received_at=now,
                    account=account,
                    verification=verification,
                    stime=stime if product == "marketing" else "",
                )
                self._messages.setdefault(mobile, []).append(message)
                self._messages.move_to_end(mobile)
                accepted.append(message)
                self._pusher.call_later(self._config.receipt_delay, partial(self._deliver, message))
        return {"smsid": smsid}, accepted

    def _get_num(self, fields: dict[str, str], remote_addr: str) -> dict[str, Any]:
        self._authenticate(fields, signed=())
        self._check_account(fields["account"], remote_addr)
        with self._lock:
            return {"num": self._balances[fields["account"]]}

    def _add_template(self, fields: dict[str, str], remote_addr: str) -> dict[str, Any]:
        account = fields["account"]
        self._authenticate(fields, signed=None)
        self._check_account(account, remote_addr)
        content = validate_template(fields["content"])
        self._check_sensitive_words(content)
        with self._lock:
            templateid = next(self._template_ids)
            self._templates[templateid] = SandboxTemplate(templateid, account, content)
        return {"templateid": templateid}

    # -- checks, in the provider's order -----------------------------------------------

    def _authenticate(self, fields: dict[str, str], *, signed: tuple[str, ...] | None) -> None:
        """401 / 402 / 405, then the signature: ``signed`` are the fields between key and time
        in the dynamic password; ``None`` means AddTemplate (plain key or md5(key), no time)."""
        account, password, request_time = fields["account"], fields["password"], fields["time"]
        if not account:
            raise error_for_code(ResultCode.ACCOUNT_EMPTY)
        if not password:
            raise error_for_code(ResultCode.PASSWORD_EMPTY)
        key = self._config.accounts.get(account)
        if key is None:
            raise error_for_code(ResultCode.BAD_CREDENTIALS)
        # compare_digest: the answer must not leak how much of a guessed password was right.
        if signed is None:
            if not (_same(password, key) or _same(password, md5_hex(key))):
                raise error_for_code(ResultCode.BAD_CREDENTIALS)
        elif request_time:
            # A dynamic password. The time is checked first: a stale or absent clock is the likelier
            # mistake, and the provider documents 40501 before 40502.
            fresh = request_time.isascii() and request_time.isdigit()
            if not fresh or abs(self.clock() - int(request_time)) > self._config.max_clock_skew:
                raise error_for_code(ResultCode.PASSWORD_EXPIRED)
            if not _same(password, dynamic_password(account, key, *signed, request_time)):
                raise error_for_code(ResultCode.PASSWORD_MISMATCH)
        elif not _same(password, key):
            raise error_for_code(ResultCode.BAD_CREDENTIALS)

    def _check_account(self, account: str, remote_addr: str) -> None:
        if account in self._config.frozen_accounts:
            raise error_for_code(ResultCode.ACCOUNT_FROZEN)
        networks = self._config.allowed_ips.get(account)
        if networks is not None:
            try:
                address = ipaddress.ip_address(remote_addr)
            except ValueError:
                raise error_for_code(ResultCode.IP_NOT_REGISTERED) from None
            if not any(address in ipaddress.ip_network(network) for network in networks):
                raise error_for_code(ResultCode.IP_NOT_REGISTERED)

    def _check_sensitive_words(self, content: str) -> None:
        lowered = content.lower()
        if any(word.lower() in lowered for word in self._config.sensitive_words):
            raise error_for_code(ResultCode.SENSITIVE_WORDS)

    def _check_templates(self, account: str, content: str) -> None:
        if account not in self._template_accounts:
            return
        approved = [
            template.content
            for template in self._templates.values()
            if template.account == account and template.status == TEMPLATE_APPROVED
        ]
        if not approved:
            raise error_for_code(ResultCode.NO_TEMPLATE)
        body = _without_signature(content)
        too_long = False
        for template in approved:
            short, loose = _template_patterns(template)
            if short.fullmatch(body):
                return
            too_long = too_long or bool(loose.fullmatch(body))
        raise error_for_code(ResultCode.VARIABLE_TOO_LONG if too_long else ResultCode.TEMPLATE_MISMATCH)

    def _check_signatures(self, account: str, content: str) -> None:
        approved = self._config.signatures.get(account)
        if approved is None:
            return
        if any(signature not in approved for signature in find_signatures(content)):
            raise error_for_code(ResultCode.SIGNATURE_NOT_APPROVED)

    def _check_recipient(self, mobile: str, content: str, verification: bool, now: float) -> None:
        """4030 for a blacklisted number; then the per-number limits, counting each refusal."""
        if mobile in self._blacklist:
            raise error_for_code(ResultCode.MOBILE_BLACKLISTED)
        today = _china_date(now)
        history = self._messages.get(mobile, [])
        todays = [message for message in history if _china_date(message.received_at) == today]
        identical = [message for message in todays if message.content == content]
        # Order: the tightest window first; a verification text meets its own daily cap (4085)
        # before the general one (4082), which is what the provider's two texts suggest.
        if history and now - history[-1].received_at < _SECOND:
            code = ResultCode.TOO_FAST
        elif verification and sum(message.verification for message in todays) >= self._config.daily_code_limit:
            code = ResultCode.DAILY_CODE_LIMIT
        elif len(todays) >= self._config.daily_limit:
            code = ResultCode.DAILY_LIMIT
        elif (
            sum(now - message.received_at < _MINUTE for message in identical) >= self._config.identical_per_minute
            or len(identical) >= self._config.identical_per_day
        ):
            # The vendor caps identical messages (2 a minute, 20 a day) but documents no code
            # for it; 4082, the per-number daily cap, is the nearest it has.
            code = ResultCode.DAILY_LIMIT
        else:
            return
        self._over_limit[mobile, today] += 1
        if self._over_limit[mobile, today] >= self._config.blacklist_after:
            self._blacklist.add(mobile)
            raise error_for_code(ResultCode.BLACKLISTED_FOR_EXCESS)
        raise error_for_code(code)

    def _new_smsid(self, now: float) -> str:
        # Shaped like the provider's (20 digits): seconds, then a sequence that makes it unique
        # within this gateway, then noise so that ids do not look guessable in demos.
        return f"{int(now) % 10**10:010d}{next(self._smsid_sequence) % 10**6:06d}{random.randrange(10**4):04d}"

    # -- receipts and pushes ----------------------------------------------------------

    def _deliver(self, message: SandboxMessage) -> None:
        code, msg = _RECEIPT_UNDELIVERED if message.mobile in self._config.undeliverable else _RECEIPT_DELIVERED
        with self._lock:
            message.status = STATUS_DELIVERED if code == _RECEIPT_DELIVERED[0] else STATUS_UNDELIVERED
            message.receipt = {
                "code": code,
                "msg": msg,
                "mobilephone": message.mobile,
                "smsid": message.smsid,
                "report_time": china_time(self.clock()),
            }
            fields = dict(message.receipt)
        if self.receipt_url:
            self._push("receipt", self.receipt_url, fields)

    def _push(self, kind: str, url: str, fields: dict[str, str]) -> PushRecord:
        record = self._pusher.push(kind, url, fields)
        with self._lock:
            self._pushes.append(record)
        return record

    def _notify(self, message: SandboxMessage) -> None:
        if self.on_message is None:
            return
        try:
            self.on_message(replace(message))
        except Exception:  # a listener's bug must not turn an accepted send into an error
            logger.exception("sandbox: on_message listener failed")

    def send_reply(self, mobile: str, content: str, smsid: str | None = None) -> PushRecord | None:
        """Push an upstream reply from ``mobile`` to ``reply_url``, as if the person texted back.

        ``smsid`` defaults to the last message sent to that number (``"0"``
        when there was none). The reply is recorded (see :meth:`replies_for`)
        even when no ``reply_url`` is set; then ``None`` is returned. Raises
        ``ValueError`` when ``mobile`` or ``content`` is empty.
        """
        mobile, content = (mobile or "").strip(), (content or "").strip()
        if not mobile:
            raise ValueError("mobile is empty")
        if not content:
            raise ValueError("content is empty")
        with self._lock:
            if smsid is None:
                history = self._messages.get(mobile)
                smsid = history[-1].smsid if history else "0"
            reply = SandboxReply(mobile=mobile, content=content, smsid=smsid, reply_time=china_time(self.clock()))
            self._replies[mobile].append(reply)
        if not self.reply_url:
            return None
        fields = {"mobilephone": mobile, "content": content, "smsid": smsid, "reply_time": reply.reply_time}
        return self._push("reply", self.reply_url, fields)

    def review_template(self, templateid: int, approved: bool, msg: str = "") -> PushRecord | None:
        """Approve or reject a template, and push the result to ``template_url``.

        Returns the push's record, or ``None`` when no ``template_url`` is set.
        Raises ``KeyError`` for an unknown ``templateid``.
        """
        with self._lock:
            template = self._templates[int(templateid)]
            template.status = TEMPLATE_APPROVED if approved else TEMPLATE_REJECTED
            template.msg = msg
        if not self.template_url:
            return None
        fields = {
            "code": _REVIEW_APPROVED if approved else _REVIEW_REJECTED,
            "msg": msg,
            "templateid": str(template.templateid),
        }
        return self._push("template", self.template_url, fields)

    # -- reading state -------------------------------------------------------------------

    def phones(self) -> list[str]:
        """Numbers that received messages, the one that received last first."""
        with self._lock:
            return list(reversed(self._messages))

    def messages_for(self, mobile: str) -> list[SandboxMessage]:
        """Copies of the messages ``mobile`` received, newest first (``[]`` for none)."""
        with self._lock:
            history = self._messages.get(self._key(mobile), [])
            return [replace(message) for message in reversed(history)]

    def replies_for(self, mobile: str) -> list[SandboxReply]:
        """Replies sent from ``mobile`` with :meth:`send_reply`, newest first."""
        with self._lock:
            return [replace(reply) for reply in reversed(self._replies.get(self._key(mobile), []))]

    def latest_code(self, mobile: str) -> str | None:
        """The last run of 4–8 digits in the newest message to ``mobile``, or ``None``."""
        messages = self.messages_for(mobile)
        if not messages:
            return None
        codes = _CODE.findall(messages[0].content)
        return codes[-1] if codes else None

    def balance(self, account: str) -> int:
        """Messages ``account`` may still send. Raises ``KeyError`` for an unknown account."""
        with self._lock:
            return self._balances[account]

    @property
    def accounts(self) -> dict[str, str]:
        """APIID → APIKEY pairs the sandbox accepts (sandbox keys; not secrets)."""
        return dict(self._config.accounts)

    @property
    def templates(self) -> list[SandboxTemplate]:
        """Copies of every template, configured or added, oldest first."""
        with self._lock:
            return [replace(template) for template in self._templates.values()]

    @property
    def pushes(self) -> list[PushRecord]:
        """Every push made so far (receipts, replies, template reviews), oldest first.

        The records are live: their ``attempts`` grow while retries run.
        """
        with self._lock:
            return list(self._pushes)

    def _key(self, mobile: str) -> str:
        # Let people look a number up as they would type it (+86 138-0013-8000).
        mobile = str(mobile or "").strip()
        if mobile in self._messages or mobile in self._replies:
            return mobile
        try:
            return normalize_mobile(mobile)
        except HuyiApiError:
            return mobile


def phone_payload(gateway: SandboxGateway, mobile: str) -> dict[str, Any]:
    """What ``mobile`` got, as plain data for JSON (``/phone/<mobile>.json``).

    The number, its latest code, its messages and the replies sent from it, newest first.
    """
    return {
        "mobile": mobile,
        "latest_code": gateway.latest_code(mobile),
        "messages": [message.as_dict() for message in gateway.messages_for(mobile)],
        "replies": [asdict(reply) for reply in gateway.replies_for(mobile)],
    }


def _field(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    if isinstance(value, (list, tuple)):  # parse_qs-style values
        value = value[-1] if value else ""
    return "" if value is None else str(value)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


_EDGE_SIGNATURE = re.compile(r"^【(?!变量】)[^【】]*】|【(?!变量】)[^【】]*】$")


def _without_signature(text: str) -> str:
    """``text`` without a leading or trailing ``【signature】`` (templates may be registered either way)."""
    return _EDGE_SIGNATURE.sub("", text.strip()).strip()


def _template_patterns(template: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Regexes matching texts made from ``template``: variables of at most 8 characters, and of any length."""
    pieces = [re.escape(piece) for piece in _without_signature(template).split(_VARIABLE)]
    short = f"(.{{1,{_MAX_VARIABLE_LENGTH}}}?)".join(pieces)
    loose = "(.+?)".join(pieces)
    return re.compile(short, re.DOTALL), re.compile(loose, re.DOTALL)


# What a refusal carries besides code and msg: the provider's "nothing" for each reply.
_EMPTY_EXTRA: dict[str, dict[str, Any]] = {
    "SubmitResult": {"smsid": "0"},
    "GetNumResult": {"num": 0},
    "AddTemplateResult": {"templateid": 0},
}


def _render(element: str, fields: Mapping[str, Any], as_json: bool) -> tuple[str, bytes]:
    if as_json:
        body = json.dumps(dict(fields), ensure_ascii=False, separators=(",", ":"))
        return "application/json; charset=utf-8", body.encode("utf-8")
    inner = "".join(f"<{name}>{escape(str(value))}</{name}>" for name, value in fields.items())
    body = f'<?xml version="1.0" encoding="utf-8"?>\n<{element} xmlns="106.ihuyi.com">{inner}</{element}>'
    return "text/xml; charset=utf-8", body.encode("utf-8")
