"""The real backend: sends through ``client.py`` to the endpoints configured in ``HUYI_SMS``."""

from __future__ import annotations

import threading

import requests

from .. import transport
from ..client import IhuyiClient
from ..conf import ProductConfig, huyi_settings
from ..provider import BalanceResult, SubmitResult, TemplateResult
from .base import BaseSmsBackend, OutgoingSms

# One pooled session per process and retry count: keeps TLS connections to the provider
# alive between sends instead of a handshake per message.
_sessions: dict[int, requests.Session] = {}
_session_lock = threading.Lock()


def shared_session(connect_retries: int = 2) -> requests.Session:
    """The process's session (``transport.new_session``: the deadline, the sent-mark, connect retries)."""
    with _session_lock:
        session = _sessions.get(connect_retries)
        if session is None:
            session = _sessions[connect_retries] = transport.new_session(connect_retries=connect_retries)
        return session


# Clients by their settings: made once, not per send (a settings change makes a new key).
_clients: dict[tuple[ProductConfig, int], IhuyiClient] = {}


class IhuyiBackend(BaseSmsBackend):
    """Sends through the provider's signed HTTP API, one client per product."""

    def client(self, product: str) -> IhuyiClient:
        config: ProductConfig = huyi_settings.product(product)
        retries = huyi_settings.CONNECT_RETRIES
        client = _clients.get((config, retries))
        if client is None:
            client = IhuyiClient(
                config.account,
                config.api_key,
                config.api_url,
                product=product,
                sign_mode=config.sign_mode,
                timeout=config.timeout,
                session=shared_session(retries),
            )
            with _session_lock:
                if len(_clients) > 64:  # settings that keep changing (tests): do not grow for ever
                    _clients.clear()
                _clients[(config, retries)] = client
        return client

    def send(self, message: OutgoingSms) -> SubmitResult:
        # sending.py has checked the message (prepare_message): the client need not check it again.
        return self.client(message.product).submit(
            message.mobile,
            message.submitted_content,
            templateid=message.templateid,
            stime=message.stime,
            checked=True,
        )

    def get_balance(self, product: str = "sms") -> BalanceResult:
        return self.client(product).get_num()

    def add_template(self, content: str, product: str = "sms") -> TemplateResult:
        return self.client(product).add_template(content)
