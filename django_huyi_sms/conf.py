"""The one place that reads settings: ``HUYI_SMS``, checked and converted once.

Everything else asks :data:`huyi_settings`::

    from django_huyi_sms.conf import huyi_settings
    huyi_settings.OTP["TTL"]                      # an int above 0: no int() where it is used
    huyi_settings.product("marketing").api_url

Every key has a default (``DEFAULTS``); nested dicts (``OTP``, ``RATELIMITS``, ``QUEUE``,
``MARKETING``, ``SANDBOX``) are merged key by key, so a site sets just the one value it changes. As in
Django REST framework's ``APISettings``, dotted paths (``BACKEND``, ``ADAPTER``) are imported
on first use, and everything is cached until Django's ``setting_changed`` signal fires, so
``override_settings`` works in tests.

The first read checks the whole dict against the rules below and converts every value
(a seconds value becomes a ``float``, ``CALLBACK_ALLOWED_IPS`` a list of networks, …). A
mistake becomes a :class:`Problem`; ``manage.py check`` reports each one with its id and a
hint (``checks.py``), and nothing raises while modules are imported or URLs are loaded. A
value is never replaced by a guess: reading a setting that has a problem raises
:class:`SettingsError` (an ``ImproperlyConfigured``) with the check's message. Only what the
mistake touches stops working:

* a wrong value: that top-level key (``huyi_settings.OTP`` for a bad ``OTP["TTL"]``), and
  the products (``product()``) that use it;
* an unknown key: the whole dict it is in (an unknown top-level key: every setting), since
  the value it was meant to set is missing: a misspelt ``CALLBACK_ALLOWED_IPS`` must not open
  the push URLs to everyone, nor a misspelt ``OTP["MAX_ATTEMPTS"]`` keep the default;
* two mistakes have a safe meaning of their own and stop nothing: an entry of
  ``CALLBACK_ALLOWED_IPS`` that is not an address allows nobody (``huyi_sms.E005``; push
  authentication logs it on every push), and an ``API_URL`` string that is not an http(s)
  address is refused by the client before anything is sent (``E013``; the row ``failed``,
  where a settings error raised inside the backend would leave it ``unknown``);
* a ``SANDBOX`` value the sandbox cannot use (``E016``) stops only the sandbox, the one
  reader of those: it refuses to start on it (:class:`~.sandbox.config.SandboxConfig` checks
  them, for the check and when the gateway is built).

Numbers given as strings (``"TIMEOUT": "5"``) are refused, not read: ``"5"`` is as likely
to be a mistake as ``"five minutes"``, and a site that reads its settings from the
environment converts them where it reads them.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from .exceptions import HuyiContentError
from .provider import DEFAULT_API_URLS, PRODUCTS, SIGN_DYNAMIC, SIGN_MODES, check_product
from .sandbox.config import SandboxConfig, SandboxConfigError
from .template_variables import MAX_VERIFICATION_VARIABLE_LENGTH
from .validation import validate_content

__all__ = [
    "DEFAULTS",
    "AllowedNetworks",
    "HuyiSettings",
    "Problem",
    "ProductConfig",
    "SettingsError",
    "SANDBOX_CALLBACK_TOKEN",
    "huyi_settings",
    "sandbox_setting_problem",
]

SETTING_NAME = "HUYI_SMS"

DEFAULTS: dict[str, Any] = {
    "ACCOUNT": "",
    "API_KEY": "",
    "API_URL": DEFAULT_API_URLS["sms"],
    "PRODUCTS": {},
    "SIGN_MODE": SIGN_DYNAMIC,
    # Seconds for one whole exchange with the provider: connecting, sending, every read.
    "TIMEOUT": 10,
    # Connect failures (nothing was sent) are retried this often within TIMEOUT, with backoff.
    "CONNECT_RETRIES": 2,
    "BACKEND": "django_huyi_sms.backends.ihuyi.IhuyiBackend",
    "CALLBACK_TOKEN": "",
    "CALLBACK_ALLOWED_IPS": [],
    # How many reverse proxies of yours stand before the site (0: the caller is REMOTE_ADDR).
    # One number for every reader of the caller's address (client_address.client_ip): the push
    # allow-list, the per-IP limits and OtpRecord.ip. None: CALLBACK_PROXY_COUNT, its older name.
    "TRUSTED_PROXY_COUNT": None,
    "CALLBACK_PROXY_COUNT": 0,
    "OTP": {
        "LENGTH": 6,
        "TTL": 300,
        "MAX_ATTEMPTS": 5,
        "RESEND_INTERVAL": 60,
        "DAILY_LIMIT": 5,
        "TEMPLATE": "您的验证码是：{code}。请不要把验证码泄露给其他人。",
        # A templateid (1: the default verification template): codes go as its variable instead
        # of as the whole TEMPLATE text. None: the whole text.
        "TEMPLATE_ID": None,
        # SmsCodeBackend: sign up a number that has no account on its first login.
        "CREATE_USER_ON_LOGIN": False,
        # Sign-in and password-reset code requests take at least this long (seconds), whether
        # or not the number has an account, so the answer's timing does not tell either.
        "UNIFORM_RESPONSE_SECONDS": 1.0,
        # Site-wide caps on code requests, against SMS pumping (site_limits.py); None: no cap.
        "SITE_HOURLY_LIMIT": None,
        "SITE_DAILY_LIMIT": None,
        # Seconds after an SMS code before the pages and the API offer to speak a new code in a
        # call (the voice product), at once if the SMS's receipt says undelivered; None: no offer.
        "VOICE_FALLBACK_AFTER": None,
    },
    # Per-IP limits (django-ratelimit rates, "N/s|m|h|d") on the code views and API; None: no limit.
    # They count in the cache named by Django's RATELIMIT_USE_CACHE ("default"): use a shared
    # cache such as Redis in production, or every process counts on its own.
    "RATELIMITS": {
        "REQUEST_CODE": "10/h",
        "VERIFY_CODE": "30/h",
    },
    # Queued sends (enqueue_sms, and one-time codes when the queue runs in the background).
    "QUEUE": {
        # "tasks": Django's tasks framework (the TASKS setting; the django-tasks backport before
        # Django 6); "celery": Celery tasks (pip install "django-huyi-sms[celery]").
        "RUNNER": "tasks",
        # The TASKS alias ("tasks"), and the queue name for either runner.
        "TASK_BACKEND": "default",
        "QUEUE_NAME": "default",
        # At most this many queued rows are handed to one task.
        "BATCH_SIZE": 100,
        # huyi_requeue hands out again a queued row that no worker took within this many
        # seconds, and marks unknown one that a worker took this long ago and never finished.
        "STALE_AFTER": 300,
        # A send that reached nobody (connect failures) is retried this often, after
        # RETRY_BACKOFF, 2×, 4× … seconds, at most RETRY_BACKOFF_MAX apart. Needs a runner that
        # can defer (Celery, django-tasks-db); with the immediate backend it fails at once.
        "RETRIES": 5,
        "RETRY_BACKOFF": 5,
        "RETRY_BACKOFF_MAX": 600,
    },
    # A receipt whose smsid we never learned (the send is "unknown") is matched by number to
    # the one unknown send to that number within this many seconds before it.
    "UNKNOWN_MATCH_WINDOW": 86400,
    # Marketing in bulk (send_bulk, huyi_send_bulk).
    "MARKETING": {
        # Numbers per Submit (comma-separated in one request, one task each).
        "BATCH_SIZE": 100,
        # Appended to a marketing message that does not carry it already; "" appends nothing.
        "UNSUBSCRIBE_TEXT": "回T退订",
    },
    "USER_MOBILE_FIELD": None,
    "ADAPTER": "django_huyi_sms.adapter.HuyiAdapter",
    "LOW_BALANCE_THRESHOLD": 100,
    "RETENTION_DAYS": 180,
    # The address this development site answers on ("http://127.0.0.1:8000"): every product then
    # sends to the sandbox the app serves there (sandbox/ under its URLs), with the sandbox's
    # account, and the sandbox pushes back to the app's push URLs. "": off, sends go to ihuyi.
    "SANDBOX_SITE": "",
    # The built-in sandbox gateway (django_huyi_sms.sandbox): what it accepts and where it pushes.
    # Each key is a field of SandboxConfig, upper-cased; the defaults and their meanings live there.
    "SANDBOX": SandboxConfig.setting_defaults(),
}

# Django settings of django-ratelimit that client_ip() and the per-IP limits honour, for sites
# set up before TRUSTED_PROXY_COUNT existed (RATELIMIT_IP_META_KEY), and as django-ratelimit's
# own "ip" key masks addresses (one IPv6 /64 is one caller).
_RATELIMIT_SETTINGS = ("RATELIMIT_IP_META_KEY", "RATELIMIT_IPV4_MASK", "RATELIMIT_IPV6_MASK")
# Keys whose value is a dotted path to import (on first use, as DRF does).
_IMPORT_STRINGS = ("BACKEND", "ADAPTER")
# The keys a PRODUCTS entry may override; a product uses the top-level value of the others.
_PRODUCT_KEYS = ("ACCOUNT", "API_KEY", "API_URL", "SIGN_MODE", "TIMEOUT")
_DOCS_HINT = "See the settings reference in docs/settings.md."
#: The push token a SANDBOX_SITE site uses when CALLBACK_TOKEN is empty. Public, so fit only for a
#: site nobody else reaches: check --deploy refuses SANDBOX_SITE (huyi_sms.E042).
SANDBOX_CALLBACK_TOKEN = "huyi-sandbox-development-token"
# The push URL names under the app's namespace, by the SANDBOX key that points at each.
_SANDBOX_PUSH_URLS = {"RECEIPT_URL": "receipt_push", "REPLY_URL": "reply_push", "TEMPLATE_URL": "template_push"}
_SANDBOX_SITE_HINT = (
    'The address this development site answers on: scheme, host and port, such as "http://127.0.0.1:8000", '
    'or "" to send to ihuyi. See docs/sandbox.md.'
)
_NOT_MOUNTED_HINT = 'Add path("sms/", include("django_huyi_sms.urls")) to your urls.py. See docs/sandbox.md.'


@dataclass(frozen=True)
class Problem:
    """One mistake in the settings: what ``manage.py check`` reports, and what reading it raises.

    ``summary`` is short and holds no value, so it may go in a push's refusal.
    ``blocking`` is false only where the mistake has a safe meaning of its own (an
    allow-list entry that is not an address allows nobody).
    """

    id: str
    message: str
    hint: str = _DOCS_HINT
    summary: str = ""
    blocking: bool = True


class SettingsError(ImproperlyConfigured):
    """Raised on reading a setting that ``manage.py check`` reports; ``problem`` says which and why."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


