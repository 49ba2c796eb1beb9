"""Per-IP limits on the code views and API, counted by django-ratelimit.

The per-number limits (``RESEND_INTERVAL``, ``DAILY_LIMIT``) are ``OtpThrottle``'s
(``models.py``) and hold in the database; these stop one address from walking through many
numbers (SMS bombing) or many codes (guessing). Rates come from
``HUYI_SMS["RATELIMITS"]``; django-ratelimit counts in the cache named by
Django's ``RATELIMIT_USE_CACHE``. The address is
:func:`~django_huyi_sms.client_address.client_ip`, the one code records store
(behind reverse proxies: ``TRUSTED_PROXY_COUNT``), masked as django-ratelimit's
own ``"ip"`` key masks it.
"""

from __future__ import annotations

import ipaddress

from django.http import HttpRequest
from django_ratelimit.core import get_usage

from .client_address import client_ip
from .conf import huyi_settings
from .exceptions import RateLimited

__all__ = ["REQUEST_CODE", "VERIFY_CODE", "check_rate"]

REQUEST_CODE = "REQUEST_CODE"
VERIFY_CODE = "VERIFY_CODE"


def check_rate(request: HttpRequest, action: str) -> None:
    """Count one ``action`` for the request's address; raise :class:`RateLimited` past its rate.

    ``action`` is a key of ``RATELIMITS``; a rate of ``None`` turns the limit off.
    Raises ``ImproperlyConfigured`` while ``RATELIMITS`` or the proxy settings
    are wrong (``manage.py check`` says which).
    """
    rate = huyi_settings.RATELIMITS[action]
    if rate is None:
        return
    group = f"django_huyi_sms.{action.lower()}"
    usage = get_usage(request, group=group, key=_caller_network, rate=rate, increment=True)
    if usage is not None and usage["should_limit"]:
        raise RateLimited(retry_after=usage["time_left"])


def _caller_network(group: str, request: HttpRequest) -> str:
    """The key one caller is counted under: its address, widened to ``RATELIMIT_IPV4_MASK`` / ``IPV6_MASK``.

    An IPv6 /64 (the default mask) is one subscriber: counting each address
    in it apart would give a single caller 2^64 limits. The key is the value
    django-ratelimit's own ``"ip"`` key gives, so counts survive the switch.
    """
    address = client_ip(request)
    if not address:
        return ""  # no REMOTE_ADDR at all (a Unix socket with no proxy header): one shared count
    ip = ipaddress.ip_address(address)
    ipv4_mask, ipv6_mask = huyi_settings.ip_masks
    mask = ipv6_mask if ip.version == 6 else ipv4_mask
    return str(ipaddress.ip_network(f"{ip}/{mask}", strict=False).network_address)
