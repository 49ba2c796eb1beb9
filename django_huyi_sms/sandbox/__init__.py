"""The sandbox gateway: ihuyi's API, answered in memory, for development and tests.

- ``gateway.SandboxGateway`` — the provider in memory: its state and the order of its checks (pure Python).
- ``config.SandboxConfig`` — its settings, checked once; ``HUYI_SMS["SANDBOX"]`` spells its fields upper-case.
- ``rules`` (signing, text, templates), ``limits`` (per-number limits, blacklist), ``inbox`` (the phones),
  ``templates`` (template reviews), ``wire`` (requests and replies) — the jobs the gateway puts in order.
- ``pusher.Pusher`` — pushes receipts, replies and template reviews with the retry contract.
- ``wsgi.make_app`` / ``wsgi.serve`` — the gateway as a standalone web server (``manage.py huyi_sandbox``).
- ``views`` / ``urls`` — the same inside a Django site: ``path("sandbox/", include("django_huyi_sms.sandbox.urls"))``.
- :func:`get_gateway` — the process-wide gateway those views use, built from ``HUYI_SMS["SANDBOX"]``.

Importing this package needs no Django; :func:`get_gateway` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .gateway import SandboxGateway

__all__ = ["get_gateway"]


def get_gateway() -> SandboxGateway:
    """The process-wide gateway, built from ``HUYI_SMS["SANDBOX"]`` on first use.

    Rebuilt (the old one's pushes stopped) when the ``HUYI_SMS`` setting
    changes. Raises ``ImproperlyConfigured`` for unusable sandbox settings.
    """
    # Imported here so that the pure-Python modules of this package load without Django.
    from .state import get_gateway as _get_gateway

    return _get_gateway()
