"""What one number may receive: the blacklist and the per-number limits, with the provider's codes.

- 4030: the number is blacklisted (configured, or blacklisted here);
- 4080: more than one message a second;
- 4085: more than ``daily_code_limit`` verification codes in a China calendar day;
- 4082: more than ``daily_limit`` messages a day, or the same text more than
  ``identical_per_minute`` times a minute or ``identical_per_day`` times a day;
- 408: the refusal that makes ``blacklist_after`` over-limit attempts in a day,
  which blacklists the number.

Pure Python; no Django. Not thread-safe: the gateway checks and then records
a message under one lock, so two sends cannot both pass the same limit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime

from ..exceptions import ResultCode, error_for_code
from ..provider import CHINA
from .config import SandboxConfig
from .inbox import SandboxMessage

__all__ = ["RecipientLimits"]

# The windows of the one-a-second rule and of the identical-message cap.
_SECOND = 1.0
_MINUTE = 60.0


class RecipientLimits:
    """The blacklist and the count of over-limit attempts per number and day, for one gateway."""

    def __init__(self, config: SandboxConfig) -> None:
        self._config = config
        self._blacklist: set[str] = set(config.blacklist)
        self._over_limit: defaultdict[tuple[str, date], int] = defaultdict(int)

    def check(
        self, mobile: str, content: str, *, verification: bool, now: float, history: Sequence[SandboxMessage]
    ) -> None:
        """Raise the provider's error if ``mobile`` may not receive ``content`` at ``now``.

        ``history`` is what the number received, oldest first. Each refusal
        counts towards the blacklist. Raises ``HuyiRecipientError`` (4030) or
        ``HuyiRateLimitError`` (408, 4080, 4082, 4085).
        """
        if mobile in self._blacklist:
            raise error_for_code(ResultCode.MOBILE_BLACKLISTED)
        code = self._over_limit_code(content, verification, now, history)
        if code is None:
            return
        today = _china_date(now)
        self._over_limit[mobile, today] += 1
        if self._over_limit[mobile, today] >= self._config.blacklist_after:
            self._blacklist.add(mobile)
            raise error_for_code(ResultCode.BLACKLISTED_FOR_EXCESS)
        raise error_for_code(code)

    def _over_limit_code(
        self, content: str, verification: bool, now: float, history: Sequence[SandboxMessage]
    ) -> ResultCode | None:
        config = self._config
        today = _china_date(now)
        todays = [message for message in history if _china_date(message.received_at) == today]
        identical = [message for message in todays if message.content == content]
        # The tightest window first; a verification text meets its own daily cap (4085) before
        # the general one (4082), which is what the provider's two texts suggest.
        if history and now - history[-1].received_at < _SECOND:
            return ResultCode.TOO_FAST
        if verification and sum(message.verification for message in todays) >= config.daily_code_limit:
            return ResultCode.DAILY_CODE_LIMIT
        if len(todays) >= config.daily_limit:
            return ResultCode.DAILY_LIMIT
        if (
            sum(now - message.received_at < _MINUTE for message in identical) >= config.identical_per_minute
            or len(identical) >= config.identical_per_day
        ):
            # The vendor caps identical messages (2 a minute, 20 a day) but documents no code for
            # it; 4082, the per-number daily cap, is the nearest it has.
            return ResultCode.DAILY_LIMIT
        return None


def _china_date(unix_seconds: float) -> date:
    # The provider's days are China calendar days, whatever this machine's time zone.
    return datetime.fromtimestamp(unix_seconds, CHINA).date()
