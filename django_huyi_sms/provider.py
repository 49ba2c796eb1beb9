"""What ihuyi is, as this package needs to know it: products, endpoints, methods, signing, formats.

The provider's facts (``ihuyi-api.md``) in one place, for every part of the
package: the client speaks the wire with them, the sandbox imitates the
provider with them, and settings, models, the admin, views and commands read
them from here without importing the HTTP client. Result codes are the one
exception: they live in ``exceptions.py`` with the errors they raise.

Imports nothing from Django (``client.py`` uses it from scripts).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta, timezone

__all__ = [
    "PRODUCTS",
    "VOICE_PRODUCTS",
    "DEFAULT_API_URLS",
    "PROVIDER_DOMAINS",
    "SIGN_DYNAMIC",
    "SIGN_PLAIN",
    "SIGN_MODES",
    "RESULT_ELEMENTS",
    "NO_SMSID",
    "TIME_FORMAT",
    "CHINA",
    "SubmitResult",
    "BalanceResult",
    "TemplateResult",
    "check_product",
    "is_provider_host",
    "md5_hex",
    "dynamic_password",
    "mask_mobile",
]

#: The provider's products, by the names this package uses for them.
PRODUCTS = ("sms", "marketing", "voice", "voice_notice", "international")
#: The products that call the number and speak: ``voice`` speaks a code (its ``content`` is the
#: digits), ``voice_notice`` a notice's text.
VOICE_PRODUCTS = ("voice", "voice_notice")

#: Each product's endpoint (ihuyi-api.md, "Products and endpoints").
DEFAULT_API_URLS: dict[str, str] = {
    "sms": "https://106.ihuyi.com/webservice/sms.php",
    "marketing": "https://api.yx.ihuyi.com/webservice/sms.php",
    "voice": "https://api.voice.ihuyi.com/webservice/voice.php",
    "voice_notice": "https://api.vm.ihuyi.com/webservice/voice.php",
    "international": "https://api.isms.ihuyi.com/webservice/isms.php",
}

#: Every ihuyi endpoint is on one of these domains (106.ihuyi.com, 106.ihuyi.cn, api.yx.ihuyi.com …).
PROVIDER_DOMAINS = ("ihuyi.com", "ihuyi.cn")

#: ``password`` is an MD5 over the request and the time (the default), or the APIKEY itself.
SIGN_DYNAMIC = "dynamic"
SIGN_PLAIN = "plain"
SIGN_MODES = (SIGN_DYNAMIC, SIGN_PLAIN)

#: The methods (``?method=…``), each with the root element of its XML reply.
RESULT_ELEMENTS: dict[str, str] = {
    "Submit": "SubmitResult",
    "GetNum": "GetNumResult",
    "AddTemplate": "AddTemplateResult",
}

#: Submit's ``smsid`` when nothing was accepted.
NO_SMSID = "0"

#: How the provider writes a time: ``stime`` in a Submit, ``report_time`` and ``reply_time`` in pushes.
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
#: …always in China time (UTC+8, no daylight saving).
CHINA = timezone(timedelta(hours=8), "China")


@dataclass(frozen=True)
class SubmitResult:
    """An accepted Submit: ``code`` is ``ResultCode.ACCEPTED``; ``smsid`` names the message in receipts."""

    code: int
    msg: str
    smsid: str


@dataclass(frozen=True)
class BalanceResult:
    """A GetNum answer: ``num`` messages left on the account."""

    code: int
    msg: str
    num: int


@dataclass(frozen=True)
class TemplateResult:
    """An accepted AddTemplate: the template waits for review under ``templateid``."""

    code: int
    msg: str
    templateid: int


def check_product(product: str, *, error: type[Exception] = ValueError) -> str:
    """``product`` if the provider has it. Raises ``error`` naming the products otherwise."""
    if product not in PRODUCTS:
        raise error(f"unknown product {product!r}; expected one of {', '.join(PRODUCTS)}")
    return product


def is_provider_host(host: str) -> bool:
    """Whether ``host`` (a URL's hostname) is ihuyi's: one of :data:`PROVIDER_DOMAINS` or under one."""
    host = host.lower().rstrip(".")
    return any(host == domain or host.endswith(f".{domain}") for domain in PROVIDER_DOMAINS)


def md5_hex(text: str) -> str:
    """Lowercase hex MD5 of ``text`` as UTF-8, as the provider signs."""
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def dynamic_password(*parts: str | int) -> str:
    """The provider's dynamic password: lowercase hex MD5 of the parts joined, as UTF-8.

    Submit signs ``account + apikey + mobile + content + time``; GetNum signs
    ``account + apikey + time``.
    """
    return md5_hex("".join(str(part) for part in parts))


def mask_mobile(mobile: str) -> str:
    """``13800138000`` → ``138****8000``; ``44 7400123456`` → ``44 ****3456``; short or odd values masked whole.

    An international number (as the international product writes it: country
    code, a space, the number) keeps its country code and its last four digits
    only: national numbers are shorter than mainland ones (ten digits in North
    America, eight in Hong Kong), and the mainland pattern would leave just
    one to three of them hidden.
    """
    mobile = str(mobile or "")
    country_code, space, number = mobile.partition(" ")
    if space and country_code.isdigit() and len(number) >= 7:
        return f"{country_code} ****{number[-4:]}"
    if len(mobile) >= 7:
        return f"{mobile[:3]}****{mobile[-4:]}"
    return "*" * len(mobile)
