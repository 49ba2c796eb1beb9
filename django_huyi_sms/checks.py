"""System checks: a misconfiguration is reported by ``manage.py check`` with a hint, not at the first send."""

from __future__ import annotations

from typing import Any

from django.core import checks
from django.core.exceptions import ImproperlyConfigured


@checks.register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from .backends.ihuyi import IhuyiBackend
    from .client import PRODUCTS
    from .conf import huyi_settings

    messages: list[checks.CheckMessage] = []
    try:
        backend = huyi_settings.BACKEND
        for product in PRODUCTS:
            huyi_settings.product(product)
    except ImproperlyConfigured as exc:
        return [
            checks.Error(
                str(exc),
                hint="See the settings reference in docs/settings.md.",
                id="huyi_sms.E001",
            )
        ]
    if isinstance(backend, type) and issubclass(backend, IhuyiBackend):
        config = huyi_settings.product("sms")
        if not config.configured:
            messages.append(
                checks.Warning(
                    "HUYI_SMS has no ACCOUNT (APIID) or API_KEY: sends will fail with code 401/402.",
                    hint=(
                        "Set HUYI_SMS['ACCOUNT'] and HUYI_SMS['API_KEY'] from the ihuyi console, or use "
                        "the sandbox / console / locmem backend while developing."
                    ),
                    id="huyi_sms.W001",
                )
            )
    if not huyi_settings.CALLBACK_TOKEN:
        messages.append(
            checks.Warning(
                "HUYI_SMS['CALLBACK_TOKEN'] is empty: delivery receipts, replies and template reviews "
                "pushed by ihuyi are refused (403) until it is set.",
                hint=(
                    "Set it to a long random string (python -c 'import secrets; print(secrets.token_urlsafe(32))') "
                    "and give the vendor console push URLs ending in ?token=<that string>."
                ),
                id="huyi_sms.W002",
            )
        )
    for name in ("TIMEOUT", "LOW_BALANCE_THRESHOLD", "RETENTION_DAYS"):
        value = getattr(huyi_settings, name)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            messages.append(
                checks.Error(
                    f"HUYI_SMS[{name!r}] must be a non-negative number, not {value!r}.",
                    id="huyi_sms.E002",
                )
            )
    messages.extend(_check_push_settings(huyi_settings))
    messages.extend(_check_authentication_backends())
    return messages


def _check_push_settings(huyi_settings: Any) -> list[checks.CheckMessage]:
    """The settings push authentication reads; pushes/auth.py refuses every push while one is invalid."""
    from .pushes.auth import invalid_allowed_ips, proxy_count

    messages: list[checks.CheckMessage] = []
    if proxy_count(huyi_settings.CALLBACK_PROXY_COUNT) is None:
        messages.append(
            checks.Error(
                f"HUYI_SMS['CALLBACK_PROXY_COUNT'] must be a whole number, 0 or more, not "
                f"{huyi_settings.CALLBACK_PROXY_COUNT!r}: every push is refused until it is.",
                hint=(
                    "Set it to the number of reverse proxies of yours in front of the push URLs "
                    "(0 when none: the caller is REMOTE_ADDR). See docs/pushes.md."
                ),
                id="huyi_sms.E003",
            )
        )
    allowed = huyi_settings.CALLBACK_ALLOWED_IPS
    bad_entries = invalid_allowed_ips(allowed)
    if bad_entries is None:
        messages.append(
            checks.Error(
                f"HUYI_SMS['CALLBACK_ALLOWED_IPS'] must be a list of addresses or networks, not "
                f"{type(allowed).__name__} {allowed!r}: every push is refused until it is.",
                hint='Write a list even for one address: ["203.0.113.7"], or ["203.0.113.0/24"].',
                id="huyi_sms.E004",
            )
        )
    elif bad_entries:
        messages.append(
            checks.Error(
                f"HUYI_SMS['CALLBACK_ALLOWED_IPS'] has entries that are not an address or a network: "
                f"{', '.join(repr(entry) for entry in bad_entries)}. They allow nobody.",
                hint='Entries look like "203.0.113.7", "203.0.113.0/24" or "2001:db8::/32".',
                id="huyi_sms.E005",
            )
        )
    return messages


def _check_authentication_backends() -> list[checks.CheckMessage]:
    """Without SmsCodeBackend, a sign-in with a code authenticates once and is forgotten on the next request."""
    from django.contrib.auth import get_backends

    from .auth import SmsCodeBackend

    try:
        backends = get_backends()
    except (ImportError, ImproperlyConfigured):
        return []  # Django's own checks and the first request report a broken AUTHENTICATION_BACKENDS
    if any(isinstance(backend, SmsCodeBackend) for backend in backends):
        return []
    return [
        checks.Warning(
            "django_huyi_sms.auth.SmsCodeBackend is not in AUTHENTICATION_BACKENDS: sign-in with an SMS "
            "code (sms/login/, api/otp/verify/) will not keep the user signed in.",
            hint=(
                'Add "django_huyi_sms.auth.SmsCodeBackend" to AUTHENTICATION_BACKENDS (after '
                '"django.contrib.auth.backends.ModelBackend"). If the site does not sign people in with '
                'a code, silence this with SILENCED_SYSTEM_CHECKS = ["huyi_sms.W003"].'
            ),
            id="huyi_sms.W003",
        )
    ]
