"""Exceptions, and the one table of the provider's result codes.

Every ihuyi result code has a name in :class:`ResultCode` and is listed once,
in :data:`RESULT_CODES`, with the provider's own Chinese text, an English one,
and the exception class that stands for its class of failure. The codes of the
pushes are named here too (:class:`ReceiptCode`, :class:`ReviewCode`). Nothing
else in the package writes a code's number: local validation, the client and
the sandbox all name codes from here, so a check made before the HTTP call
raises exactly what the provider would have.

``code`` means one thing on every exception of this package: the provider's
result code (a :class:`ResultCode`; a plain ``int`` for a code the provider
does not document), or ``None`` where there is none: a transport failure, or an
:class:`OtpError`, whose machine-readable name is its ``reason``.

This module imports nothing from Django: ``client.py`` uses it from scripts.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any

__all__ = [
    "HuyiError",
    "HuyiApiError",
    "HuyiProviderError",
    "HuyiConfigurationError",
    "HuyiAccountError",
    "HuyiRecipientError",
    "InvalidMobiles",
    "HuyiContentError",
    "HuyiRateLimitError",
    "HuyiTransportError",
    "HuyiConnectionError",
    "HuyiResponseError",
    "OtpError",
    "InvalidCode",
    "CodeExpired",
    "TooManyAttempts",
    "ResendTooSoon",
    "VoiceTooSoon",
    "VoiceNotOffered",
    "DailyLimitReached",
    "SiteLimitReached",
    "ChallengeFailed",
    "RateLimited",
    "NotSignedIn",
    "ResultCode",
    "ReceiptCode",
    "ReviewCode",
    "CodeInfo",
    "RESULT_CODES",
    "BLACKLIST_CODES",
    "error_for_code",
    "result_code",
]


class HuyiError(Exception):
    """Base class of every error this package raises.

    ``code`` is the provider's result code where one exists, else ``None``.
    """

    code: int | None = None


class HuyiApiError(HuyiError):
    """A send, balance or template call did not succeed.

    ``code`` is the provider's result code (a :class:`ResultCode`, or a plain
    ``int`` for an undocumented one), or ``None`` when the failure happened
    before a result code existed (a transport error).
    ``msg`` is the provider's text (Chinese) when it sent one. ``log`` is the
    ``SmsLog`` row the failure was recorded on, when a send raised it.
    """

    log: Any = None  # an SmsLog; typed loosely because this module imports nothing from Django

    def __init__(self, code: int | None, msg: str = "", *, detail: str = "") -> None:
        self.code = _named(code)
        self.msg = msg
        self.detail = detail
        super().__init__(code, msg)

    def __str__(self) -> str:
        parts = []
        if self.code is not None:
            parts.append(f"[{self.code}]")
        if self.msg:
            parts.append(self.msg)
        known = RESULT_CODES.get(self.code) if self.code is not None else None
        if known is not None and known.en and known.en not in parts:
            parts.append(f"({known.en})")
        if self.detail:
            parts.append(f"- {self.detail}")
        return " ".join(parts) or self.__class__.__name__

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(code={self.code}, msg={self.msg!r})"  # 4051, not <ResultCode…>


class HuyiProviderError(HuyiApiError):
    """The provider refused without saying why (code 0), or sent a code we do not know."""


class HuyiConfigurationError(HuyiApiError):
    """Our side is set up wrongly: credentials, allowed IP, clock (dynamic password)."""


class HuyiAccountError(HuyiApiError):
    """The account cannot send: frozen, or no messages left."""


class HuyiRecipientError(HuyiApiError):
    """The mobile number is missing, malformed or blacklisted."""


class InvalidMobiles(HuyiRecipientError):
    """Some of several numbers (a bulk send's) are not mobile numbers, code 406: nothing was written or sent.

    ``positions`` holds their 1-based positions among the numbers given, in order.
    """

    def __init__(
        self, code: int | None, msg: str = "", *, detail: str = "", positions: tuple[int, ...] = ()
    ) -> None:
        super().__init__(code, msg, detail=detail)
        self.positions = tuple(positions)


class HuyiContentError(HuyiApiError):
    """The text is empty, too long, has emoji or sensitive words, or a bad signature/template."""


class HuyiRateLimitError(HuyiApiError):
    """Too many messages to one number (per second, per day), or the number got blacklisted for it."""


class HuyiTransportError(HuyiApiError):
    """No valid answer came: the request may have reached the provider, or not.

    ``may_have_been_sent`` says which, from what happened on the wire. True (this
    class, and :class:`HuyiResponseError`): the request went out and no valid
    answer came back (a read timeout, a reset connection, an HTTP 5xx, garbage),
    so the provider may have accepted, charged and delivered the message; a send
    recorded this way is ``unknown`` and is never sent again automatically.
    False (:class:`HuyiConnectionError`): nothing was sent, so a retry is safe.
    """

    may_have_been_sent = True


class HuyiConnectionError(HuyiTransportError):
    """The request never left: DNS failure, connection refused, connect timeout, TLS failure.

    Nothing reached the provider, so the message was certainly not sent and may
    be sent again (queued sends are retried with backoff).
    """

    may_have_been_sent = False


class HuyiResponseError(HuyiTransportError):
    """The provider answered, but the body is not a well-formed, plausible ``SubmitResult`` / ``GetNumResult``.

    A body that cannot be read as a reply tells nothing about whether the message
    was accepted, so it counts as a request that may have been sent.
    """


class ResultCode(IntEnum):
    """The result codes of Submit, GetNum and AddTemplate (ihuyi-api.md, "Result codes")."""

    SUBMIT_FAILED = 0
    ACCEPTED = 2
    IP_NOT_ALLOWED = 400
    ACCOUNT_EMPTY = 401
    PASSWORD_EMPTY = 402
    MOBILE_EMPTY = 403
    MOBILE_BLACKLISTED = 4030
    CONTENT_EMPTY = 404
    BAD_CREDENTIALS = 405
    ACCOUNT_FROZEN = 4050
    ACCOUNT_UNKNOWN = 4053
    PASSWORD_EXPIRED = 40501
    PASSWORD_MISMATCH = 40502
    BALANCE_EXHAUSTED = 4051
    IP_NOT_REGISTERED = 4052
    MOBILE_INVALID = 406
    SENSITIVE_WORDS = 407
    SIGNATURE_INVALID = 4070
    NO_TEMPLATE = 4071
    TEMPLATE_MISMATCH = 4072
    VARIABLE_TOO_LONG = 40722
    CONTENT_TOO_LONG = 4073
    CONTENT_HAS_EMOJI = 4074
    SIGNATURE_NOT_APPROVED = 4075
    BLACKLISTED_FOR_EXCESS = 408
    TOO_FAST = 4080
    DAILY_LIMIT = 4082
    DAILY_CODE_LIMIT = 4085


class ReceiptCode(StrEnum):
    """A delivery receipt's ``code``: ``"2"`` is delivered; any other value is not.

    ihuyi documents only ``"2"``; ``UNDELIVERED`` is what the sandbox pushes for a message that
    did not arrive (real receipts may carry other codes: they mean the same).
    """

    DELIVERED = "2"
    UNDELIVERED = "0"


class ReviewCode(IntEnum):
    """A template review push's ``code``."""

    REJECTED = 0
    APPROVED = 2


@dataclass(frozen=True)
class CodeInfo:
    """What one result code means: the provider's text, ours, and the exception it raises (None: success)."""

    code: ResultCode
    zh: str
    en: str
    error: type[HuyiApiError] | None


_C = ResultCode
_TABLE: tuple[CodeInfo, ...] = (
    CodeInfo(_C.SUBMIT_FAILED, "提交失败", "submit failed", HuyiProviderError),
    CodeInfo(_C.ACCEPTED, "提交成功", "accepted", None),
    CodeInfo(_C.IP_NOT_ALLOWED, "非法ip访问", "IP address not allowed", HuyiConfigurationError),
    CodeInfo(_C.ACCOUNT_EMPTY, "帐号不能为空", "account (APIID) is empty", HuyiConfigurationError),
    CodeInfo(_C.PASSWORD_EMPTY, "密码不能为空", "password (APIKEY) is empty", HuyiConfigurationError),
    CodeInfo(_C.MOBILE_EMPTY, "手机号码不能为空", "mobile number is empty", HuyiRecipientError),
    CodeInfo(_C.MOBILE_BLACKLISTED, "手机号码已被列入黑名单", "mobile number is blacklisted", HuyiRecipientError),
    CodeInfo(_C.CONTENT_EMPTY, "短信内容不能为空", "message content is empty", HuyiContentError),
    CodeInfo(_C.BAD_CREDENTIALS, "API ID 或 API KEY 不正确", "APIID or APIKEY is wrong", HuyiConfigurationError),
    CodeInfo(_C.ACCOUNT_FROZEN, "账号被冻结", "account is frozen", HuyiAccountError),
    # Not in the vendor's table, but in its own demo data: the APIID names no account (of this product).
    CodeInfo(_C.ACCOUNT_UNKNOWN, "用户不存在", "no such account (APIID) for this product", HuyiConfigurationError),
    CodeInfo(
        _C.PASSWORD_EXPIRED,
        "动态密码已过期",
        "dynamic password expired: check this server's clock (NTP)",
        HuyiConfigurationError,
    ),
    CodeInfo(
        _C.PASSWORD_MISMATCH,
        "动态密码校验失败",
        "dynamic password mismatch: check APIID/APIKEY",
        HuyiConfigurationError,
    ),
    CodeInfo(_C.BALANCE_EXHAUSTED, "剩余条数不足", "no messages left on the account", HuyiAccountError),
    CodeInfo(
        _C.IP_NOT_REGISTERED,
        "访问ip与备案ip不符",
        "IP address differs from the registered IP",
        HuyiConfigurationError,
    ),
    CodeInfo(_C.MOBILE_INVALID, "手机号码格式不正确", "mobile number format is invalid", HuyiRecipientError),
    CodeInfo(_C.SENSITIVE_WORDS, "短信内容含有敏感字符", "content contains sensitive words", HuyiContentError),
    CodeInfo(_C.SIGNATURE_INVALID, "签名格式不正确", "signature 【…】 format is invalid", HuyiContentError),
    CodeInfo(_C.NO_TEMPLATE, "没有提交备案模板", "no registered template", HuyiContentError),
    CodeInfo(
        _C.TEMPLATE_MISMATCH,
        "提交的短信内容与审核通过的模板内容不匹配",
        "content matches no approved template",
        HuyiContentError,
    ),
    CodeInfo(
        _C.VARIABLE_TOO_LONG,
        "变量内容超过指定的长度【8】",
        "a template variable is longer than 8 characters",
        HuyiContentError,
    ),
    CodeInfo(_C.CONTENT_TOO_LONG, "短信内容超出长度限制", "content is too long", HuyiContentError),
    CodeInfo(_C.CONTENT_HAS_EMOJI, "短信内容包含 emoji 符号", "content contains emoji", HuyiContentError),
    CodeInfo(_C.SIGNATURE_NOT_APPROVED, "签名未通过审核", "signature is not approved", HuyiContentError),
    CodeInfo(
        _C.BLACKLISTED_FOR_EXCESS,
        "发送超限([20]条),已加入黑名单",
        "too many sends: number blacklisted",
        HuyiRateLimitError,
    ),
    CodeInfo(
        _C.TOO_FAST,
        "同一手机号码同一秒钟之内发送频率不能超过1条",
        "more than one message a second to this number",
        HuyiRateLimitError,
    ),
    CodeInfo(
        _C.DAILY_LIMIT,
        "超出同一手机号一天之内【5】条短信限制",
        "daily message limit for this number reached",
        HuyiRateLimitError,
    ),
    CodeInfo(
        _C.DAILY_CODE_LIMIT,
        "同一手机号验证码短信发送超出【5】条",
        "daily verification-code limit for this number reached",
        HuyiRateLimitError,
    ),
)
del _C

#: Codes that mean the provider has blacklisted the number (it must not get marketing either).
BLACKLIST_CODES = frozenset({ResultCode.MOBILE_BLACKLISTED, ResultCode.BLACKLISTED_FOR_EXCESS})

#: Every documented result code, by number.
RESULT_CODES: dict[int, CodeInfo] = {entry.code: entry for entry in _TABLE}


def result_code(code: int) -> CodeInfo:
    """The table entry for ``code``. Raises ``KeyError`` for an undocumented code."""
    return RESULT_CODES[code]


def _named(code: int | None) -> int | None:
    """``code`` as its :class:`ResultCode` when the provider documents it; as it is otherwise."""
    if code is None:
        return None
    entry = RESULT_CODES.get(code)
    return entry.code if entry is not None else code


def error_for_code(code: int, msg: str | None = None, *, detail: str = "") -> HuyiApiError:
    """Build the typed exception for a non-success provider ``code``.

    ``msg`` defaults to the provider's own text for the code, so a check made
    locally reads exactly like the provider's answer. An undocumented code
    becomes a :class:`HuyiProviderError` that keeps the number.
    """
    entry = RESULT_CODES.get(code)
    if entry is None:
        return HuyiProviderError(code, msg or "", detail=detail or "undocumented result code")
    if entry.error is None:
        raise ValueError(f"code {code} is a success, not an error")
    return entry.error(entry.code, entry.zh if msg is None else msg, detail=detail)


def gettext_noop(message: str) -> str:
    """Marks ``message`` for ``makemessages`` without importing Django here."""
    return message


def _translated(message: str) -> str:
    """``message`` in the active language, when Django is set up (it always is where codes are used)."""
    try:
        from django.utils.translation import gettext

        return gettext(message)
    except Exception:  # a script without Django settings: English it is
        return message


class OtpError(HuyiError):
    """A one-time code could not be issued or verified.

    ``reason`` is a stable machine-readable string (the JSON API's ``code``);
    ``str(error)`` is a sentence for the person, in the active language.
    ``code`` is ``None``: these refusals are ours, not the provider's.
    """

    reason = "otp_error"
    default_message = gettext_noop("The code could not be verified.")

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or _translated(self.default_message))


