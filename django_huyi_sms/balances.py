"""The balance of each configured product, for pages that must show it and never fail for it.

``sending.get_balance`` asks the provider every time and raises when it cannot
answer. A page (the admin's sends list) wants something else: a reading per
product, at most a minute old, that says "could not fetch" instead of raising.
Failures are cached as long as readings, so a provider that is down costs one
timeout a minute, not one per page view. :func:`check_balances` is the other
reader: a fresh reading of every product, for ``huyi_balance --check`` and the
scheduled task, whatever is cached.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache

from . import sending
from .conf import huyi_settings
from .exceptions import HuyiError
from .models import PRODUCT_LABELS

__all__ = [
    "BalanceReading",
    "CACHE_SECONDS",
    "balance_products",
    "current_balances",
    "check_balances",
    "read_balance",
    "forget_balances",
]

logger = logging.getLogger("django_huyi_sms.balances")

#: How long a reading (or a failure to read) is kept.
CACHE_SECONDS = 60


@dataclass(frozen=True)
class BalanceReading:
    """One product's balance, or why there is none. ``error`` is safe to show (no key, no URL secrets)."""

    product: str
    balance: int | None
    error: str = ""
    threshold: int | None = None

    @property
    def label(self) -> str:
        return str(PRODUCT_LABELS.get(self.product, self.product))

    @property
    def ok(self) -> bool:
        return self.balance is not None

    @property
    def low(self) -> bool:
        return self.balance is not None and self.threshold is not None and self.balance < self.threshold


def _cache_key(product: str) -> str:
    config = huyi_settings.product(product)
    # The account and endpoint are part of the key, so a changed account never shows the old one's balance.
    fingerprint = hashlib.sha256(f"{config.account}\0{config.api_url}".encode()).hexdigest()[:16]
    return f"huyi_sms:balance:{product}:{fingerprint}"


def read_balance(product: str = "sms") -> BalanceReading:
    """``product``'s balance, from the cache when it is under a minute old.

    Never raises ``HuyiError``: a failure is a reading with ``error`` set.
    """
    cached = cache.get(_cache_key(product))
    if cached is None:
        return _fetch(product)
    return _reading(product, cached)


def _fetch(product: str) -> BalanceReading:
    """Ask the provider for ``product``'s balance now (the alarm hears of it) and keep the answer a minute."""
    try:
        cached = {"balance": sending.get_balance(product), "error": ""}
    except HuyiError as error:
        logger.warning("balance of %s could not be fetched: %s", product, error)
        cached = {"balance": None, "error": str(error)}
    except NotImplementedError as error:  # a backend that cannot tell a balance
        cached = {"balance": None, "error": str(error)}
    cache.set(_cache_key(product), cached, CACHE_SECONDS)
    return _reading(product, cached)


def _reading(product: str, cached: dict[str, Any]) -> BalanceReading:
    threshold = huyi_settings.LOW_BALANCE_THRESHOLD
    return BalanceReading(product=product, balance=cached["balance"], error=cached["error"], threshold=threshold)


def balance_products() -> list[str]:
    """The products whose balance is shown: the site's configured products."""
    return huyi_settings.configured_products()


def current_balances() -> list[BalanceReading]:
    """A reading for every product in :func:`balance_products`."""
    return [read_balance(product) for product in balance_products()]


def check_balances() -> list[BalanceReading]:
    """A fresh reading for every product in :func:`balance_products`: what ``huyi_balance --check``
    and the scheduled task run so that the low-balance alarm rings without anyone opening the admin.

    Never raises ``HuyiError``; the readings replace the cached ones the admin shows.
    """
    return [_fetch(product) for product in balance_products()]


def forget_balances() -> None:
    """Drop the cached readings (after a top-up, or between tests)."""
    cache.delete_many([_cache_key(product) for product in balance_products()])
