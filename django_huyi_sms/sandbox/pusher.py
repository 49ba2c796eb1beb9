"""Pushes to a site's callback URLs, with the provider's retry contract.

The receiver must answer HTTP 200 with the body ``success`` (surrounding
whitespace ignored); anything else — another body, another status, no answer —
counts as a failure, and the push is tried again: at most 3 times per event,
the 2nd 60 s after the 1st, the 3rd 120 s after the 2nd (ihuyi-api.md, "Push
callbacks"). ``retry_scale`` multiplies both intervals so that tests and demos
need not wait three minutes.

One daemon thread works through a time-ordered queue (a heap guarded by a
``Condition``); every attempt is recorded on the event's :class:`PushRecord`.
The thread never dies of an exception: a failing job is logged and the next
one runs. Pure Python; no Django.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests

__all__ = ["MAX_ATTEMPTS", "RETRY_INTERVALS", "PushAttempt", "PushRecord", "Pusher", "is_push_url"]

logger = logging.getLogger("django_huyi_sms.sandbox")

#: At most this many pushes per event…
MAX_ATTEMPTS = 3
#: …waiting this many seconds before the 2nd and before the 3rd (times ``retry_scale``).
RETRY_INTERVALS = (60.0, 120.0)
# The answer that means "received"; compared after stripping whitespace.
_SUCCESS_BODY = "success"
# Read no more of a receiver's answer than this: we only need to know if it says "success".
_MAX_ANSWER_BYTES = 1024
_EXCERPT_LENGTH = 200
# The worker sleeps at most this long before it looks at the queue again: Condition.wait()
# overflows on a timeout past threading.TIMEOUT_MAX (about 292 years), which kills the thread.
_LONGEST_SLEEP = 3600.0


@dataclass
class PushAttempt:
    """One POST to the receiver.

    ``at`` is when it started (Unix seconds); ``status`` the HTTP status, or
    ``None`` when there was no answer (then ``error`` says why); ``body`` an
    excerpt of the answer.
    """

    at: float
    status: int | None
    body: str = ""
    error: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status == 200 and self.body.strip() == _SUCCESS_BODY


@dataclass
class PushRecord:
    """One event pushed to ``url`` (``kind``: ``receipt``, ``reply`` or ``template``).

    ``delivered`` turns true when the receiver answered ``success``;
    ``finished`` when no further attempt will be made (delivered, or given up
    after :data:`MAX_ATTEMPTS`).
    """

    kind: str
    url: str
    fields: dict[str, str]
    attempts: list[PushAttempt] = field(default_factory=list)
    delivered: bool = False
    finished: bool = False


@dataclass(order=True)
class _Job:
    due: float  # time.monotonic()
    sequence: int
    run: Callable[[], None] = field(compare=False)


class Pusher:
    """A background worker that POSTs form-encoded fields and retries as ihuyi does.

    ``retry_scale`` multiplies the 60 s / 120 s retry intervals; ``timeout``
    (seconds) bounds each POST. The worker thread starts on the first job;
    :meth:`close` stops it.
    """

    def __init__(
        self,
        *,
        retry_scale: float = 1.0,
        timeout: float = 10.0,
        session: requests.Session | None = None,
    ) -> None:
        if not math.isfinite(retry_scale) or retry_scale < 0:
            raise ValueError(f"retry_scale must be a number, 0 or more, not {retry_scale!r}")
        self.retry_scale = float(retry_scale)
        self.timeout = timeout
        self.session = session or requests.Session()
        self._condition = threading.Condition()
        self._queue: list[_Job] = []
        self._sequence = itertools.count()
        self._running = 0  # jobs taken off the queue and not yet done
        self._records: list[PushRecord] = []
        self._closed = False
        self._thread: threading.Thread | None = None

    # -- scheduling -----------------------------------------------------------

    def push(self, kind: str, url: str, fields: Mapping[str, str], *, delay: float = 0.0) -> PushRecord:
        """Schedule ``fields`` to be POSTed to ``url`` in ``delay`` seconds; return its record.

        The record fills in as attempts are made. Raises ``ValueError`` for a
        URL that is not ``http(s)://host…``.
        """
        if not is_push_url(url):
            raise ValueError(f"push URL must be http:// or https://, not {_safe_url(url)!r}")
        record = PushRecord(kind=kind, url=url, fields={key: str(value) for key, value in fields.items()})
        with self._condition:
            self._records.append(record)
        self.call_later(delay, lambda: self._attempt(record))
        return record

    @property
    def records(self) -> list[PushRecord]:
        """Every push scheduled so far, oldest first; the records are live (``attempts`` grow)."""
        with self._condition:
            return list(self._records)

    def call_later(self, delay: float, function: Callable[[], None]) -> None:
        """Run ``function`` on the worker thread in ``delay`` seconds.

        After :meth:`close` this does nothing: a gateway being replaced may
        still finish a request, and that must not fail. Raises ``ValueError``
        for a ``delay`` that is not a finite number (NaN would break the queue's order).
        """
        if not math.isfinite(delay):
            raise ValueError(f"delay must be a finite number of seconds, not {delay!r}")
        with self._condition:
            if self._closed:
                logger.debug("sandbox pusher is closed; dropping a scheduled job")
                return
            heapq.heappush(self._queue, _Job(time.monotonic() + max(delay, 0.0), next(self._sequence), function))
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="huyi-sandbox-pusher", daemon=True)
                self._thread.start()
            self._condition.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no job is queued or running (retries included); False if ``timeout`` ran out."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._condition:
            while self._queue or self._running:
                if self._closed:
                    return not self._running
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._condition.wait(remaining)
            return True

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker; jobs still queued are dropped. Safe to call twice."""
        with self._condition:
            self._closed = True
            self._queue.clear()
            self._condition.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self.session.close()

    # -- the worker -----------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._condition:
                while not self._closed:
                    if self._queue:
                        wait = self._queue[0].due - time.monotonic()
                        if wait <= 0:
                            break
                        wait = min(wait, _LONGEST_SLEEP)
                    else:
                        wait = None
                    self._condition.wait(wait)
                if self._closed:
                    return
                job = heapq.heappop(self._queue)
                self._running += 1
            try:
                job.run()
            except Exception:  # one bad job must not stop every later push
                logger.exception("sandbox pusher: a scheduled job failed")
            finally:
                with self._condition:
                    self._running -= 1
                    self._condition.notify_all()

    def _attempt(self, record: PushRecord) -> None:
        started_wall, started = time.time(), time.monotonic()
        try:
            response = self.session.post(record.url, data=record.fields, timeout=self.timeout, stream=True)
            try:
                raw = response.raw.read(_MAX_ANSWER_BYTES, decode_content=True) or b""
            finally:
                response.close()
            attempt = PushAttempt(
                at=started_wall,
                status=response.status_code,
                body=raw.decode("utf-8", "replace")[:_EXCERPT_LENGTH],
            )
        except Exception as exc:  # any failure to get an answer is a failed attempt, as for the provider
            attempt = PushAttempt(at=started_wall, status=None, error=exc.__class__.__name__)
        with self._condition:
            record.attempts.append(attempt)
            number = len(record.attempts)
            if attempt.succeeded:
                record.delivered = record.finished = True
            elif number >= MAX_ATTEMPTS:
                record.finished = True
        if attempt.succeeded:
            return
        # The URL may carry the site's callback token in its query: log only scheme, host and path.
        outcome = f"HTTP {attempt.status}" if attempt.status is not None else attempt.error
        if number >= MAX_ATTEMPTS:
            logger.warning(
                "sandbox %s push to %s failed (%s); giving up after %d attempts",
                record.kind,
                _safe_url(record.url),
                outcome,
                number,
            )
            return
        interval = RETRY_INTERVALS[number - 1] * self.retry_scale
        logger.warning(
            "sandbox %s push to %s failed (%s, attempt %d of %d); retrying in %.3g s",
            record.kind,
            _safe_url(record.url),
            outcome,
            number,
            MAX_ATTEMPTS,
            interval,
        )
        # The interval runs from the start of the failed attempt, as the provider's "60 s after the 1st".
        self.call_later(started + interval - time.monotonic(), lambda: self._attempt(record))


def is_push_url(url: str) -> bool:
    """Whether ``url`` is something :meth:`Pusher.push` can POST to: ``http(s)://host[:port]…``."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _safe_url(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        port = None
    if port:
        host = f"{host}:{port}"
    return f"{parts.scheme}://{host}{parts.path}"
