"""Which address a request came from: one answer for push allow-lists, per-IP limits and code records.

Behind reverse proxies the connection (``REMOTE_ADDR``) is your own proxy's, so
the caller has to be read from a header, and only from the part of it your
proxies wrote. Three readers that each did this their own way disagreed: a code
record stored the proxy's address while the per-IP limit counted the caller.
:func:`client_ip` is the one reader; its rules, in order:

1. ``HUYI_SMS["TRUSTED_PROXY_COUNT"]`` (or ``CALLBACK_PROXY_COUNT``, its older
   name) is N > 0: the N-th entry from the right of ``X-Forwarded-For``. Each
   proxy appends the address that connected to it, so the last N entries were
   written by yours and the N-th from the right is whoever connected to your
   outermost proxy; entries further left are the client's own words and never
   trusted. Fewer than N entries: ``REMOTE_ADDR``.
2. No proxy count, but django-ratelimit's ``RATELIMIT_IP_META_KEY`` is set (as
   docs/otp.md advised before the proxy count applied to everything): that
   ``request.META`` key, or what that function returns.
3. Otherwise ``REMOTE_ADDR``.

An address read from a header that is not an address (a missing header, garbage)
is logged and replaced by ``REMOTE_ADDR``: a caller's bad header is never a
500, and never lands in a ``GenericIPAddressField``.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from django.http import HttpRequest

from .conf import huyi_settings

__all__ = ["client_ip"]

logger = logging.getLogger("django_huyi_sms.client_address")


def client_ip(request: HttpRequest | Any) -> str:
    """The caller's address, normalised (``"2001:db8::1"``), or ``""`` when even ``REMOTE_ADDR`` is empty.

    ``request`` is a Django ``HttpRequest`` or a REST framework ``Request``.
    Raises ``django_huyi_sms.conf.SettingsError`` (an ``ImproperlyConfigured``)
    while the proxy settings are wrong (``manage.py check``: ``huyi_sms.E003``,
    ``E014``, ``E015``): guessing would put the wrong address in records, the
    wrong callers in one limit, or the wrong callers past the allow-list.
    """
    meta = request.META
    remote = _address(meta.get("REMOTE_ADDR", "")) or ""
    proxies = huyi_settings.TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [part.strip() for part in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) < proxies:
            return remote
        return _or_remote(forwarded[-proxies], remote, "X-Forwarded-For")
    meta_key = huyi_settings.ip_meta_key
    if meta_key is None:
        return remote
    if callable(meta_key):
        return _or_remote(meta_key(request), remote, "RATELIMIT_IP_META_KEY's function")
    return _or_remote(meta.get(meta_key), remote, meta_key)


def _address(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def _or_remote(value: Any, remote: str, source: str) -> str:
    address = _address(value)
    if address is None:
        logger.warning("caller's address from %s is %.64r, not an address: using REMOTE_ADDR %s", source, value, remote)
        return remote
    return address
