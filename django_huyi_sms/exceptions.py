"""Exceptions, and the one table of the provider's result codes.

Every ihuyi result code is listed once, in :data:`RESULT_CODES`, with the
provider's own Chinese text, an English one, and the exception class that
stands for its class of failure. Nothing else in the package hard-codes a code
number: local validation, the client and the sandbox all look codes up here, so
a check made before the HTTP call raises exactly what the provider would have.

This module imports nothing from Django: ``client.py`` uses it from scripts.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "HuyiError",
    "HuyiApiError",
    "HuyiProviderError",
    "HuyiConfigurationError",
    "HuyiAccountError",
    "HuyiRecipientError",
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
    "DailyLimitReached",
    "ChallengeFailed",
    "RateLimited",
    "NotSignedIn",
    "ResultCode",
    "RESULT_CODES",
    "ACCEPTED",
    "BLACKLIST_CODES",
    "MOBILE_BLACKLISTED",
    "error_for_code",
    "result_code",
]


class HuyiError(Exception):
    """Base class of every error this package raises."""


class HuyiApiError(HuyiError):
    """A send, balance or template call did not succeed.

    ``code`` is the provider's result code (an ``int``), or ``None`` when the
    failure happened before a result code existed (a transport error).
    ``msg`` is the provider's text (Chinese) when it sent one. ``log`` is the
    ``SmsLog`` row the failure was recorded on, when a send raised it.
    """

    log: object = None

    def __init__(self, code: int | None, msg: str = "", *, detail: str = "") -> None:
        self.code = code
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
        return f"{self.__class__.__name__}(code={self.code!r}, msg={self.msg!r})"


class HuyiProviderError(HuyiApiError):
    """The provider refused without saying why (code 0), or sent a code we do not know."""


class HuyiConfigurationError(HuyiApiError):
    """Our side is set up wrongly: credentials, allowed IP, clock (dynamic password)."""


class HuyiAccountError(HuyiApiError):
    """The account cannot send: frozen, or no messages left."""


class HuyiRecipientError(HuyiApiError):
    """The mobile number is missing, malformed or blacklisted."""


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


@dataclass(frozen=True)
class ResultCode:
    code: int
    zh: str
    en: str
    error: type[HuyiApiError] | None  # None: success


ACCEPTED = 2

_TABLE: tuple[ResultCode, ...] = (
    ResultCode(0, "提交失败", "submit failed", HuyiProviderError),
    ResultCode(2, "提交成功", "accepted", None),
    ResultCode(400, "非法ip访问", "IP address not allowed", HuyiConfigurationError),
    ResultCode(401, "帐号不能为空", "account (APIID) is empty", HuyiConfigurationError),
    ResultCode(402, "密码不能为空", "password (APIKEY) is empty", HuyiConfigurationError),
    ResultCode(403, "手机号码不能为空", "mobile number is empty", HuyiRecipientError),
    ResultCode(4030, "手机号码已被列入黑名单", "mobile number is blacklisted", HuyiRecipientError),
    ResultCode(404, "短信内容不能为空", "message content is empty", HuyiContentError),
    ResultCode(405, "API ID 或 API KEY 不正确", "APIID or APIKEY is wrong", HuyiConfigurationError),
    ResultCode(4050, "账号被冻结", "account is frozen", HuyiAccountError),
    ResultCode(
        40501,
        "动态密码已过期",
        "dynamic password expired: check this server's clock (NTP)",
        HuyiConfigurationError,
    ),
    ResultCode(40502, "动态密码校验失败", "dynamic password mismatch: check APIID/APIKEY", HuyiConfigurationError),
    ResultCode(4051, "剩余条数不足", "no messages left on the account", HuyiAccountError),
    ResultCode(4052, "访问ip与备案ip不符", "IP address differs from the registered IP", HuyiConfigurationError),
    ResultCode(406, "手机号码格式不正确", "mobile number format is invalid", HuyiRecipientError),
    ResultCode(407, "短信内容含有敏感字符", "content contains sensitive words", HuyiContentError),
    ResultCode(4070, "签名格式不正确", "signature 【…】 format is invalid", HuyiContentError),
    ResultCode(4071, "没有提交备案模板", "no registered template", HuyiContentError),
    ResultCode(
        4072,
        "提交的短信内容与审核通过的模板内容不匹配",
        "content matches no approved template",
        HuyiContentError,
    ),
    ResultCode(40722, "变量内容超过指定的长度【8】", "a template variable is longer than 8 characters", HuyiContentError),
    ResultCode(4073, "短信内容超出长度限制", "content is too long", HuyiContentError),
    ResultCode(4074, "短信内容包含 emoji 符号", "content contains emoji", HuyiContentError),
    ResultCode(4075, "签名未通过审核", "signature is not approved", HuyiContentError),
    ResultCode(408, "发送超限([20]条),已加入黑名单", "too many sends: number blacklisted", HuyiRateLimitError),
    ResultCode(
        4080,
        "同一手机号码同一秒钟之内发送频率不能超过1条",
        "more than one message a second to this number",
        HuyiRateLimitError,
    ),
    ResultCode(4082, "超出同一手机号一天之内【5】条短信限制", "daily message limit for this number reached", HuyiRateLimitError),
    ResultCode(
        4085,
        "同一手机号验证码短信发送超出【5】条",
        "daily verification-code limit for this number reached",
        HuyiRateLimitError,
    ),
)

#: Codes that mean the provider has blacklisted the number (it must not get marketing either).
BLACKLIST_CODES = frozenset({4030, 408})
#: The code for "mobile blacklisted", also raised locally for a number that opted out of marketing.
MOBILE_BLACKLISTED = 4030

#: Every documented result code, by number.
RESULT_CODES: dict[int, ResultCode] = {entry.code: entry for entry in _TABLE}


def result_code(code: int) -> ResultCode:
    """The table entry for ``code``. Raises ``KeyError`` for an undocumented code."""
    return RESULT_CODES[code]


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
    return entry.error(code, entry.zh if msg is None else msg, detail=detail)


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

    ``code`` is a stable machine-readable string (the JSON API's ``code``);
    ``str(error)`` is a sentence for the person, in the active language.
    """

    code = "otp_error"
    default_message = gettext_noop("The code could not be verified.")

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or _translated(self.default_message))