@dataclass(frozen=True)
class ProductConfig:
    """Credentials and endpoint for one product. ``repr`` leaves the key out."""

    product: str
    account: str
    api_url: str
    sign_mode: str
    timeout: float
    api_key: str = ""

    def __repr__(self) -> str:
        return (
            f"ProductConfig(product={self.product!r}, account={self.account!r}, "
            f"api_url={self.api_url!r}, sign_mode={self.sign_mode!r}, timeout={self.timeout!r})"
        )

    @property
    def configured(self) -> bool:
        return bool(self.account and self.api_key)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class AllowedNetworks:
    """``CALLBACK_ALLOWED_IPS``, converted: the networks it names, and the entries that name none.

    It is true when anything was listed, even only bad entries: the list then
    narrows the callers to nobody rather than being ignored.
    """

    networks: tuple[Network, ...] = ()
    ignored: tuple[Any, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.networks or self.ignored)

    def allows(self, address: str) -> bool:
        """Whether ``address`` is in one of the networks (a malformed address is in none)."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)


# --- Rules: each takes the value given and returns it converted, or raises _Bad. ---------------

Rule = Callable[[Any], Any]


class _Bad(Exception):
    """A value a rule refuses. ``expected`` completes "must be …".

    Not ``blocking``: the value is reported but kept, because what reads it
    already refuses it safely on its own (see ``_url``).
    """

    def __init__(self, expected: str, hint: str = "", *, blocking: bool = True) -> None:
        super().__init__(expected)
        self.expected = expected
        self.hint = hint
        self.blocking = blocking


def _refuse(value: Any, expected: str) -> _Bad:
    hint = ""
    if isinstance(value, str):
        try:
            number = float(value)  # only to say what went wrong: a number in quotes
        except ValueError:
            pass
        else:
            if math.isfinite(number):
                hint = f"Write the number without quotes: {value.strip()}, not {value!r}."
    return _Bad(expected, hint)


def _whole(least: int = 0, most: int | None = None) -> Rule:
    if most is not None:
        expected = f"a whole number from {least} to {most}"
    else:
        expected = {0: "a whole number, 0 or more", 1: "a whole number, above 0"}[least]

    def rule(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _refuse(value, expected)
        if value < least or (most is not None and value > most):
            raise _Bad(expected)
        return value

    return rule


def _seconds(*, positive: bool) -> Rule:
    expected = "a number, above 0" if positive else "a number, 0 or more"

    def rule(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _refuse(value, expected)
        if not math.isfinite(value) or value < 0 or (positive and value == 0):
            raise _Bad(expected)
        return float(value)

    return rule


def _optional(rule: Rule, none: Any) -> Rule:
    """``rule``, with ``None`` standing for ``none`` (a documented "unset")."""

    def optional(value: Any) -> Any:
        return none if value is None else rule(value)

    return optional


def _text(*, required: bool = False) -> Rule:
    expected = "a non-empty string" if required else "a string"

    def rule(value: Any) -> str:
        if value is None and not required:
            return ""  # an unset environment variable: the same as ""
        if not isinstance(value, str) or (required and not value.strip()):
            raise _Bad(expected)
        return value

    return rule


def _url(value: Any) -> str:
    """An ``http(s)://`` address; ``""`` or ``None`` stand for the product's own endpoint.

    A string that is not one is reported but kept: the client refuses it before
    anything is sent (``HuyiConfigurationError``, the row ``failed``), which a
    settings error raised inside the backend could not promise.
    """
    if value is None or value == "":
        return ""
    expected = 'an http:// or https:// address such as "https://106.ihuyi.com/webservice/sms.php"'
    if not isinstance(value, str):
        raise _Bad(expected)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _Bad(expected, blocking=False)
    return value


def _sandbox_site(value: Any) -> str:
    """``scheme://host[:port]`` (a trailing ``/`` is dropped), or ``""`` (and ``None``) for off.

    The app adds its own paths (the sandbox endpoints, the push URLs) after it, so a path, a query
    or credentials in it would only produce addresses that answer nothing.
    """
    if value is None or value == "":
        return ""
    expected = 'an http:// or https:// address with no path, such as "http://127.0.0.1:8000", or ""'
    if not isinstance(value, str):
        raise _Bad(expected)
    parts = urlsplit(value.strip())
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:  # a port that is not a number, or out of range
        port_ok = False
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or not port_ok
        or "@" in parts.netloc
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or value.strip().endswith(("?", "#"))
    ):
        raise _Bad(expected)
    return f"{parts.scheme}://{parts.netloc}"


def _choice(choices: Iterable[str]) -> Rule:
    choices = tuple(choices)
    expected = " or ".join(f'"{choice}"' for choice in choices)

    def rule(value: Any) -> str:
        if value not in choices:
            raise _Bad(expected)
        return value

    return rule


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Bad("True or False")
    return value


_RATE = re.compile(r"(\d+)/([1-9]\d*)?[smhd]")


def _rate(value: Any) -> str | None:
    """django-ratelimit's rate, in the form it documents; ``None`` (or ``""``) turns the limit off.

    django-ratelimit itself reads ``"10/H"`` or ``"10/hour"`` as something else
    (ten a second; ten an hour by the first letter), so only the exact form passes.
    """
    if value is None or value == "":
        return None
    if isinstance(value, str) and _RATE.fullmatch(value):
        return value
    raise _Bad('a rate such as "10/h" (N/s, N/m, N/h or N/d; "100/5m": 100 in 5 minutes), or None for no limit')


def _template(value: Any) -> str:
    expected = 'a string with "{code}" where the code goes (write other braces twice: "{{", "}}")'
    if not isinstance(value, str) or "{code}" not in value:
        raise _Bad(expected)
    try:
        value.format(code="0")
    except (KeyError, IndexError, ValueError, AttributeError):
        raise _Bad(expected) from None
    return value


def _templateid(value: Any) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 2**63 - 1):
        return value
    raise _refuse(value, "None, or the templateid of an approved template (a whole number, 1 or more)")


def _unsubscribe_text(value: Any) -> str:
    """Text a message may end with: a string no Submit would refuse (no emoji, control character or
    stray ``【``); ``""`` or ``None`` append nothing."""
    if value is None or value == "":
        return ""
    expected = 'a string a message may carry (no emoji, control character or stray "【"), or "" for none'
    if not isinstance(value, str):
        raise _Bad(expected)
    try:
        validate_content(value)
    except HuyiContentError:
        raise _Bad(expected) from None
    return value


def _field_name(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and value.isidentifier()):
        return value
    raise _Bad('None, or the name of a field on your user model such as "mobile"')


def _dotted_path(value: Any) -> Any:
    """A dotted path (imported on first use) or the class itself."""
    if isinstance(value, type) or (isinstance(value, str) and "." in value):
        return value
    raise _Bad('a dotted path to a class, such as "django_huyi_sms.backends.ihuyi.IhuyiBackend"')


def _ip_meta_key(value: Any) -> Any:
    """django-ratelimit's ``RATELIMIT_IP_META_KEY``: a ``request.META`` key, a dotted path or a function."""
    if value is None or value == "":
        return None
    if callable(value) or (isinstance(value, str) and value.strip()):
        return value
    raise _Bad('a request.META key such as "HTTP_X_REAL_IP", a dotted path to a function, or a function')


