"""A provider that misbehaves on purpose, on a real loopback socket.

Each connection is answered by the ``mode`` a test sets:

* ``reply``: write ``reply`` (raw bytes: status line, headers, body) and close;
* ``hang``: read the request, then answer nothing until the test ends (accept-then-hang);
* ``reset``: read the request, then reset the connection (RST) without a word;
* ``close``: read the request, then close the connection (FIN) without a word;
* ``drip``: write ``reply`` one byte every ``drip_interval`` seconds;
* ``tls``: answer the client's TLS hello with garbage (for an ``https://`` URL);
* ``accept``: answer every Submit as accepted, each with an smsid of its own.

``hang_from=N``: from the N-th request on, whatever the mode, hang (to kill a worker mid-batch).

``requests`` counts the requests that arrived whole; ``bodies`` keeps them.

And a database that goes away mid-path: :func:`cut_statement` fails the N-th statement of a block
(simulated errors, or real ones on PostgreSQL), :func:`every_cut` yields each N of a path.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from django.db import InterfaceError, OperationalError, connection


def http_reply(body: bytes | str, *, status: str = "200 OK", headers: tuple[str, ...] = ()) -> bytes:
    if isinstance(body, str):
        body = body.encode("utf-8")
    lines = [f"HTTP/1.1 {status}", "Content-Type: application/json", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join([*lines, "Connection: close", "", ""])).encode() + body


def accepted(smsid: str = "14745625541233112231") -> bytes:
    return http_reply(json.dumps({"code": 2, "msg": "提交成功", "smsid": smsid}, ensure_ascii=False))


@dataclass
class FaultyProvider:
    mode: str = "reply"
    reply: bytes = field(default_factory=accepted)
    drip_interval: float = 0.2
    hang_from: int | None = None
    bodies: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(64)
        self._server.settimeout(0.05)
        self.port = self._server.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/webservice/sms.php"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def requests(self) -> int:
        with self._lock:
            return len(self.bodies)

    def close(self) -> None:
        self._release.set()
        self._thread.join(5)
        self._server.close()

    def _serve(self) -> None:
        while not self._release.is_set():
            try:
                conn, _ = self._server.accept()
            except OSError:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                if self.mode == "tls":
                    conn.recv(4096)
                    conn.sendall(b"this is not TLS\r\n" * 4)
                    return
                number = self._read_request(conn)
                if self.mode == "hang" or (self.hang_from is not None and number >= self.hang_from):
                    self._release.wait(30)
                elif self.mode == "reset":
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                elif self.mode == "close":
                    conn.shutdown(socket.SHUT_RDWR)
                elif self.mode == "accept":
                    conn.sendall(accepted(str(10_000_000 + number)))
                elif self.mode == "drip":
                    for byte in self.reply:
                        if self._release.wait(self.drip_interval):
                            return
                        conn.sendall(bytes([byte]))
                else:
                    conn.sendall(self.reply)
            except OSError:
                pass

    def _read_request(self, conn: socket.socket) -> int:
        """Read one request; return its number (1, 2, …), or 0 when the client gave up first."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return 0
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return 0
            body += chunk
        form = {key: values[-1] for key, values in parse_qs(body.decode("utf-8", "replace")).items()}
        with self._lock:
            self.bodies.append(form)
            return len(self.bodies)


def unused_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Blackhole:
    """A loopback port whose accept queue is full: a connect to it hangs (the SYN is dropped)."""

    def __init__(self) -> None:
        self._server = socket.socket()
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(0)
        self.port = self._server.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/webservice/sms.php"
        self._fillers = []
        # Fill the queue: the kernel holds a connection or two for a backlog of 0.
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", self.port))
            self._fillers.append(filler)
        time.sleep(0.05)

    def close(self) -> None:
        for filler in self._fillers:
            filler.close()
        self._server.close()


# -- a database that goes away mid-path ------------------------------------------------------------

