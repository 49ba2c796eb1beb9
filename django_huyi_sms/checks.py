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
    return messages
