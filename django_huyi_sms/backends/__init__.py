"""Where messages go: ``ihuyi`` (the provider), ``console`` (printed), ``locmem`` (an outbox for tests).

``HUYI_SMS["BACKEND"]`` names the class; :func:`get_backend` returns an instance.
"""

from __future__ import annotations

from typing import Any

from ..conf import huyi_settings
from .base import BaseSmsBackend, OutgoingSms

__all__ = ["BaseSmsBackend", "OutgoingSms", "get_backend"]


def get_backend(backend: type[BaseSmsBackend] | str | None = None, **kwargs: Any) -> BaseSmsBackend:
    """An instance of ``backend`` (a class or dotted path), or of the configured ``BACKEND``."""
    if backend is None:
        backend = huyi_settings.BACKEND
    if isinstance(backend, str):
        from django.utils.module_loading import import_string

        backend_class: type[BaseSmsBackend] = import_string(backend)
    else:
        backend_class = backend
    return backend_class(**kwargs)
