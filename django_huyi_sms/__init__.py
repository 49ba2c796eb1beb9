"""django-huyi-sms: the ihuyi (互亿无线) SMS service for Django.

The public API is importable from here; it is loaded on first use so that
importing the package does not need Django's app registry::

    from django_huyi_sms import send_sms
    log = send_sms("13800138000", "您的验证码是：1234。请不要把验证码泄露给其他人。")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["send_sms", "enqueue_sms", "send_bulk", "get_balance", "add_template", "outbox", "__version__"]

#: Messages the locmem backend "sent" (``backends.locmem``); tests empty it between tests.
outbox: list = []

if TYPE_CHECKING:  # pragma: no cover
    from .bulk import send_bulk
    from .sending import add_template, enqueue_sms, get_balance, send_sms

_SENDING_API = {"send_sms", "enqueue_sms", "get_balance", "add_template"}


def __getattr__(name: str) -> Any:
    if name == "send_bulk":
        from .bulk import send_bulk

        return send_bulk
    if name in _SENDING_API:
        from . import sending

        return getattr(sending, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
