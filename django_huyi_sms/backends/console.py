"""Prints each message to stdout instead of sending it: for development without the sandbox."""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from ..provider import SubmitResult, TemplateResult
from .base import OfflineBackend, OutgoingSms


class ConsoleBackend(OfflineBackend):
    """Writes every message to ``stream`` (stdout by default) and accepts it."""

    _lock = threading.Lock()

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def send(self, message: OutgoingSms) -> SubmitResult:
        result = self.accepted()
        # The full number is printed on purpose: the developer reading the console is the recipient.
        plural = "s" if message.parts != 1 else ""
        template = f"template #{message.templateid}, " if message.templateid is not None else ""
        self._write(
            f"--- SMS [{message.product}] to {message.mobile} ({template}{message.parts} part{plural}, "
            f"smsid {result.smsid}) ---\n{message.content}\n"
        )
        return result

    def add_template(self, content: str, product: str = "sms") -> TemplateResult:
        result = super().add_template(content, product)
        self._write(f"--- template #{result.templateid} submitted [{product}] ---\n{content}\n")
        return result

    def _write(self, text: str) -> None:
        with self._lock:
            self.stream.write(text)
            self.stream.flush()
