"""The opt-out list: numbers that must not get marketing messages.

A number is on it once it replied an opt-out word (``T``, ``TD``, ``N``,
``退订``), once the provider blacklisted it (4030, 408), or once an operator
added it in the admin. The only module that writes ``OptOut`` rows.
"""

from __future__ import annotations

import unicodedata

from django.db import IntegrityError, transaction

from .exceptions import ResultCode, error_for_code
from .models import OptOut, UpstreamReply

__all__ = ["OPT_OUT_WORDS", "MARKETING_PRODUCTS", "is_opt_out", "is_opted_out", "opt_out", "check_may_receive"]

#: Replies that mean "stop sending me marketing", compared case- and space-insensitively.
OPT_OUT_WORDS = frozenset({"t", "td", "n", "退订"})

#: The products an opted-out number must not get.
MARKETING_PRODUCTS = frozenset({"marketing"})


def is_opt_out(content: str) -> bool:
    """True for a reply of ``T``, ``TD``, ``N`` or ``退订``, whatever the case and spacing.

    Full-width letters (``ＴＤ``, what a Chinese input method often types) count:
    the reply is NFKC-normalised first.
    """
    return "".join(unicodedata.normalize("NFKC", str(content)).split()).casefold() in OPT_OUT_WORDS


def is_opted_out(mobile: str) -> bool:
    return OptOut.objects.filter(mobile=mobile).exists()


def check_may_receive(mobile: str, product: str) -> None:
    """Refuse a marketing message to a number on the list, as the provider refuses a blacklisted one (4030)."""
    if product in MARKETING_PRODUCTS and is_opted_out(mobile):
        raise error_for_code(ResultCode.MOBILE_BLACKLISTED, detail="the number opted out of marketing messages")


def opt_out(mobile: str, reason: str, *, reply: UpstreamReply | None = None) -> OptOut:
    """Add ``mobile`` to the opt-out list (once; the first reason stays)."""
    try:
        with transaction.atomic():
            optout, _created = OptOut.objects.get_or_create(mobile=mobile, defaults={"reason": reason, "reply": reply})
    except IntegrityError:  # a concurrent opt-out of the same number won
        optout = OptOut.objects.get(mobile=mobile)
    return optout
