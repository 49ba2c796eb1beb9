"""What the sandbox gateway is told: one frozen dataclass, checked once, whatever it was built from.

:class:`SandboxConfig` is the single source of the sandbox's settings. Its
fields, upper-cased, are the keys a site writes in ``HUYI_SMS["SANDBOX"]``
(``receipt_delay`` → ``RECEIPT_DELAY``); ``conf.py`` takes its defaults from
:meth:`SandboxConfig.setting_defaults`, ``manage.py huyi_sandbox`` overrides
fields by name, and tests build one with keyword arguments. Every value is
checked and normalised in ``__post_init__``, so the gateway never meets a
setting it has to doubt.

Pure Python; no Django (``state.py`` turns :class:`SandboxConfigError` into
``ImproperlyConfigured``).
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from ..exceptions import HuyiApiError
from ..validation import normalize_any_mobile
from .pusher import RETRY_INTERVALS, is_push_url

__all__ = ["DEFAULT_SENSITIVE_WORDS", "MAX_WAIT", "SandboxConfig", "SandboxConfigError"]

#: Words the sandbox refuses with 407 unless told otherwise (the provider publishes no list).
DEFAULT_SENSITIVE_WORDS: tuple[str, ...] = ("赌博", "代开发票")

#: The longest the sandbox waits before a push, in seconds: a day. No test or demo waits longer
#: on purpose, and a wait such as 1e308 s is more than any timer can hold.
MAX_WAIT = 86400.0

# The pair that the example project and the docs use, so a bare sandbox accepts what they say.
_DEFAULT_ACCOUNTS = MappingProxyType({"sandbox": "sandbox-api-key"})


class SandboxConfigError(ValueError):
    """A sandbox setting that cannot be used.

    ``field`` is the :class:`SandboxConfig` field (``None`` for unknown keys)
    and ``problem`` what is wrong with it, so that each caller can name the
    value as its user wrote it (a settings key, a command-line option).
    """

    def __init__(self, field: str | None, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field} {problem}" if field else problem)

    @property
    def setting(self) -> str | None:
        """The ``HUYI_SMS["SANDBOX"]`` key of :attr:`field`."""
        return self.field.upper() if self.field else None


# -- the check of each kind of field: returns the value normalised, or raises SandboxConfigError ----


def _whole(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SandboxConfigError(name, f"must be a whole number, 0 or more, not {value!r}")
    return value


def _seconds(name: str, value: Any) -> float:
    # An infinite delay or skew is refused too: a receipt that never comes makes wait_idle() hang.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise SandboxConfigError(name, f"must be a number, 0 or more, not {value!r}")
    return float(value)


def _delay(name: str, value: Any) -> float:
    seconds = _seconds(name, value)
    if seconds > MAX_WAIT:
        raise SandboxConfigError(name, f"must be at most {MAX_WAIT:g} seconds (a day), not {value!r}")
    return seconds


def _retry_scale(name: str, value: Any) -> float:
    scale = _seconds(name, value)
    longest = max(RETRY_INTERVALS)
    if scale * longest > MAX_WAIT:
        raise SandboxConfigError(
            name,
            f"must be at most {MAX_WAIT / longest:g} (the {longest:g} s retry interval then waits a day), "
            f"not {value!r}",
        )
    return scale


def _push_url(name: str, value: Any) -> str:
    url = "" if value is None else value
    if not isinstance(url, str) or (url and not is_push_url(url)):
        # The value is left out: a push URL carries the site's callback token.
        raise SandboxConfigError(name, "must be an http:// or https:// URL, or empty to push nothing")
    return url


def _strings(name: str, value: Any, *, what: str = "strings") -> tuple[str, ...]:
    # A bare string is iterable too, and would silently become one entry per character.
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise SandboxConfigError(name, f"must be a list of {what}, not {type(value).__name__}")
    items = tuple(value)
    if not all(isinstance(item, str) for item in items):
        raise SandboxConfigError(name, f"must be a list of {what}")
    return items


def _string_set(name: str, value: Any) -> frozenset[str]:
    return frozenset(_strings(name, value))


def _words(name: str, value: Any) -> tuple[str, ...]:
    return tuple(word for word in _strings(name, value) if word)


def _mobiles(name: str, value: Any) -> frozenset[str]:
    """Numbers as the gateway stores them, so that ``+86 139-0013-9000`` matches a send to ``13900139000``."""
    numbers = set()
    for position, mobile in enumerate(_strings(name, value, what="mobile numbers"), 1):
        try:
            numbers.add(normalize_any_mobile(mobile))
        except HuyiApiError:
            # The entry's position, not the entry: a number is personal data, even in an error.
            raise SandboxConfigError(name, f"entry {position} is not a mobile number") from None
    return frozenset(numbers)


def _per_account(name: str, value: Any, normalise_entries: Callable[[str, Any], Any]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SandboxConfigError(name, f"must be a dict of APIID → list, not {type(value).__name__}")
    if not all(isinstance(account, str) for account in value):
        raise SandboxConfigError(name, "must be keyed by APIID strings")
    return MappingProxyType({account: normalise_entries(name, entries) for account, entries in value.items()})


def _accounts(name: str, value: Any) -> Mapping[str, str]:
    if not isinstance(value, Mapping):
        raise SandboxConfigError(name, f"must be a dict of APIID → APIKEY, not {type(value).__name__}")
    for account, key in value.items():
        if not (isinstance(account, str) and account and isinstance(key, str) and key):
            raise SandboxConfigError(name, "must map non-empty APIID strings to non-empty APIKEY strings")
    return MappingProxyType(dict(value))


def _networks(name: str, value: Any) -> Mapping[str, tuple[str, ...]]:
    def parse(name: str, entries: Any) -> tuple[str, ...]:
        try:
            return tuple(str(ipaddress.ip_network(entry, strict=False)) for entry in _strings(name, entries))
        except ValueError as exc:
            raise SandboxConfigError(name, f"holds an address that is not an IP address or network: {exc}") from None

    return _per_account(name, value, parse)


def _templates(name: str, value: Any) -> Mapping[str, tuple[str, ...]]:
    def texts(name: str, entries: Any) -> tuple[str, ...]:
        found = _strings(name, entries, what="template texts")
        if not all(text.strip() for text in found):
            raise SandboxConfigError(name, "holds an empty template text")
        return found

    return _per_account(name, value, texts)


def _signatures(name: str, value: Any) -> Mapping[str, frozenset[str]]:
    # Stored without the brackets, as find_signatures() reads them; "【互亿无线】" means "互亿无线".
    def names(name: str, entries: Any) -> frozenset[str]:
        return frozenset(signature.strip().strip("【】") for signature in _strings(name, entries, what="signatures"))

    return _per_account(name, value, names)


def _setting(default: Any, check: Callable[[str, Any], Any]) -> Any:
    """A field with its default and the check that normalises what it is given.

    Through a factory: the read-only mappings are safe to share, but Python 3.11's
    dataclasses refuse any unhashable default (a ``MappingProxyType`` among them).
    """
    return field(default_factory=lambda: default, metadata={"check": check})


_NOTHING: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class SandboxConfig:
    """The sandbox's settings. Build it with keyword arguments or :meth:`from_setting`.

    Raises :class:`SandboxConfigError` for a value of the wrong type or out of
    range. Collections are stored read-only (tuples, frozensets, mapping
    proxies), so a gateway's settings cannot change under it.
    """

    #: APIID → APIKEY pairs the sandbox accepts, each for every product.
    accounts: Mapping[str, str] = _setting(_DEFAULT_ACCOUNTS, _accounts)
    #: Messages each account may send (billed parts are what is counted).
    balance: int = _setting(10000, _whole)
    #: Where delivery receipts, replies and template reviews are pushed; "" pushes nothing.
    receipt_url: str = _setting("", _push_url)
    reply_url: str = _setting("", _push_url)
    template_url: str = _setting("", _push_url)
    #: Seconds between an accepted Submit and its delivery receipt.
    receipt_delay: float = _setting(1.0, _delay)
    #: Multiplies the provider's 60 s / 120 s push retry intervals (tests use a small value).
    retry_scale: float = _setting(1.0, _retry_scale)
    #: How far a dynamic password's ``time`` may be from the sandbox clock before 40501.
    max_clock_skew: float = _setting(300.0, _seconds)
    #: Per number and China calendar day: messages (4082) and verification codes (4085).
    daily_limit: int = _setting(5, _whole)
    daily_code_limit: int = _setting(5, _whole)
    #: The same text to the same number, in a minute and in a day (answered 4082).
    identical_per_minute: int = _setting(2, _whole)
    identical_per_day: int = _setting(20, _whole)
    #: Over-limit attempts on one number in a day before it is blacklisted (408, later 4030).
    blacklist_after: int = _setting(20, _whole)
    #: Numbers blacklisted from the start (4030).
    blacklist: Collection[str] = _setting(frozenset(), _mobiles)
    #: Words refused with 407, case-insensitive.
    sensitive_words: Collection[str] = _setting(DEFAULT_SENSITIVE_WORDS, _words)
    #: APIIDs answered 4050 (account frozen).
    frozen_accounts: Collection[str] = _setting(frozenset(), _string_set)
    #: APIID → registered IPs or networks; other callers get 4052. Accounts not listed: any IP.
    allowed_ips: Mapping[str, Collection[str]] = _setting(_NOTHING, _networks)
    #: APIID → approved template texts ("…【变量】…"); a listed account must match one (4071/4072/40722).
    templates: Mapping[str, Collection[str]] = _setting(_NOTHING, _templates)
    #: APIID → approved signatures; a listed account may use only those 【signatures】 (4075).
    signatures: Mapping[str, Collection[str]] = _setting(_NOTHING, _signatures)
    #: Numbers whose delivery receipts say undelivered.
    undeliverable: Collection[str] = _setting(frozenset(), _mobiles)

    def __post_init__(self) -> None:
        for item in fields(self):
            object.__setattr__(self, item.name, item.metadata["check"](item.name, getattr(self, item.name)))

    @classmethod
    def from_setting(cls, values: Mapping[str, Any]) -> SandboxConfig:
        """A config from ``HUYI_SMS["SANDBOX"]``-style keys (``RECEIPT_URL``); missing keys take the defaults.

        Raises :class:`SandboxConfigError` for an unknown key or an unusable value.
        """
        known = {item.name.upper(): item.name for item in fields(cls)}
        unknown = sorted(str(key) for key in set(values) - set(known))
        if unknown:
            raise SandboxConfigError(
                None, f"has unknown keys: {', '.join(unknown)}. Known keys: {', '.join(sorted(known))}"
            )
        return cls(**{known[key]: value for key, value in values.items()})

    @classmethod
    def setting_defaults(cls) -> dict[str, Any]:
        """The defaults as a site writes them in ``HUYI_SMS["SANDBOX"]``: upper-case keys, lists and dicts."""
        default = cls()
        return {item.name.upper(): _plain(getattr(default, item.name)) for item in fields(cls)}


def _plain(value: Any) -> Any:
    """``value`` as settings write it: dicts and (sorted, for sets) lists."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (frozenset, set)):
        return sorted(value)
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value