#: What a driver raises when the database goes away or gives up on a statement, as Django wraps
#: it (psycopg's QueryCanceled, DeadlockDetected and SerializationFailure are OperationalErrors).
DATABASE_FAULTS = {
    "connection lost": lambda: OperationalError("server closed the connection unexpectedly (simulated)"),
    "connection closed": lambda: InterfaceError("connection already closed (simulated)"),
    "statement timeout": lambda: OperationalError("canceling statement due to statement timeout (simulated)"),
    "deadlock": lambda: OperationalError("deadlock detected (simulated)"),
    "serialization failure": lambda: OperationalError("could not serialize access (simulated)"),
    "database locked": lambda: OperationalError("database is locked (simulated)"),
}


#: Real faults, on PostgreSQL: run in place of the cut statement, they fail as the server would make
#: it fail. The connection killed under the statement; a lock that is never granted (a second
#: connection holds it: :func:`hold_advisory_lock`) past ``lock_timeout``; ``statement_timeout``.
#: The settings last for the session (outside a transaction): :func:`reset_session` undoes them.
ADVISORY_LOCK = 20261207
POSTGRES_FAULTS = {
    "killed (PostgreSQL)": "SELECT pg_terminate_backend(pg_backend_pid())",
    "lock timeout (PostgreSQL)": f"SET lock_timeout = '50ms'; SELECT pg_advisory_lock({ADVISORY_LOCK})",
    "statement timeout (PostgreSQL)": "SET statement_timeout = '50ms'; SELECT pg_sleep(30)",
}


@contextmanager
def hold_advisory_lock() -> Iterator[None]:
    """Hold :data:`ADVISORY_LOCK` from a connection of its own for the block."""
    import psycopg

    settings = connection.settings_dict
    with psycopg.connect(
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        user=settings["USER"] or None,
        password=settings["PASSWORD"] or None,
        dbname=settings["NAME"],
        autocommit=True,
    ) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_LOCK])
        yield


def reset_session() -> None:
    """Undo what a PostgreSQL fault set for the session; a killed connection is reopened."""
    connection.close_if_unusable_or_obsolete()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout; RESET statement_timeout")


class StatementCut:
    """A ``connection.execute_wrapper``: counts the statements run and fails the ``at``-th one (1, 2, …).

    The statement is not run: ``fault()``'s exception is raised in its place, as the driver would
    raise it (the database never sees the statement, so a transaction is not aborted by it, just
    as a lost connection leaves nothing behind). ``at=None`` only counts. ``instead``, when given,
    is run in place of the statement (a real fault: a query that kills the connection, say) and
    whatever it raises is what the caller gets. ``statements`` keeps the SQL, for messages.
    """

    def __init__(
        self,
        at: int | None = None,
        fault: Callable[[], Exception] = DATABASE_FAULTS["connection lost"],
        *,
        instead: str | None = None,
    ) -> None:
        self.at = at
        self.fault = fault
        self.instead = instead
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)

    @property
    def fired(self) -> bool:
        return self.at is not None and self.count >= self.at

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        self.statements.append(sql)
        if self.count == self.at:
            if self.instead is not None:
                execute(self.instead, None, False, context)
                raise AssertionError(f"{self.instead!r} was meant to fail and did not")
            raise self.fault()
        return execute(sql, params, many, context)


@contextmanager
def cut_statement(at: int | None = None, fault: str = "connection lost") -> Iterator[StatementCut]:
    """Within the block, the default connection's ``at``-th statement fails as ``fault`` (a name in
    :data:`DATABASE_FAULTS`, simulated, or :data:`POSTGRES_FAULTS`, real). See :class:`StatementCut`."""
    if fault in POSTGRES_FAULTS:
        cut = StatementCut(at, instead=POSTGRES_FAULTS[fault])
    else:
        cut = StatementCut(at, DATABASE_FAULTS[fault])
    with connection.execute_wrapper(cut):
        yield cut


def every_cut(path: Callable[[], object], reset: Callable[[], object]) -> Iterator[int]:
    """The cut points of ``path``: run it once whole (after ``reset()``) to count its statements, then
    yield 1, 2, …, that count, calling ``reset()`` before each. Counted, not listed, so a test of a
    path holds whatever statements a version of it runs."""
    reset()
    with cut_statement() as dry_run:
        path()
    assert dry_run.count, "the path ran no statement: nothing to cut"
    for at in range(1, dry_run.count + 1):
        reset()
        yield at