@dataclass(frozen=True)
class _Spec:
    id: str
    rule: Rule
    hint: str = ""
    #: What happens until it is fixed, said after the message.
    consequence: str = ""


_RATE_HINT = (
    'Write "10/h" for ten an hour. django-ratelimit reads other spellings as something else: '
    '"10/H" is ten a second, "10/month" ten a minute.'
)
_PROXY_HINT = (
    "Set HUYI_SMS['TRUSTED_PROXY_COUNT'] to the number of reverse proxies of yours in front of the "
    "site (0 when none: the caller is REMOTE_ADDR). See docs/settings.md#the-callers-address."
)
_PROXY_CONSEQUENCE = "every push is refused, and code requests fail, until it is"
_SITE_LIMIT_HINT = "Codes for the whole site in a clock hour / a day, or None for no cap. See docs/operations.md."

_RULES: dict[str, _Spec] = {
    "ACCOUNT": _Spec("huyi_sms.E013", _text()),
    "API_KEY": _Spec("huyi_sms.E013", _text()),
    "API_URL": _Spec("huyi_sms.E013", _url),
    "SIGN_MODE": _Spec("huyi_sms.E001", _choice(SIGN_MODES)),
    "TIMEOUT": _Spec("huyi_sms.E002", _seconds(positive=True)),
    "CONNECT_RETRIES": _Spec("huyi_sms.E006", _whole()),
    "BACKEND": _Spec("huyi_sms.E001", _dotted_path),
    "CALLBACK_TOKEN": _Spec("huyi_sms.E013", _text()),
    "TRUSTED_PROXY_COUNT": _Spec("huyi_sms.E003", _optional(_whole(), None), _PROXY_HINT, _PROXY_CONSEQUENCE),
    "CALLBACK_PROXY_COUNT": _Spec("huyi_sms.E003", _optional(_whole(), 0), _PROXY_HINT, _PROXY_CONSEQUENCE),
    "UNKNOWN_MATCH_WINDOW": _Spec("huyi_sms.E006", _seconds(positive=True)),
    "USER_MOBILE_FIELD": _Spec("huyi_sms.E013", _field_name),
    "ADAPTER": _Spec("huyi_sms.E001", _dotted_path),
    "LOW_BALANCE_THRESHOLD": _Spec("huyi_sms.E002", _whole()),
    "RETENTION_DAYS": _Spec("huyi_sms.E002", _whole(1)),
    "SANDBOX_SITE": _Spec(
        "huyi_sms.E040", _sandbox_site, _SANDBOX_SITE_HINT, "nothing is sent and no push is accepted until it is"
    ),
}