class InvalidCode(OtpError):
    reason = "invalid_code"
    default_message = gettext_noop("The code is not correct.")


class CodeExpired(OtpError):
    reason = "code_expired"
    default_message = gettext_noop("The code has expired; ask for a new one.")


class TooManyAttempts(OtpError):
    reason = "too_many_attempts"
    default_message = gettext_noop("Too many wrong tries; ask for a new code.")


class ChallengeFailed(OtpError):
    """The adapter's ``pre_send_check`` refused the request (a captcha not solved, say)."""

    reason = "challenge_failed"
    default_message = gettext_noop("Please complete the verification before asking for a code.")


class NotSignedIn(OtpError):
    """Verifying a phone number needs a signed-in user."""

    reason = "not_authenticated"
    default_message = gettext_noop("Sign in to verify a phone number.")


class _RetryLater(OtpError):
    """Refused for now; ``retry_after`` says how many seconds to wait."""

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(message)


class ResendTooSoon(_RetryLater):
    """A code was sent to this number too recently."""

    reason = "resend_too_soon"
    default_message = gettext_noop("A code was sent moments ago; wait before asking again.")


class VoiceTooSoon(ResendTooSoon):
    """A voice call was asked for before the number's SMS code had had ``OTP["VOICE_FALLBACK_AFTER"]`` seconds."""

    reason = "voice_too_soon"
    default_message = gettext_noop("Give the SMS a little longer to arrive before asking for a call.")


