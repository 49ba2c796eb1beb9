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

from django.http import HttpRequest
from django.utils.crypto import constant_time_compare

from ..conf import huyi_settings

logger = logging.getLogger("django_huyi_sms.pushes")


class PushRefused(Exception):
    """The caller is not allowed to push; ``reason`` is safe to log (it never holds the token)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def client_ip(request: HttpRequest) -> str:
    """The caller's address, honouring ``CALLBACK_PROXY_COUNT`` trusted proxies."""
    proxies = int(huyi_settings.CALLBACK_PROXY_COUNT or 0)
    remote = request.META.get("REMOTE_ADDR", "")
    if proxies <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    # The last proxy appended the address it saw; with N proxies the caller is N-th from the right.
    if len(forwarded) >= proxies:
        return forwarded[-proxies]
    return remote


def _ip_allowed(ip: str, allowed: list[str]) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for entry in allowed:
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            logger.error("CALLBACK_ALLOWED_IPS entry %r is not an address or network; ignored", entry)
    return False


def authenticate_push(request: HttpRequest) -> None:
    """Raise :class:`PushRefused` unless the request carries the token (and comes from an allowed IP)."""
    expected = huyi_settings.CALLBACK_TOKEN or ""
    if not expected:
        raise PushRefused("CALLBACK_TOKEN is not set: pushes are refused until it is")
    given = request.GET.get("token", "")
    if not given or not constant_time_compare(given, expected):
        raise PushRefused("missing or wrong token")
    allowed = huyi_settings.CALLBACK_ALLOWED_IPS or []
    if allowed:
        ip = client_ip(request)
        if not _ip_allowed(ip, allowed):
            raise PushRefused(f"address {ip or '?'} is not in CALLBACK_ALLOWED_IPS")