_NESTED_RULES: dict[str, dict[str, _Spec]] = {
    "OTP": {
        "LENGTH": _Spec("huyi_sms.E011", _whole(4, 10)),
        "TTL": _Spec("huyi_sms.E011", _whole(1), "Seconds, e.g. 300 for five minutes."),
        "MAX_ATTEMPTS": _Spec("huyi_sms.E011", _whole(1)),
        "RESEND_INTERVAL": _Spec("huyi_sms.E011", _whole(), "Seconds; ihuyi advises at least 60."),
        "DAILY_LIMIT": _Spec("huyi_sms.E011", _whole(1)),
        "TEMPLATE": _Spec("huyi_sms.E011", _template, "It must also match a template approved in your ihuyi account."),
        "TEMPLATE_ID": _Spec(
            "huyi_sms.E020", _templateid, "1 is every account's default verification template. See docs/templates.md."
        ),
        "CREATE_USER_ON_LOGIN": _Spec("huyi_sms.E011", _boolean),
        "UNIFORM_RESPONSE_SECONDS": _Spec("huyi_sms.E011", _optional(_seconds(positive=False), 0.0)),
        "SITE_HOURLY_LIMIT": _Spec("huyi_sms.E035", _optional(_whole(1), None), _SITE_LIMIT_HINT),
        "SITE_DAILY_LIMIT": _Spec("huyi_sms.E035", _optional(_whole(1), None), _SITE_LIMIT_HINT),
        "VOICE_FALLBACK_AFTER": _Spec(
            "huyi_sms.E030",
            _optional(_whole(), None),
            "Seconds after an SMS code before a voice call may be asked for, e.g. 60; None offers no voice call.",
        ),
    },
    "RATELIMITS": {
        "REQUEST_CODE": _Spec("huyi_sms.E012", _rate, _RATE_HINT),
        "VERIFY_CODE": _Spec("huyi_sms.E012", _rate, _RATE_HINT),
    },
    "QUEUE": {
        "RUNNER": _Spec("huyi_sms.E008", _choice(("tasks", "celery"))),
        "TASK_BACKEND": _Spec("huyi_sms.E013", _text(required=True)),
        "QUEUE_NAME": _Spec("huyi_sms.E013", _text(required=True)),
        "BATCH_SIZE": _Spec("huyi_sms.E006", _whole(1)),
        "STALE_AFTER": _Spec("huyi_sms.E006", _seconds(positive=True)),
        "RETRIES": _Spec("huyi_sms.E006", _whole()),
        "RETRY_BACKOFF": _Spec("huyi_sms.E006", _seconds(positive=False)),
        "RETRY_BACKOFF_MAX": _Spec("huyi_sms.E006", _seconds(positive=False)),
    },
    "MARKETING": {
        "BATCH_SIZE": _Spec(
            "huyi_sms.E025",
            _whole(1, 1000),
            "ihuyi publishes no maximum; one refusal or timeout touches every number of a batch, so keep it modest.",
        ),
        "UNSUBSCRIBE_TEXT": _Spec("huyi_sms.E025", _unsubscribe_text, 'The usual text is "回T退订".'),
    },
}