class VoiceNotOffered(OtpError):
    """A voice call was asked for through the pages or the API, which offer none (``VOICE_FALLBACK_AFTER`` is None)."""

    reason = "voice_not_offered"
    default_message = gettext_noop("Codes are not sent by voice call here.")


class DailyLimitReached(_RetryLater):
    """The number has had as many codes today as ``OTP["DAILY_LIMIT"]`` allows."""

    reason = "daily_limit"
    default_message = gettext_noop("Too many codes for this number today.")


class SiteLimitReached(_RetryLater):
    """The whole site has sent as many codes this hour or today as ``OTP["SITE_HOURLY_LIMIT"]`` /
    ``OTP["SITE_DAILY_LIMIT"]`` allow: a ceiling against SMS pumping, the same for every number.

    ``window`` is ``"hour"`` or ``"day"``; ``started`` the (aware) start of the window that is full.
    """

    reason = "site_limit"
    default_message = gettext_noop("Too many codes are being sent right now; try again later.")

    def __init__(self, retry_after: int, *, window: str = "", started: Any = None, limit: int = 0) -> None:
        super().__init__(retry_after)
        self.window = window
        self.started = started
        self.limit = limit


class RateLimited(_RetryLater):
    """Too many requests from one address (``RATELIMITS``); the per-number limits are separate."""

    reason = "rate_limited"
    default_message = gettext_noop("Too many requests from your network; try again later.")
