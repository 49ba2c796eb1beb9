"""Keeps messages in ``django_huyi_sms.outbox``, like Django's locmem email backend.

For tests: point ``HUYI_SMS["BACKEND"]`` at ``django_huyi_sms.backends.locmem.LocmemBackend``
and read ``django_huyi_sms.outbox`` (a list of :class:`~.base.OutgoingSms`) after the code under
test ran. Empty it between tests (this project's own suite does so in a fixture).
"""

from __future__ import annotations

import django_huyi_sms

from ..provider import SubmitResult
from .base import OfflineBackend, OutgoingSms


class LocmemBackend(OfflineBackend):
    """Accepts every message and appends it to ``django_huyi_sms.outbox``."""

    def send(self, message: OutgoingSms) -> SubmitResult:
        django_huyi_sms.outbox.append(message)
        return self.accepted()
