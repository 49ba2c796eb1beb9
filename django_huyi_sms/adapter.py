"""Behaviour a site commonly changes, in one class to subclass (like django-allauth's adapter).

Point ``HUYI_SMS["ADAPTER"]`` at a subclass of :class:`HuyiAdapter` and
override what you need: the check that runs before any code is sent (a
captcha), the text of the code message, how a number is normalised.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from .conf import huyi_settings
from .validation import normalize_mobile


class HuyiAdapter:
    def normalize_mobile(self, mobile: str) -> str:
        """The number as stored and sent to. Raises ``HuyiRecipientError`` (403/406)."""
        return normalize_mobile(mobile)

    def pre_send_check(self, request: HttpRequest | None, mobile: str, purpose: str) -> None:
        """Runs before any code is sent; raise an ``OtpError`` (e.g. ``ChallengeFailed``) to refuse.

        The provider's anti-abuse advice is to put a graphic captcha (or an
        equivalent challenge) in front of "send code": check it here. The
        default accepts every request; per-number limits still apply.
        """

    def code_message(self, code: str, purpose: str) -> str:
        """The text of the SMS that carries ``code``: ``OTP["TEMPLATE"]`` by default."""
        return huyi_settings.OTP["TEMPLATE"].format(code=code)


def get_adapter() -> Any:
    return huyi_settings.ADAPTER()