_RATELIMIT_HINT = (
    "A django-ratelimit setting, which this app's per-IP limits and client_ip() honour too. "
    "See docs/settings.md#the-callers-address."
)
_RATELIMIT_RULES: dict[str, tuple[_Spec, Any]] = {
    "RATELIMIT_IP_META_KEY": (_Spec("huyi_sms.E015", _ip_meta_key, _RATELIMIT_HINT), None),
    "RATELIMIT_IPV4_MASK": (_Spec("huyi_sms.E015", _whole(0, 32), _RATELIMIT_HINT), 32),
    "RATELIMIT_IPV6_MASK": (_Spec("huyi_sms.E015", _whole(0, 128), _RATELIMIT_HINT), 64),
}


# --- Checking the whole dict ----------------------------------------------------------------------


def _closest(key: Any, known: Iterable[str]) -> str | None:
    """The known key ``key`` was probably meant to be (``APIKEY`` → ``API_KEY``), or ``None``."""
    if not isinstance(key, str):
        return None
    by_upper = {name.upper(): name for name in known}
    matches = difflib.get_close_matches(key.upper(), list(by_upper), n=1, cutoff=0.6)
    return by_upper[matches[0]] if matches else None


def _path(*keys: str) -> str:
    return "".join(f"[{key!r}]" for key in keys)


@dataclass
class _Checked:
    """The converted values, the problems found, and which reads each problem stops."""

    values: dict[str, Any] = field(default_factory=dict)
    products: dict[str, ProductConfig] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    #: Read name ("OTP", "product:voice", "*" for every read) -> the first problem that stops it.
    blocked: dict[str, Problem] = field(default_factory=dict)
    #: Paths ("QUEUE", "STALE_AFTER") whose value was refused.
    refused: set[tuple[str, ...]] = field(default_factory=set)
    #: Dotted paths imported so far (or the Problem importing them raised), by key.
    imported: dict[str, Any] = field(default_factory=dict)
    #: The SANDBOX keys the site wrote (the others are defaults, which SANDBOX_SITE may replace).
    sandbox_given: frozenset[str] = frozenset()

    def flag(self, problem: Problem, *reads: str) -> None:
        self.problems.append(problem)
        if problem.blocking:
            for read in reads:
                self.blocked.setdefault(read, problem)

    def raise_for(self, *reads: str) -> None:
        for read in ("*", *reads):
            if read in self.blocked:
                raise SettingsError(self.blocked[read])

    def apply(
        self, spec: _Spec, value: Any, keys: tuple[str, ...], *reads: str, prefix: str = SETTING_NAME
    ) -> Any:
        """``value`` converted by ``spec``. On refusal, flag it (stopping ``reads``, else reads of
        ``keys[0]``) and return None, or the value as given when the refusal is not blocking."""
        try:
            return spec.rule(value)
        except _Bad as bad:
            consequence = f": {spec.consequence}" if spec.consequence else ""
            name = keys[0] + _path(*keys[1:])
            if bad.blocking:
                self.refused.add(keys)
            self.flag(
                Problem(
                    spec.id,
                    f"{prefix}{_path(*keys) if prefix else name} must be {bad.expected}, not {value!r}{consequence}.",
                    hint=" ".join(part for part in (bad.hint, spec.hint) if part) or _DOCS_HINT,
                    summary=f"{name} is not {bad.expected}",
                    blocking=bad.blocking,
                ),
                *(reads or keys[:1]),
            )
            return None if bad.blocking else value

    def unknown_keys(self, given: Mapping[Any, Any], known: Iterable[str], where: str, *reads: str) -> None:
        """Flag the keys of ``given`` that are not ``known``, each with the key it probably meant."""
        known = list(known)
        unknown = [key for key in given if key not in known]
        if not unknown:
            return
        described = []
        for key in sorted(unknown, key=str):
            meant = _closest(key, known)
            described.append(f"{key} (did you mean {meant}?)" if meant else str(key))
        self.flag(
            Problem(
                "huyi_sms.E001",
                f"{where} has unknown keys: {', '.join(described)}.",
                hint=(
                    f"Known keys: {', '.join(known)}. A misspelt key is an error, not ignored: the value "
                    "it was meant to set would silently keep its default."
                ),
                summary=f"{where} has unknown keys",
            ),
            *reads,
        )

    def mapping(self, value: Any, where: str, *reads: str) -> Mapping[Any, Any] | None:
        """``value`` if it is a dict (``None``: empty); otherwise flag it and return None."""
        if value is None:
            return {}
        if isinstance(value, Mapping):
            return value
        message = f"{where} must be a dict, not {type(value).__name__}."
        self.flag(Problem("huyi_sms.E001", message, summary=f"{where} is not a dict"), *reads)
        return None


def _check(user: Any, defaults: Mapping[str, Any], django_settings: Any) -> _Checked:
    """Check and convert ``user`` (the ``HUYI_SMS`` setting) over ``defaults``; never raises."""
    checked = _Checked()
    given = checked.mapping(user, SETTING_NAME, "*") or {}
    checked.unknown_keys(given, defaults, SETTING_NAME, "*")
    values = checked.values
    for key, default in defaults.items():
        value = given.get(key, default)
        if key in _NESTED_RULES or key == "SANDBOX":
            values[key] = _check_nested(checked, key, given.get(key), default)
        elif key == "PRODUCTS":
            values[key] = _check_product_overrides(checked, given.get(key))
        elif key == "CALLBACK_ALLOWED_IPS":
            values[key] = _check_allowed_ips(checked, value)
        elif key in _RULES:
            values[key] = checked.apply(_RULES[key], value, (key,))
        else:
            values[key] = value  # a key of custom defaults that has no rule
    if "TRUSTED_PROXY_COUNT" in values:
        _resolve_proxy_count(checked, given.get("CALLBACK_PROXY_COUNT") is not None)
    for name, (spec, default) in _RATELIMIT_RULES.items():
        value = getattr(django_settings, name, None)
        values[name] = checked.apply(spec, default if value is None else value, (name,), prefix="")
    _apply_sandbox_site(checked)
    _build_products(checked)
    _check_stale_after(checked)
    _check_code_template(checked)
    return checked


