"""How a refused code request or check is told: to a person (forms) and to a program (the API).

One table for both, so a form and the JSON API never disagree on what an
error means. ``code`` is the API's stable machine string; ``message`` is in
the active language; ``retry_after`` is set for limits.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext

from .exceptions import (
    HuyiApiError,
    HuyiError,
    HuyiRateLimitError,
    HuyiRecipientError,
    NotSignedIn,
    OtpError,
)

__all__ = ["Problem", "describe"]

#: When the provider itself says "too many" it gives no time; a minute is its own 1/s and 2/min rules.
PROVIDER_RETRY_AFTER = 60


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    status: int
    retry_after: int | None = None

    def as_json(self) -> dict[str, object]:
        data: dict[str, object] = {"code": self.code, "detail": self.message}
        if self.retry_after is not None:
            data["retry_after"] = self.retry_after
        return data


def describe(error: HuyiError) -> Problem:
    """The :class:`Problem` for an error raised by ``flows`` (``OtpError`` or the send's ``HuyiApiError``)."""
    if isinstance(error, OtpError):
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return Problem(error.reason, str(error), 429, retry_after)
        status = 401 if isinstance(error, NotSignedIn) else 400
        return Problem(error.reason, str(error), status)
    if isinstance(error, HuyiRecipientError):
        return Problem("invalid_mobile", gettext("Enter a valid mobile number: 11 digits, starting with 1."), 400)
    if isinstance(error, HuyiRateLimitError):
        return Problem(
            "rate_limited",
            gettext("Too many messages to this number; try again later."),
            429,
            PROVIDER_RETRY_AFTER,
        )
    if isinstance(error, HuyiApiError):
        # Our account, our settings or the network: nothing the person can fix, so no detail.
        return Problem("sms_unavailable", gettext("The SMS could not be sent right now; try again later."), 503)
    return Problem("error", str(error), 400)
