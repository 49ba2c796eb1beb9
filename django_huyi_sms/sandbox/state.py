"""The one gateway a Django process shares, built from ``HUYI_SMS["SANDBOX"]``.

The sandbox views answer from it; ``manage.py huyi_sandbox`` builds its own
with :func:`gateway_from_settings`. When the ``HUYI_SMS`` setting changes
(``override_settings`` in tests), the shared gateway is closed and rebuilt on
next use, so a test sees the settings it set.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from ..conf import DEFAULTS, SETTING_NAME, huyi_settings
from .gateway import SandboxGateway, SandboxMessage

__all__ = ["get_gateway", "reset_gateway", "gateway_from_settings"]

_lock = threading.Lock()
_gateway: SandboxGateway | None = None


def gateway_from_settings(
    overrides: dict[str, Any] | None = None,
    *,
    on_message: Callable[[SandboxMessage], None] | None = None,
) -> SandboxGateway:
    """A new gateway from ``HUYI_SMS["SANDBOX"]``, with ``overrides`` (same keys) on top.

    Raises ``ImproperlyConfigured`` naming the problem when a value is unusable.
    """
    config = {**huyi_settings.SANDBOX, **(overrides or {})}
    unknown = set(config) - set(DEFAULTS["SANDBOX"])
    if unknown:
        raise ImproperlyConfigured(
            f"{SETTING_NAME}['SANDBOX'] has unknown keys: {', '.join(sorted(unknown))}. "
            f"Known keys: {', '.join(sorted(DEFAULTS['SANDBOX']))}"
        )
    try:
        return SandboxGateway(
            accounts=dict(config["ACCOUNTS"]),
            balance=config["BALANCE"],
            receipt_url=config["RECEIPT_URL"] or "",
            reply_url=config["REPLY_URL"] or "",
            template_url=config["TEMPLATE_URL"] or "",
            receipt_delay=config["RECEIPT_DELAY"],
            retry_scale=config["RETRY_SCALE"],
            max_clock_skew=config["MAX_CLOCK_SKEW"],
            daily_limit=config["DAILY_LIMIT"],
            daily_code_limit=config["DAILY_CODE_LIMIT"],
            identical_per_minute=config["IDENTICAL_PER_MINUTE"],
            identical_per_day=config["IDENTICAL_PER_DAY"],
            blacklist_after=config["BLACKLIST_AFTER"],
            blacklist=list(config["BLACKLIST"]),
            sensitive_words=list(config["SENSITIVE_WORDS"]),
            frozen_accounts=list(config["FROZEN_ACCOUNTS"]),
            allowed_ips=dict(config["ALLOWED_IPS"]),
            templates=dict(config["TEMPLATES"]),
            signatures=dict(config["SIGNATURES"]),
            undeliverable=list(config["UNDELIVERABLE"]),
            on_message=on_message,
        )
    except (TypeError, ValueError, AttributeError) as exc:
        raise ImproperlyConfigured(f"{SETTING_NAME}['SANDBOX'] is not usable: {exc}") from None


def get_gateway() -> SandboxGateway:
    """The shared gateway, built on first use. Raises ``ImproperlyConfigured`` for bad settings."""
    global _gateway
    with _lock:
        if _gateway is None:
            _gateway = gateway_from_settings()
        return _gateway


def reset_gateway() -> None:
    """Close the shared gateway (its pending pushes are dropped); the next use builds a new one."""
    global _gateway
    with _lock:
        gateway, _gateway = _gateway, None
    if gateway is not None:
        gateway.close()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING_NAME:
        reset_gateway()


setting_changed.connect(_on_setting_changed)
