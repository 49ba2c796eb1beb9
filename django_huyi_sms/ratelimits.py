"""Per-IP limits on the code views and API, counted by django-ratelimit.

The per-number limits (``RESEND_INTERVAL``, ``DAILY_LIMIT``) live in ``otp.py``
and hold in the database; these stop one address from walking through many
numbers (SMS bombing) or many codes (guessing). Rates come from
``HUYI_SMS["RATELIMITS"]``; django-ratelimit counts in the cache named by
Django's ``RATELIMIT_USE_CACHE`` and reads the address from ``REMOTE_ADDR``
(behind a proxy, set ``RATELIMIT_IP_META_KEY``, see docs/otp.md).
"""

from __future__ import annotations

import logging

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django_ratelimit.core import get_usage

from .conf import huyi_settings
from .exceptions import RateLimited

__all__ = ["REQUEST_CODE", "VERIFY_CODE", "check_rate"]

logger = logging.getLogger("django_huyi_sms.ratelimits")

REQUEST_CODE = "REQUEST_CODE"
VERIFY_CODE = "VERIFY_CODE"


def check_rate(request: HttpRequest, action: str) -> None:
    """Count one ``action`` for the request's address; raise :class:`RateLimited` past its rate.

    ``action`` is a key of ``RATELIMITS``; a rate of ``None`` turns the limit off.
    """
    rate = huyi_settings.RATELIMITS.get(action)
    if not rate:
        return
    group = f"django_huyi_sms.{action.lower()}"
    try:
        usage = get_usage(request, group=group, key="ip", rate=rate, increment=True)
    except (ImproperlyConfigured, ValueError) as error:
        # RATELIMIT_IP_META_KEY names a header this request lacks or fills with garbage:
        # a caller's bad header must not be a 500, so count it under the connection's address.
        logger.warning("per-IP limit keyed on REMOTE_ADDR: %s", error)
        usage = get_usage(request, group=group, key=_remote_addr, rate=rate, increment=True)
    if usage is not None and usage["should_limit"]:
        raise RateLimited(retry_after=usage["time_left"])


def _remote_addr(group: str, request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "")
