"""Who may push: the provider signs nothing, so the secret is in the URL we give it.

Every push URL carries ``?token=…``, compared in constant time with
``CALLBACK_TOKEN`` (a plain ``==`` would leak, through its timing, how much of a
guess was right). ``CALLBACK_ALLOWED_IPS`` optionally narrows the callers to
addresses or networks. Behind a reverse proxy, set ``CALLBACK_PROXY_COUNT`` to
the number of proxies you run: the caller is then read from that position from
the right of ``X-Forwarded-For`` (entries further left are client-controlled
and never trusted).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare

from ..conf import huyi_settings

logger = logging.getLogger("django_huyi_sms.pushes")


class PushRefused(Exception):
    """The caller is not allowed to push; ``reason`` is safe to log (it never holds the token)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def proxy_count(value: Any) -> int | None:
    """``CALLBACK_PROXY_COUNT`` as a number of proxies, or ``None`` when it is not a whole number ≥ 0.

    ``None`` (unset) counts as 0. Shared with ``checks.py``, which reports an
    invalid value as ``huyi_sms.E003``.
    """
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def invalid_allowed_ips(value: Any) -> list[Any] | None:
    """The entries of ``CALLBACK_ALLOWED_IPS`` that are not an address or a network.

    ``None`` when the value is not a list (or tuple, or set) at all: a string
    would otherwise be read character by character. Shared with ``checks.py``
    (``huyi_sms.E004`` / ``E005``).
    """
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, set, frozenset)):
        return None
    return [entry for entry in value if _network(entry) is None]


def _network(entry: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if not isinstance(entry, str):
        return None
    try:
        return ipaddress.ip_network(entry.strip(), strict=False)
    except ValueError:
        return None


def _configured_proxy_count() -> int | None:
    try:
        return proxy_count(huyi_settings.CALLBACK_PROXY_COUNT)
    except ImproperlyConfigured:
        return None


def client_ip(request: HttpRequest) -> str:
    """The caller's address, honouring ``CALLBACK_PROXY_COUNT`` trusted proxies.

    With an invalid ``CALLBACK_PROXY_COUNT`` this is ``REMOTE_ADDR`` (it is only
    used for log lines then: :func:`authenticate_push` refuses every push).
    """
    proxies = _configured_proxy_count() or 0
    remote = request.META.get("REMOTE_ADDR", "")
    if proxies <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    # The last proxy appended the address it saw; with N proxies the caller is N-th from the right.
    if len(forwarded) >= proxies:
        return forwarded[-proxies]
    return remote


def _ip_allowed(ip: str, allowed: Iterable[Any]) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for entry in allowed:
        network = _network(entry)
        if network is None:
            logger.error("CALLBACK_ALLOWED_IPS entry %r is not an address or network; ignored", entry)
        elif address in network:
            return True
    return False


def _refuse_misconfigured(reason: str) -> PushRefused:
    # An error, not the usual warning: no push at all gets through until someone fixes the settings.
    logger.error("every push is refused: %s (manage.py check explains)", reason)
    return PushRefused(reason)


def authenticate_push(request: HttpRequest) -> None:
    """Raise :class:`PushRefused` unless the request carries the token (and comes from an allowed IP).

    Settings that cannot be read as meant (a ``CALLBACK_PROXY_COUNT`` that is
    not a whole number, a ``CALLBACK_ALLOWED_IPS`` that is not a list) refuse
    every push with an error logged, rather than answer 500 or guess: the
    system checks ``huyi_sms.E003`` / ``E004`` name the mistake.
    """
    try:
        expected = huyi_settings.CALLBACK_TOKEN or ""
        allowed = huyi_settings.CALLBACK_ALLOWED_IPS or []
        proxies = huyi_settings.CALLBACK_PROXY_COUNT
    except ImproperlyConfigured as exc:
        raise _refuse_misconfigured(f"HUYI_SMS is invalid ({exc})") from None
    if not expected:
        raise PushRefused("CALLBACK_TOKEN is not set: pushes are refused until it is")
    given = request.GET.get("token", "")
    if not given or not constant_time_compare(given, str(expected)):
        raise PushRefused("missing or wrong token")
    if proxy_count(proxies) is None:
        raise _refuse_misconfigured("CALLBACK_PROXY_COUNT is not a whole number, 0 or more")
    if invalid_allowed_ips(allowed) is None:
        raise _refuse_misconfigured("CALLBACK_ALLOWED_IPS is not a list")
    if allowed:
        ip = client_ip(request)
        if not _ip_allowed(ip, allowed):
            raise PushRefused(f"address {ip or '?'} is not in CALLBACK_ALLOWED_IPS")
