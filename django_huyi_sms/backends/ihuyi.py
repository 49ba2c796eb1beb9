"""The real backend: sends through ``client.py`` to the endpoints configured in ``HUYI_SMS``."""

from __future__ import annotations

import threading

import requests

from ..client import BalanceResult, IhuyiClient, SubmitResult, TemplateResult
from ..conf import ProductConfig, huyi_settings
from .base import BaseSmsBackend, OutgoingSms

# One pooled session per process: keeps TLS connections to the provider alive
# between sends instead of a handshake per message.
_session: requests.Session | None = None
_session_lock = threading.Lock()


def shared_session() -> requests.Session:
    global _session
    with _session_lock:
        if _session is None:
            _session = requests.Session()
            adapter = requests.adapters.HTTPAdapter(pool_connections=8, pool_maxsize=32, max_retries=0)
            _session.mount("https://", adapter)
            _session.mount("http://", adapter)
        return _session


class IhuyiBackend(BaseSmsBackend):
    """Sends through the provider's signed HTTP API, one client per product."""

    def client(self, product: str) -> IhuyiClient:
        config: ProductConfig = huyi_settings.product(product)
        return IhuyiClient(
            config.account,
            config.api_key,
            config.api_url,
            product=product,
            sign_mode=config.sign_mode,
            timeout=config.timeout,
            session=shared_session(),
        )

    def send(self, message: OutgoingSms) -> SubmitResult:
        return self.client(message.product).submit(message.mobile, message.content, stime=message.stime)

    def get_balance(self, product: str = "sms") -> BalanceResult:
        return self.client(product).get_num()

    def add_template(self, content: str, product: str = "sms") -> TemplateResult:
        return self.client(product).add_template(content)