class InvalidCode(OtpError):
    code = "invalid_code"
    default_message = gettext_noop("The code is not correct.")


class CodeExpired(OtpError):
    code = "code_expired"
    default_message = gettext_noop("The code has expired; ask for a new one.")


class TooManyAttempts(OtpError):
    code = "too_many_attempts"
    default_message = gettext_noop("Too many wrong tries; ask for a new code.")


class ChallengeFailed(OtpError):
    """The adapter's ``pre_send_check`` refused the request (a captcha not solved, say)."""

    code = "challenge_failed"
    default_message = gettext_noop("Please complete the verification before asking for a code.")


class NotSignedIn(OtpError):
    """Verifying a phone number needs a signed-in user."""

    code = "not_authenticated"
    default_message = gettext_noop("Sign in to verify a phone number.")


class _RetryLater(OtpError):
    """Refused for now; ``retry_after`` says how many seconds to wait."""

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(message)


class ResendTooSoon(_RetryLater):
    """A code was sent to this number too recently."""

    code = "resend_too_soon"
    default_message = gettext_noop("A code was sent moments ago; wait before asking again.")


class DailyLimitReached(_RetryLater):
    """The number has had as many codes today as ``OTP["DAILY_LIMIT"]`` allows."""

    code = "daily_limit"
    default_message = gettext_noop("Too many codes for this number today.")


class RateLimited(_RetryLater):
    """Too many requests from one address (``RATELIMITS``); the per-number limits are separate."""

    code = "rate_limited"
    default_message = gettext_noop("Too many requests from your network; try again later.")