def _check_nested(checked: _Checked, key: str, given: Any, default: Mapping[str, Any]) -> dict[str, Any]:
    where = f"{SETTING_NAME}{_path(key)}"
    given = checked.mapping(given, where, key)
    if given is None:
        return dict(default)
    merged = {**default, **given}
    if key == "SANDBOX":
        checked.sandbox_given = frozenset(str(name) for name in given)
        _check_sandbox(checked, merged)
        return merged
    checked.unknown_keys(given, default, where, key)
    rules = _NESTED_RULES[key]
    return {
        name: checked.apply(rules[name], value, (key, name)) if name in rules else value
        for name, value in merged.items()
    }


def _check_sandbox(checked: _Checked, values: Mapping[str, Any]) -> None:
    """Report what :class:`SandboxConfig`, the one check of the sandbox's settings, refuses.

    The values are kept as given: only the sandbox reads them, and it refuses them itself when
    it is built (``huyi_sandbox``'s options may replace one first), so nothing else stops.
    """
    try:
        SandboxConfig.from_setting(values)
    except SandboxConfigError as error:
        checked.flag(
            Problem(
                "huyi_sms.E016",
                f"{sandbox_setting_problem(error)}.",
                hint="The sandbox gateway refuses to start until it is fixed. See docs/sandbox.md#settings.",
                summary="SANDBOX has a value the sandbox cannot use",
                blocking=False,
            )
        )


def sandbox_setting_problem(error: SandboxConfigError) -> str:
    """``error`` naming the key a site writes: ``HUYI_SMS['SANDBOX']['RECEIPT_URL'] must be …``."""
    keys = ("SANDBOX", error.setting) if error.setting else ("SANDBOX",)
    return f"{SETTING_NAME}{_path(*keys)} {error.problem}"


def _check_product_overrides(checked: _Checked, given: Any) -> dict[str, dict[str, Any]]:
    """``PRODUCTS``: product name -> its converted overrides."""
    every_product = ("PRODUCTS", *(f"product:{name}" for name in PRODUCTS))
    where = f"{SETTING_NAME}{_path('PRODUCTS')}"
    given = checked.mapping(given, where, *every_product)
    if given is None:
        return {}
    # A misspelt product is an unknown key: the product it meant would run on the top-level account.
    checked.unknown_keys(given, PRODUCTS, where, *every_product)
    products: dict[str, dict[str, Any]] = {}
    for product in PRODUCTS:
        if product not in given:
            continue
        where = f"{SETTING_NAME}{_path('PRODUCTS', product)}"
        read = f"product:{product}"
        overrides = checked.mapping(given[product], where, "PRODUCTS", read)
        if overrides is None:
            continue
        checked.unknown_keys(overrides, _PRODUCT_KEYS, where, "PRODUCTS", read)
        products[product] = {
            name: checked.apply(_RULES[name], overrides[name], ("PRODUCTS", product, name), "PRODUCTS", read)
            for name in _PRODUCT_KEYS
            if name in overrides
        }
    return products


def _check_allowed_ips(checked: _Checked, value: Any) -> AllowedNetworks:
    if value is None:
        return AllowedNetworks()
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, set, frozenset)):
        checked.flag(
            Problem(
                "huyi_sms.E004",
                f"{SETTING_NAME}['CALLBACK_ALLOWED_IPS'] must be a list of addresses or networks, not "
                f"{type(value).__name__} {value!r}: every push is refused until it is.",
                hint='Write a list even for one address: ["203.0.113.7"], or ["203.0.113.0/24"].',
                summary="CALLBACK_ALLOWED_IPS is not a list",
            ),
            "CALLBACK_ALLOWED_IPS",
        )
        return AllowedNetworks()
    networks: list[Network] = []
    ignored: list[Any] = []
    for entry in value:
        network = _network(entry)
        if network is None:
            ignored.append(entry)
        else:
            networks.append(network)
    if ignored:
        checked.flag(
            Problem(
                "huyi_sms.E005",
                f"{SETTING_NAME}['CALLBACK_ALLOWED_IPS'] has entries that are not an address or a network: "
                f"{', '.join(repr(entry) for entry in ignored)}. They allow nobody.",
                hint='Entries look like "203.0.113.7", "203.0.113.0/24" or "2001:db8::/32".',
                summary="CALLBACK_ALLOWED_IPS has entries that are not an address or a network",
                blocking=False,
            )
        )
    return AllowedNetworks(tuple(networks), tuple(ignored))


def _network(entry: Any) -> Network | None:
    if not isinstance(entry, str):
        return None
    try:
        return ipaddress.ip_network(entry.strip(), strict=False)
    except ValueError:
        return None


def _resolve_proxy_count(checked: _Checked, older_name_given: bool) -> None:
    """``TRUSTED_PROXY_COUNT`` becomes the count every reader uses: its own, else ``CALLBACK_PROXY_COUNT``.

    Either one refused stops reading both (``client_ip`` reads only the first).
    Both given and different is a mistake: one of them would be silently ignored.
    """
    values = checked.values
    for name in ("TRUSTED_PROXY_COUNT", "CALLBACK_PROXY_COUNT"):
        if name in checked.blocked:
            checked.blocked.setdefault("TRUSTED_PROXY_COUNT", checked.blocked[name])
            checked.blocked.setdefault("CALLBACK_PROXY_COUNT", checked.blocked[name])
            return
    trusted, older = values["TRUSTED_PROXY_COUNT"], values["CALLBACK_PROXY_COUNT"]
    if trusted is None:
        values["TRUSTED_PROXY_COUNT"] = older
    elif older_name_given and older != trusted:
        checked.flag(
            Problem(
                "huyi_sms.E014",
                f"{SETTING_NAME}['TRUSTED_PROXY_COUNT'] ({trusted}) and its older name CALLBACK_PROXY_COUNT "
                f"({older}) disagree: the caller's address is read one way for pushes, limits and code "
                f"records, so every push is refused, and code requests fail, until they agree.",
                hint="Keep TRUSTED_PROXY_COUNT and remove CALLBACK_PROXY_COUNT.",
                summary="TRUSTED_PROXY_COUNT and CALLBACK_PROXY_COUNT disagree",
            ),
            "TRUSTED_PROXY_COUNT",
            "CALLBACK_PROXY_COUNT",
        )


