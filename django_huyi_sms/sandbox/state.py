"""The one gateway a Django process shares, built from ``HUYI_SMS["SANDBOX"]``.

The sandbox views answer from it; ``manage.py huyi_sandbox`` builds its own
from :func:`config_from_settings`. When the ``HUYI_SMS`` setting changes
(``override_settings`` in tests), the shared gateway is closed and rebuilt on
next use, so a test sees the settings it set.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from ..conf import SETTING_NAME, huyi_settings
from ..conf import sandbox_setting_problem as setting_problem
from .config import SandboxConfig, SandboxConfigError
from .gateway import SandboxGateway
from .inbox import SandboxMessage

__all__ = ["get_gateway", "reset_gateway", "gateway_from_settings", "config_from_settings", "setting_problem"]

_lock = threading.Lock()
_gateway: SandboxGateway | None = None


def config_from_settings(overrides: Mapping[str, Any] | None = None) -> SandboxConfig:
    """``HUYI_SMS["SANDBOX"]`` as a :class:`SandboxConfig`, with ``overrides`` (same keys) on top.

    With ``SANDBOX_SITE`` set, push URLs the site leaves out point at its own push views
    (``conf.HuyiSettings.sandbox_values``). Overrides are merged before anything is checked,
    so an override may replace a setting that would not be usable. Raises
    ``ImproperlyConfigured`` when the settings cannot be read, and
    :class:`SandboxConfigError` naming the field; :func:`setting_problem`
    words it for a settings file.
    """
    return SandboxConfig.from_setting({**huyi_settings.sandbox_values(), **(overrides or {})})


def gateway_from_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    on_message: Callable[[SandboxMessage], None] | None = None,
) -> SandboxGateway:
    """A new gateway from ``HUYI_SMS["SANDBOX"]``, with ``overrides`` (same keys) on top.

    Raises ``ImproperlyConfigured`` naming the setting and the problem.
    """
    try:
        config = config_from_settings(overrides)
    except SandboxConfigError as exc:
        raise ImproperlyConfigured(setting_problem(exc)) from None
    return SandboxGateway(config, on_message=on_message)


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
