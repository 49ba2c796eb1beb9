"""The provider's rules on one request, as plain functions with no gateway state.

Each check returns quietly or raises the ``HuyiApiError`` the provider's code
stands for (``exceptions.error_for_code``), so the gateway only decides the
order they run in. What a rule needs — the account's key, its approved
templates and signatures, the sandbox's settings — is passed in; the
per-number limits, which need what each number received, are in
``limits.py``. Pure Python; no Django.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from collections.abc import Collection, Iterable
from datetime import datetime

from ..exceptions import ResultCode, error_for_code
from ..provider import CHINA, TIME_FORMAT, dynamic_password, md5_hex
from ..template_variables import (
    MAX_VERIFICATION_VARIABLE_LENGTH,
    VARIABLE,
    check_values,
    is_verification_template,
    render,
    speaks_of_a_code,
    split,
)
from ..validation import find_signatures, normalize_mobile, validate_content, validate_mobiles
from .config import SandboxConfig
from .wire import Request

__all__ = [
    "admit",
    "check_credentials",
    "check_access",
    "recipients",
    "scheduled_time",
    "check_sensitive_words",
    "is_verification",
    "check_templates",
    "fill_template",
    "check_signatures",
]

# A 【signature】 at either end of a text, that is not a variable.
_EDGE_SIGNATURE = re.compile(r"^【(?!变量[0-9]*】)[^【】]*】|【(?!变量[0-9]*】)[^【】]*】$")


def admit(
    request: Request, config: SandboxConfig, *, remote_addr: str, now: float, signed: tuple[str, ...] | None
) -> str:
    """The checks every method starts with: credentials, then the account's state. Returns the APIID.

    ``signed`` as for :func:`check_credentials`. Raises ``HuyiConfigurationError``
    or ``HuyiAccountError`` with the provider's code.
    """
    account = request.account
    check_credentials(
        account,
        request.password,
        request.time,
        key=config.accounts.get(account),
        signed=signed,
        now=now,
        max_clock_skew=config.max_clock_skew,
    )
    check_access(
        remote_addr, frozen=account in config.frozen_accounts, allowed_networks=config.allowed_ips.get(account)
    )
    return account


def check_credentials(
    account: str,
    password: str,
    request_time: str,
    *,
    key: str | None,
    signed: tuple[str, ...] | None,
    now: float,
    max_clock_skew: float,
) -> None:
    """401 / 402 / 4053, then the password (405 / 40501 / 40502): the plain APIKEY, or a dynamic password.

    ``key`` is the account's APIKEY (``None``: no such account, 4053). ``signed`` are
    the fields between key and time in the dynamic password (Submit: mobile
    and content; GetNum: none); ``None`` means AddTemplate, which takes the
    plain key or ``md5(key)`` and no time. Raises ``HuyiConfigurationError``.
    """
    if not account:
        raise error_for_code(ResultCode.ACCOUNT_EMPTY)
    if not password:
        raise error_for_code(ResultCode.PASSWORD_EMPTY)
    if key is None:
        raise error_for_code(ResultCode.ACCOUNT_UNKNOWN)
    # compare_digest: the answer must not leak how much of a guessed password was right.
    if signed is None:
        if not (_same(password, key) or _same(password, md5_hex(key))):
            raise error_for_code(ResultCode.BAD_CREDENTIALS)
    elif request_time:
        # The time is checked first: a stale or absent clock is the likelier mistake, and the
        # provider documents 40501 before 40502.
        fresh = request_time.isascii() and request_time.isdigit()
        if not fresh or abs(now - int(request_time)) > max_clock_skew:
            raise error_for_code(ResultCode.PASSWORD_EXPIRED)
        if not _same(password, dynamic_password(account, key, *signed, request_time)):
            raise error_for_code(ResultCode.PASSWORD_MISMATCH)
    elif not _same(password, key):
        raise error_for_code(ResultCode.BAD_CREDENTIALS)


def check_access(remote_addr: str, *, frozen: bool, allowed_networks: Iterable[str] | None) -> None:
    """4050 for a frozen account; 4052 when ``remote_addr`` is outside the account's registered networks.

    ``allowed_networks`` ``None`` means the account registered none and may
    call from anywhere. Raises ``HuyiAccountError`` / ``HuyiConfigurationError``.
    """
    if frozen:
        raise error_for_code(ResultCode.ACCOUNT_FROZEN)
    if allowed_networks is None:
        return
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        raise error_for_code(ResultCode.IP_NOT_REGISTERED) from None
    if not any(address in ipaddress.ip_network(network) for network in allowed_networks):
        raise error_for_code(ResultCode.IP_NOT_REGISTERED)


def recipients(product: str, mobile: str) -> list[str]:
    """The numbers a Submit's ``mobile`` field names: several for marketing, exactly one otherwise.

    The same normalisation as ``validation.py``, so the sandbox refuses exactly
    what a local check refuses. Raises ``HuyiRecipientError`` (403, 406).
    """
    if product == "marketing":
        return validate_mobiles(mobile)
    return [normalize_mobile(mobile, international=product == "international")]


def scheduled_time(product: str, stime: str) -> float | None:
    """When a Submit's ``stime`` has the message sent (Unix seconds); ``None``: at once.

    Only the marketing product schedules; the others ignore the field, as they
    document none. ``stime`` is China time, ``YYYY-mm-dd HH:MM:SS``. The vendor
    does not say what it answers to another form: the sandbox refuses it with
    its catch-all code 0, so that a client that writes the time some other way
    finds out here rather than on a real send. Raises ``HuyiProviderError``.
    """
    if product != "marketing" or not stime.strip():
        return None
    try:
        return datetime.strptime(stime.strip(), TIME_FORMAT).replace(tzinfo=CHINA).timestamp()
    except ValueError:
        raise error_for_code(
            ResultCode.SUBMIT_FAILED, detail=f"stime {stime[:40]!r} is not YYYY-mm-dd HH:MM:SS (China time)"
        ) from None


def check_sensitive_words(content: str, words: Iterable[str]) -> None:
    """407 when ``content`` holds one of ``words``, whatever the case. Raises ``HuyiContentError``."""
    lowered = content.lower()
    if any(word.lower() in lowered for word in words):
        raise error_for_code(ResultCode.SENSITIVE_WORDS)


def is_verification(product: str, content: str) -> bool:
    """Whether a message counts as a verification code for the provider's daily code cap (4085).

    The provider does not say how it tells; a voice code always is, and a text
    is when it says so (``验证码`` or ``code``).
    """
    return product == "voice" or speaks_of_a_code(content)


def check_templates(content: str, approved: Collection[str] | None) -> None:
    """4071 / 40722 / 4072 unless ``content`` is one of the ``approved`` templates with its variables filled.

    A verification template's variables take at most 8 characters (40722
    past that); other templates' take any length, as the vendor's own
    example sends an 11-digit order number.

    ``approved`` ``None`` means the account is not held to templates. A
    ``【signature】`` at either end of text or template is ignored, since
    templates are registered with or without one. Raises ``HuyiContentError``.
    """
    if approved is None:
        return
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


def fill_template(template: str | None, content: str) -> str:
    """A template send's message: ``template`` filled with the ``|``-separated variables of ``content``.

    ``template`` is the text the request's templateid names (``None``: none the
    account may send). Raises ``HuyiContentError``: 4071 for no template, 4072
    for a wrong number of variables, 40722 for a verification template's
    variable past 8 characters, and what ``validate_content`` raises for the
    rendered text (``template_variables.py`` has the rules, which the app's own
    check before sending runs too).
    """
    if template is None:
        raise error_for_code(ResultCode.NO_TEMPLATE)
    return validate_content(render(template, check_values(template, split(content))))


def check_signatures(content: str, approved: Collection[str] | None) -> None:
    """4075 when ``content`` carries a ``【signature】`` not in ``approved`` (``None``: any is fine).

    Raises ``HuyiContentError``.
    """
    if approved is None:
        return
    if any(signature not in approved for signature in find_signatures(content)):
        raise error_for_code(ResultCode.SIGNATURE_NOT_APPROVED)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _without_signature(text: str) -> str:
    return _EDGE_SIGNATURE.sub("", text.strip()).strip()


def _template_patterns(template: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Regexes matching texts made from ``template``: variables of the length allowed, and of any length."""
    pieces = [re.escape(piece) for piece in VARIABLE.split(_without_signature(template))]
    allowed = f"{{1,{MAX_VERIFICATION_VARIABLE_LENGTH}}}" if is_verification_template(template) else "+"
    short = f"(.{allowed}?)".join(pieces)
    loose = "(.+?)".join(pieces)
    return re.compile(short, re.DOTALL), re.compile(loose, re.DOTALL)