def _apply_sandbox_site(checked: _Checked) -> None:
    """With ``SANDBOX_SITE``, an empty ``CALLBACK_TOKEN`` becomes :data:`SANDBOX_CALLBACK_TOKEN`, so that
    the sandbox's pushes are accepted with nothing else set. A malformed one stops what it would change."""
    values = checked.values
    if "SANDBOX_SITE" in checked.blocked:
        for read in ("CALLBACK_TOKEN", *(f"product:{name}" for name in PRODUCTS)):
            checked.blocked.setdefault(read, checked.blocked["SANDBOX_SITE"])
        return
    if values.get("SANDBOX_SITE") and "CALLBACK_TOKEN" not in checked.blocked and not values.get("CALLBACK_TOKEN"):
        values["CALLBACK_TOKEN"] = SANDBOX_CALLBACK_TOKEN


def _sandbox_account(sandbox: Mapping[str, Any]) -> tuple[str, str]:
    """The first APIID / APIKEY pair the sandbox accepts (its built-in one unless ``ACCOUNTS`` says otherwise)."""
    try:
        accounts = SandboxConfig.from_setting(sandbox).accounts
    except SandboxConfigError:  # reported (huyi_sms.E016); the sandbox will not start anyway
        accounts = SandboxConfig().accounts
    return next(iter(accounts.items()))


def _build_products(checked: _Checked) -> None:
    """One :class:`ProductConfig` per product that nothing stops: its overrides over the top-level values."""
    values = checked.values
    for product in PRODUCTS:
        read = f"product:{product}"
        overrides = values.get("PRODUCTS", {}).get(product, {})
        for name in _PRODUCT_KEYS:
            if name not in overrides and name in checked.blocked:
                checked.blocked.setdefault(read, checked.blocked[name])
        if read in checked.blocked or "*" in checked.blocked:
            continue
        merged = {name: overrides.get(name, values[name]) for name in _PRODUCT_KEYS}
        if values.get("SANDBOX_SITE"):
            # SANDBOX_SITE wins over any account and endpoint (huyi_sms.W041 says they go unused). The
            # endpoint is on the site's own URLs: product() reverses it when asked, as the settings
            # are read before the URLconf is loaded.
            merged["ACCOUNT"], merged["API_KEY"] = _sandbox_account(values.get("SANDBOX") or {})
            api_url = ""
        else:
            # The top-level API_URL is the sms product's; "" (or None) is the product's own endpoint.
            given_url = merged["API_URL"] if product == "sms" or "API_URL" in overrides else ""
            api_url = given_url or DEFAULT_API_URLS[product]
        checked.products[product] = ProductConfig(
            product=product,
            account=merged["ACCOUNT"],
            api_key=merged["API_KEY"],
            api_url=api_url,
            sign_mode=merged["SIGN_MODE"],
            timeout=merged["TIMEOUT"],
        )


def _check_stale_after(checked: _Checked) -> None:
    """A queued send in flight longer than ``STALE_AFTER`` is marked unknown: it must outlast every TIMEOUT."""
    if ("QUEUE", "STALE_AFTER") in checked.refused or not checked.products:
        return
    stale = checked.values["QUEUE"]["STALE_AFTER"]
    longest = max(checked.products.values(), key=lambda config: config.timeout)
    if stale > longest.timeout:
        return
    where = "" if longest.timeout == checked.values["TIMEOUT"] else f" of PRODUCTS[{longest.product!r}]"
    checked.flag(
        Problem(
            "huyi_sms.E007",
            f"{SETTING_NAME}['QUEUE']['STALE_AFTER'] ({stale:g} s) must be longer than TIMEOUT{where} "
            f"({longest.timeout:g} s): huyi_requeue would mark a message that is still being sent unknown.",
            hint="Leave it at its default (300), or a few times TIMEOUT.",
            summary="QUEUE['STALE_AFTER'] is not longer than TIMEOUT",
        ),
        "QUEUE",
    )


def _check_code_template(checked: _Checked) -> None:
    """A code sent as a template's variable is a verification template's: at most 8 characters (40722)."""
    if ("OTP", "TEMPLATE_ID") in checked.refused or ("OTP", "LENGTH") in checked.refused or "OTP" not in checked.values:
        return
    otp = checked.values["OTP"]
    length = otp.get("LENGTH")
    if otp.get("TEMPLATE_ID") is None or length is None or length <= MAX_VERIFICATION_VARIABLE_LENGTH:
        return
    checked.flag(
        Problem(
            "huyi_sms.E021",
            f"{SETTING_NAME}['OTP']['LENGTH'] ({length}) must be at most {MAX_VERIFICATION_VARIABLE_LENGTH} "
            f"with OTP['TEMPLATE_ID'] set: ihuyi refuses a verification template's variable longer than that "
            "(40722), so every code would be refused.",
            hint="Use codes of 4 to 8 digits (6 is the default), or send the whole text (TEMPLATE_ID None).",
            summary="OTP['LENGTH'] is too long for a code sent by template",
        ),
        "OTP",
    )


# --- The settings object ------------------------------------------------------------------------


