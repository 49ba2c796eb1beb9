"""Who may push: the provider signs nothing, so the secret is in the URL we give it.

Every push URL carries ``?token=…``, compared in constant time with
``CALLBACK_TOKEN`` (a plain ``==`` would leak, through its timing, how much of a
guess was right). ``CALLBACK_ALLOWED_IPS`` optionally narrows the callers to
addresses or networks; the caller is :func:`~django_huyi_sms.client_address.client_ip`,
the same address the per-IP limits and code records see (behind reverse proxies:
``TRUSTED_PROXY_COUNT``).
"""

from __future__ import annotations

import logging

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare

from ..client_address import client_ip
from ..conf import SettingsError, huyi_settings
from ..parsers import is_text

logger = logging.getLogger("django_huyi_sms.pushes")


class PushRefused(Exception):
    """The caller is not allowed to push; ``reason`` is safe to log (it never holds the token).

    ``caller`` is the address to name in the log line: :func:`client_ip`, or
    ``REMOTE_ADDR`` while the settings it needs are wrong.
    """

    def __init__(self, reason: str, caller: str = "") -> None:
        self.reason = reason
        self.caller = caller
        super().__init__(reason)


def _caller(request: HttpRequest) -> str:
    try:
        return client_ip(request)
    except ImproperlyConfigured:
        return request.META.get("REMOTE_ADDR", "")


def _refuse_misconfigured(error: ImproperlyConfigured, request: HttpRequest) -> PushRefused:
    # An error, not the usual warning: no push at all gets through until someone fixes the settings.
    reason = error.problem.summary if isinstance(error, SettingsError) else f"HUYI_SMS is invalid ({error})"
    logger.error("every push is refused: %s (manage.py check explains)", reason)
    return PushRefused(reason, _caller(request))


def authenticate_push(request: HttpRequest) -> None:
    """Raise :class:`PushRefused` unless the request carries the token (and comes from an allowed IP).

    Settings that cannot be read as meant (a proxy count that is not a whole
    number, a ``CALLBACK_ALLOWED_IPS`` that is not a list) refuse every push
    with an error logged, rather than answer 500 or guess; ``manage.py check``
    names the mistake (``huyi_sms.E003``, ``E004``, ``E014``). An allow-list
    entry that is not an address allows nobody, and is logged on every push.
    """
    try:
        expected = huyi_settings.CALLBACK_TOKEN
    except ImproperlyConfigured as error:
        raise _refuse_misconfigured(error, request) from None
    if not expected:
        raise PushRefused("CALLBACK_TOKEN is not set: pushes are refused until it is", _caller(request))
    given = request.GET.get("token", "")
    # Django decodes the query string in the body's charset, so charset=unicode_escape can make
    # a lone surrogate of it: no token holds one, and it cannot be compared as UTF-8.
    if not given or not is_text(given) or not constant_time_compare(given, expected):
        raise PushRefused("missing or wrong token", _caller(request))
    try:
        # Read even without an allow-list: a wrong proxy count refuses every push, loudly.
        ip = client_ip(request)
        allowed = huyi_settings.CALLBACK_ALLOWED_IPS
    except ImproperlyConfigured as error:
        raise _refuse_misconfigured(error, request) from None
    if not allowed:
        return
    for entry in allowed.ignored:
        logger.error("CALLBACK_ALLOWED_IPS entry %r is not an address or network; ignored", entry)
    if not allowed.allows(ip):
        raise PushRefused(f"address {ip or '?'} is not in CALLBACK_ALLOWED_IPS", ip)
