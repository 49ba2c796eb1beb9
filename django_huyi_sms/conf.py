"""The one place that reads ``settings.HUYI_SMS``.

Everything else asks :data:`huyi_settings`::

    from django_huyi_sms.conf import huyi_settings
    huyi_settings.OTP["TTL"]
    huyi_settings.product("marketing").api_url

Every key has a default (``DEFAULTS``); nested dicts (``OTP``, ``SANDBOX``,
``RATELIMITS``) are merged key by key, so a site can set just the one value it
changes. Values are read lazily, cached, and forgotten when Django's
``setting_changed`` signal fires, so ``override_settings`` works in tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from .provider import DEFAULT_API_URLS, PRODUCTS, SIGN_DYNAMIC, SIGN_MODES, check_product
from .sandbox.config import SandboxConfig

__all__ = ["DEFAULTS", "ProductConfig", "HuyiSettings", "huyi_settings"]

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
    # How many reverse proxies of yours stand before the push URLs (0: trust REMOTE_ADDR only).
    "CALLBACK_PROXY_COUNT": 0,
    "OTP": {
        "LENGTH": 6,
        "TTL": 300,
        "MAX_ATTEMPTS": 5,
        "RESEND_INTERVAL": 60,
        "DAILY_LIMIT": 5,
        "TEMPLATE": "您的验证码是：{code}。请不要把验证码泄露给其他人。",
        # SmsCodeBackend: sign up a number that has no account on its first login.
        "CREATE_USER_ON_LOGIN": False,
        # Sign-in and password-reset code requests take at least this long (seconds), whether
        # or not the number has an account, so the answer's timing does not tell either.
        "UNIFORM_RESPONSE_SECONDS": 1.0,
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
    "USER_MOBILE_FIELD": None,
    "ADAPTER": "django_huyi_sms.adapter.HuyiAdapter",
    "LOW_BALANCE_THRESHOLD": 100,
    "RETENTION_DAYS": 180,
    # The built-in sandbox gateway (django_huyi_sms.sandbox): what it accepts and where it pushes.
    # Each key is a field of SandboxConfig, upper-cased; the defaults and their meanings live there.
    "SANDBOX": SandboxConfig.setting_defaults(),
}

# Keys whose value is a dict merged over the default dict rather than replacing it.
_NESTED = ("OTP", "SANDBOX", "RATELIMITS", "QUEUE")
# Keys whose value is a dotted path to import.
_IMPORT_STRINGS = ("BACKEND", "ADAPTER")


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


class HuyiSettings:
    """Attribute access to ``HUYI_SMS`` with defaults; see the module docstring."""

    def __init__(self, defaults: dict[str, Any] | None = None) -> None:
        self.defaults = defaults or DEFAULTS
        self._cache: dict[str, Any] = {}
        self._user_settings: dict[str, Any] | None = None

    @property
    def user_settings(self) -> dict[str, Any]:
        if self._user_settings is None:
            value = getattr(settings, SETTING_NAME, {}) or {}
            if not isinstance(value, dict):
                raise ImproperlyConfigured(f"{SETTING_NAME} must be a dict, not {type(value).__name__}")
            unknown = set(value) - set(self.defaults)
            if unknown:
                raise ImproperlyConfigured(
                    f"{SETTING_NAME} has unknown keys: {', '.join(sorted(unknown))}. "
                    f"Known keys: {', '.join(sorted(self.defaults))}"
                )
            self._user_settings = value
        return self._user_settings

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self.defaults:
            raise AttributeError(f"Invalid {SETTING_NAME} setting: {name!r}")
        if name in self._cache:
            return self._cache[name]
        value = self.user_settings.get(name, self.defaults[name])
        if name in _NESTED:
            given = self.user_settings.get(name) or {}
            if not isinstance(given, dict):
                raise ImproperlyConfigured(f"{SETTING_NAME}[{name!r}] must be a dict")
            value = {**self.defaults[name], **given}
        elif name in _IMPORT_STRINGS and isinstance(value, str):
            try:
                value = import_string(value)
            except ImportError as exc:
                raise ImproperlyConfigured(f"{SETTING_NAME}[{name!r}]: cannot import {value!r}: {exc}") from exc
        self._cache[name] = value
        return value

    def product(self, product: str = "sms") -> ProductConfig:
        """Credentials and endpoint for ``product``: the top-level values, overridden by ``PRODUCTS[product]``."""
        key = f"product:{check_product(product, error=ImproperlyConfigured)}"
        if key in self._cache:
            return self._cache[key]
        overrides = (self.PRODUCTS or {}).get(product) or {}
        if not isinstance(overrides, dict):
            raise ImproperlyConfigured(f"{SETTING_NAME}['PRODUCTS'][{product!r}] must be a dict")
        unknown = set(overrides) - {"ACCOUNT", "API_KEY", "API_URL", "SIGN_MODE", "TIMEOUT"}
        if unknown:
            raise ImproperlyConfigured(
                f"{SETTING_NAME}['PRODUCTS'][{product!r}] has unknown keys: {', '.join(sorted(unknown))}"
            )
        if product == "sms":
            default_url = self.API_URL
        else:
            default_url = DEFAULT_API_URLS[product]
        sign_mode = overrides.get("SIGN_MODE", self.SIGN_MODE)
        if sign_mode not in SIGN_MODES:
            raise ImproperlyConfigured(f"{SETTING_NAME} SIGN_MODE must be 'dynamic' or 'plain', not {sign_mode!r}")
        config = ProductConfig(
            product=product,
            account=str(overrides.get("ACCOUNT", self.ACCOUNT) or ""),
            api_key=str(overrides.get("API_KEY", self.API_KEY) or ""),
            api_url=overrides.get("API_URL", default_url) or default_url,
            sign_mode=sign_mode,
            timeout=float(overrides.get("TIMEOUT", self.TIMEOUT)),
        )
        self._cache[key] = config
        return config

    def configured_products(self) -> list[str]:
        """The products this site uses: ``sms`` and those listed in ``PRODUCTS``, with an APIID and APIKEY.

        Every product inherits the top-level pair, but each product bought from ihuyi
        has its own (``PRODUCTS``), so an unlisted product is not one the site has.
        """
        listed = set(self.PRODUCTS or {})
        return [name for name in PRODUCTS if (name == "sms" or name in listed) and self.product(name).configured]

    def reload(self) -> None:
        self._cache.clear()
        self._user_settings = None


huyi_settings = HuyiSettings()


def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING_NAME:
        huyi_settings.reload()


setting_changed.connect(_reload)