class HuyiSettings:
    """Attribute access to ``HUYI_SMS``, checked and converted; see the module docstring."""

    def __init__(self, defaults: dict[str, Any] | None = None) -> None:
        self.defaults = defaults or DEFAULTS
        self._checked: _Checked | None = None

    def _load(self) -> _Checked:
        checked = self._checked
        if checked is None:
            # Two threads may both check after a reload; the results are equal, either one is kept.
            checked = self._checked = _check(getattr(settings, SETTING_NAME, None), self.defaults, settings)
        return checked

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self.defaults:
            raise AttributeError(f"Invalid {SETTING_NAME} setting: {name!r}")
        checked = self._load()
        checked.raise_for(name)
        if name in _IMPORT_STRINGS:
            return self._import(checked, name)
        return checked.values[name]

    def _import(self, checked: _Checked, name: str) -> Any:
        if name not in checked.imported:
            value = checked.values[name]
            if isinstance(value, str):
                try:
                    value = import_string(value)
                except ImportError as exc:
                    ours = name not in _RATELIMIT_SETTINGS
                    where = f"{SETTING_NAME}[{name!r}]" if ours else name
                    value = Problem(
                        "huyi_sms.E001" if ours else "huyi_sms.E015",
                        f"{where}: cannot import {checked.values[name]!r}: {exc}.",
                        summary=f"{name} cannot be imported",
                    )
            checked.imported[name] = value
        value = checked.imported[name]
        if isinstance(value, Problem):
            raise SettingsError(value)
        return value

    def product(self, product: str = "sms") -> ProductConfig:
        """Credentials and endpoint for ``product``: the top-level values, overridden by ``PRODUCTS[product]``.

        Raises ``ImproperlyConfigured`` for a product the provider does not have,
        and :class:`SettingsError` when a value it uses is wrong.
        """
        check_product(product, error=ImproperlyConfigured)
        checked = self._load()
        checked.raise_for(f"product:{product}")
        config = checked.products[product]
        site = checked.values.get("SANDBOX_SITE")
        if site:
            return replace(config, api_url=site + _site_path(f"sandbox:{product}"))
        return config

    def sandbox_values(self) -> dict[str, Any]:
        """``SANDBOX`` as the sandbox reads it: with ``SANDBOX_SITE``, the push URLs it leaves out point at
        the app's push views on that site, carrying ``CALLBACK_TOKEN``.

        Raises :class:`SettingsError` as reading ``SANDBOX`` does, or when the app's URLs are not in
        the URLconf (``huyi_sms.E041``).
        """
        values = dict(self.SANDBOX)
        checked = self._load()
        checked.raise_for("SANDBOX_SITE")
        site = checked.values.get("SANDBOX_SITE")
        if site:
            query = urlencode({"token": self.CALLBACK_TOKEN})
            for key, name in _SANDBOX_PUSH_URLS.items():
                if key not in checked.sandbox_given:
                    values[key] = f"{site}{_site_path(name)}?{query}"
        return values

    def configured_products(self) -> list[str]:
        """The products this site uses: ``sms`` and those listed in ``PRODUCTS``, with an APIID and APIKEY.

        Every product inherits the top-level pair, but each product bought from ihuyi
        has its own (``PRODUCTS``), so an unlisted product is not one the site has.
        """
        listed = set(self.PRODUCTS)
        return [name for name in PRODUCTS if (name == "sms" or name in listed) and self.product(name).configured]

    @property
    def ip_meta_key(self) -> str | Callable[[Any], str] | None:
        """django-ratelimit's ``RATELIMIT_IP_META_KEY``: a ``request.META`` key or a function, or ``None``.

        Read by ``client_address.client_ip`` when no proxy count is set, so that sites
        set up as docs/otp.md once advised keep counting their callers, not their proxy.
        """
        checked = self._load()
        checked.raise_for("RATELIMIT_IP_META_KEY")
        value = checked.values["RATELIMIT_IP_META_KEY"]
        if isinstance(value, str) and "." in value:
            return self._import(checked, "RATELIMIT_IP_META_KEY")
        return value

    @property
    def ip_masks(self) -> tuple[int, int]:
        """django-ratelimit's ``RATELIMIT_IPV4_MASK`` and ``RATELIMIT_IPV6_MASK`` (32 and 64 unless set)."""
        checked = self._load()
        checked.raise_for("RATELIMIT_IPV4_MASK", "RATELIMIT_IPV6_MASK")
        return checked.values["RATELIMIT_IPV4_MASK"], checked.values["RATELIMIT_IPV6_MASK"]

    def problems(self) -> list[Problem]:
        """Every mistake in the settings, for ``manage.py check``; never raises.

        Includes dotted paths that do not import, which are only tried here
        (apps are loaded when checks run) and on first use.
        """
        checked = self._load()
        problems = list(checked.problems)
        names = [*_IMPORT_STRINGS, "RATELIMIT_IP_META_KEY"]
        for name in names:
            value = checked.values.get(name)
            if name in checked.blocked or "*" in checked.blocked or not isinstance(value, str) or "." not in value:
                continue
            try:
                self._import(checked, name)
            except SettingsError as error:
                problems.append(error.problem)
        return problems

    def reload(self) -> None:
        """Forget the checked values: the next read checks the settings as they are now."""
        self._checked = None


huyi_settings = HuyiSettings()


def _site_path(name: str) -> str:
    """The path of the app's URL ``name`` (under the ``huyi_sms`` namespace), reversed now.

    Raises :class:`SettingsError` (``huyi_sms.E041``) when the URLconf does not include the app's URLs.
    """
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse(f"huyi_sms:{name}")
    except NoReverseMatch:
        raise SettingsError(sandbox_not_mounted()) from None


def sandbox_not_mounted() -> Problem:
    """``huyi_sms.E041``: ``SANDBOX_SITE`` is set, but the app's URLs (which serve the sandbox) are not included."""
    return Problem(
        "huyi_sms.E041",
        f"{SETTING_NAME}['SANDBOX_SITE'] is set, but the URLconf does not include django_huyi_sms.urls "
        "(namespace huyi_sms), which serves the sandbox and the push URLs it pushes to: nothing can be sent.",
        hint=_NOT_MOUNTED_HINT,
        summary="SANDBOX_SITE is set but django_huyi_sms.urls is not included",
    )


def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING_NAME or setting in _RATELIMIT_SETTINGS:
        huyi_settings.reload()


setting_changed.connect(_reload)
