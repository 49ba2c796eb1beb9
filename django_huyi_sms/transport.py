"""HTTP for the wire client: one deadline for the whole exchange, and what reached the wire.

``requests``' timeouts apply to each socket operation, so a provider that drips
a byte a second never trips them; and its exceptions do not say whether the
request had been written when things went wrong. Both matter here: a send must
end within ``TIMEOUT``, and a send whose request left must never be repeated on
a guess (the provider may have accepted and charged it).

:func:`new_session` returns a ``requests.Session`` whose connections

* take their connect timeout, and every read, from the time left until the
  exchange's deadline, so connect + send + headers + body end by the deadline;
* note in the current :class:`Exchange` the moment a request starts to be
  written, so a failure can be told apart: nothing sent (safe to retry) or maybe
  sent (unknown);
* retry connect failures only, with backoff, within the deadline (urllib3's
  ``Retry``: it is the layer that knows a connect error from a read error, and
  never retries a read on a POST).

Pure HTTP, no Django.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import socket
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.retry import Retry

__all__ = ["Exchange", "exchange", "new_session", "nothing_was_sent", "DeadlineAdapter"]


@dataclass
class Exchange:
    """One request and its answer, bounded by ``deadline`` (``time.monotonic()`` seconds)."""

    deadline: float
    #: Set by a connection of this module (its pool classes are in use).
    tracked: bool = False
    #: Set when a request started to be written to a socket: from then on it may have arrived.
    sent: bool = False

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


_current: ContextVar[Exchange | None] = ContextVar("django_huyi_sms_exchange", default=None)


@contextlib.contextmanager
def exchange(timeout: float) -> Iterator[Exchange]:
    """Run one request/answer within ``timeout`` seconds from now (connections of :func:`new_session`)."""
    state = Exchange(deadline=time.monotonic() + timeout)
    token = _current.set(state)
    try:
        yield state
    finally:
        _current.reset(token)


def nothing_was_sent(error: BaseException, state: Exchange) -> bool:
    """True when ``error`` (raised by ``requests``) certainly happened before the request left.

    A connect failure (refused, DNS, connect timeout) is before by nature. Past
    that, only a connection of this module can tell (it marks the moment it
    starts writing); a connection it does not know of (a SOCKS proxy, say) is
    assumed to have sent, so a retry never doubles a message on a guess.
    """
    if isinstance(error, requests.ConnectTimeout):
        return True
    reason = error.args[0] if error.args else None
    if isinstance(reason, urllib3.exceptions.MaxRetryError):
        reason = reason.reason
    if isinstance(reason, urllib3.exceptions.ConnectTimeoutError):  # NewConnectionError, NameResolutionError too
        return True
    return state.tracked and not state.sent


class _ConnectRetry(Retry):
    """``Retry`` that gives up at the exchange's deadline and never sleeps past it."""

    def is_exhausted(self) -> bool:
        state = _current.get()
        return super().is_exhausted() or (state is not None and state.remaining() <= 0)

    def sleep(self, response: Any = None) -> None:
        backoff = self.get_backoff_time()
        state = _current.get()
        if state is not None:
            backoff = min(backoff, max(0.0, state.remaining()))
        if backoff > 0:
            time.sleep(backoff)


def connect_retry(retries: int) -> Retry:
    """Retry connect failures ``retries`` times (0.1 s, 0.2 s, 0.4 s … apart, at most 1 s); nothing else."""
    return _ConnectRetry(
        total=retries,
        connect=retries,
        read=0,
        status=0,
        other=0,
        redirect=False,
        raise_on_redirect=False,
        raise_on_status=False,
        backoff_factor=0.1,
        backoff_max=1.0,
    )


class _DeadlineReader(io.RawIOBase):
    """A socket's read side whose every read waits no longer than the time left."""

    def __init__(self, sock: socket.socket, state: Exchange) -> None:
        self._sock = sock
        # A makefile() reader, like the one http.client makes: it keeps the socket open
        # (socket.close() waits for its readers) after the connection lets go of it.
        self._raw = sock.makefile("rb", buffering=0)
        self._state = state

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        remaining = self._state.remaining()
        if remaining <= 0:
            raise TimeoutError("the exchange's deadline passed")
        self._sock.settimeout(remaining)
        return self._raw.readinto(buffer) or 0  # None only from a non-blocking socket, which this is not

    def fileno(self) -> int:
        return self._raw.fileno()

    def close(self) -> None:
        self._raw.close()
        super().close()


class _DeadlineResponse(http.client.HTTPResponse):
    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        state = _current.get()
        if state is not None:
            # Swap the reader http.client made (nothing was read from it yet) for one that
            # keeps the deadline.
            plain, self.fp = self.fp, io.BufferedReader(_DeadlineReader(sock, state))
            plain.close()


class _DeadlineConnectionMixin:
    """For urllib3's connection classes: the deadline on connect and reads, and the "sent" mark."""

    response_class: Any = _DeadlineResponse  # urllib3 types it as its own response class; this one reads like it
    timeout: Any
    sock: socket.socket | None

    def _new_conn(self) -> socket.socket:
        state = _current.get()
        if state is not None:
            state.tracked = True
            remaining = state.remaining()
            if remaining <= 0:
                raise urllib3.exceptions.ConnectTimeoutError(self, "no time left to connect")
            if not isinstance(self.timeout, (int, float)) or self.timeout > remaining:
                self.timeout = remaining
        return super()._new_conn()  # type: ignore[misc]

    def request(self, *args: Any, **kwargs: Any) -> None:
        state = _current.get()
        if state is not None:
            state.tracked = True
            # From the first byte on, the provider may have the request.
            state.sent = True
            remaining = state.remaining()
            if remaining <= 0:
                raise TimeoutError("the exchange's deadline passed")
            if self.sock is not None:
                self.sock.settimeout(remaining)
        super().request(*args, **kwargs)  # type: ignore[misc]


class _DeadlineHTTPConnection(_DeadlineConnectionMixin, HTTPConnection):
    pass


class _DeadlineHTTPSConnection(_DeadlineConnectionMixin, HTTPSConnection):
    pass


class _DeadlineHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class _DeadlineHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


_POOL_CLASSES = {"http": _DeadlineHTTPConnectionPool, "https": _DeadlineHTTPSConnectionPool}


class DeadlineAdapter(HTTPAdapter):
    """``HTTPAdapter`` whose pools use this module's connections (directly and through an HTTP proxy)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOL_CLASSES)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if hasattr(manager, "pool_classes_by_scheme"):
            manager.pool_classes_by_scheme = dict(_POOL_CLASSES)
        return manager


def new_session(*, connect_retries: int = 2, pool_maxsize: int = 32) -> requests.Session:
    """A pooled ``requests.Session`` for :class:`~django_huyi_sms.client.IhuyiClient`: deadline, sent-mark, retries."""
    session = requests.Session()
    adapter = DeadlineAdapter(pool_connections=8, pool_maxsize=pool_maxsize, max_retries=connect_retry(connect_retries))
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
