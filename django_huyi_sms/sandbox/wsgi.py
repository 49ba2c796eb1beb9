"""The sandbox gateway as a standalone web server: plain WSGI, no Django.

:func:`make_app` serves the provider's endpoint paths (:data:`~.wire.ROUTES`)
for GET and POST, exactly as ihuyi does, plus ``GET /phone/<mobile>.json`` with
the messages a number "received"; any other path goes to ``pages``, a WSGI app
of its own (``standalone.pages_app``: the phone pages, which need Django's
templates), or is answered 404. :func:`serve` runs it on a threaded
``wsgiref`` server in a daemon thread; tests and ``manage.py huyi_sandbox``
use it::

    gateway = SandboxGateway(accounts={"sandbox": "sandbox-api-key"})
    server, thread = serve(gateway)            # port 0: any free port
    port = server.server_address[1]
    IhuyiClient("sandbox", "sandbox-api-key", api_url=f"http://127.0.0.1:{port}/webservice/sms.php")
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from .gateway import SandboxGateway
from .inbox import phone_payload
from .paths import MOBILE, PHONE_JSON
from .wire import ROUTES, read_body

__all__ = ["BodyTooLarge", "WSGIApp", "answer", "make_app", "not_allowed", "read_form", "serve"]

logger = logging.getLogger("django_huyi_sms.sandbox")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# A marketing Submit may list thousands of numbers; nothing legitimate is bigger than this.
_MAX_BODY_BYTES = 2 * 1024 * 1024
_PHONE_JSON = re.compile(PHONE_JSON)


def make_app(gateway: SandboxGateway, pages: WSGIApp | None = None) -> WSGIApp:
    """A WSGI application answering the provider's endpoints from ``gateway``, and other paths from ``pages``."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "").lstrip("/")
        request_method = environ.get("REQUEST_METHOD", "GET").upper()
        phone = _PHONE_JSON.fullmatch(path)
        if phone is not None and MOBILE.fullmatch(phone.group("mobile")):
            if request_method != "GET":
                return not_allowed(start_response, ("GET",))
            body = json.dumps(phone_payload(gateway, phone.group("mobile")), ensure_ascii=False).encode("utf-8")
            return answer(start_response, "200 OK", "application/json; charset=utf-8", body)
        product = ROUTES.get(path)
        if product is None:
            if pages is not None:
                return pages(environ, start_response)
            return answer(start_response, "404 Not Found", "text/plain; charset=utf-8", b"not found\n")
        if request_method not in ("GET", "POST"):
            return not_allowed(start_response, ("GET", "POST"))

        query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True, encoding="utf-8"))
        try:
            form = read_form(environ) if request_method == "POST" else {}
        except BodyTooLarge:
            return answer(start_response, "413 Content Too Large", "text/plain; charset=utf-8", b"too large\n")
        method = query.get("method") or form.get("method", "")
        content_type, body = gateway.handle(
            product, method, {**query, **form}, remote_addr=environ.get("REMOTE_ADDR", "")
        )
        return answer(start_response, "200 OK", content_type, body)

    return app


class BodyTooLarge(Exception):
    """A request body over the size limit: answer 413."""


def read_form(environ: dict[str, Any]) -> dict[str, str]:
    """The body's fields, read as the provider reads them (``wire.read_body``: form-encoded, multipart, raw)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > _MAX_BODY_BYTES:
        raise BodyTooLarge
    raw = environ["wsgi.input"].read(length) if length > 0 else b""
    return read_body(environ.get("CONTENT_TYPE", ""), raw)


def answer(
    start_response: Callable[..., Any],
    status: str,
    content_type: str,
    body: bytes,
    headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body))), *(headers or [])])
    return [body]


def not_allowed(start_response: Callable[..., Any], allowed: tuple[str, ...]) -> list[bytes]:
    headers = [("Allow", ", ".join(allowed))]
    return answer(
        start_response, "405 Method Not Allowed", "text/plain; charset=utf-8", b"method not allowed\n", headers
    )


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    # Restarting `huyi_sandbox` right after Ctrl-C should not fail with "address in use".
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    # wsgiref logs the whole request line to stderr, query string included; a GET request
    # carries the password there. Log the path only, and at debug level.
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        logger.debug("sandbox %s %s -> %s", self.command, urlsplit(self.path).path, code)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("sandbox server: " + format, *args)


def serve(
    gateway: SandboxGateway, host: str = "127.0.0.1", port: int = 0, pages: WSGIApp | None = None
) -> tuple[WSGIServer, threading.Thread]:
    """Serve ``gateway`` (and ``pages``, see :func:`make_app`) on ``host:port`` from a daemon thread;
    return the server and the thread.

    ``port=0`` picks a free port: read it from ``server.server_address[1]``.
    Stop with ``server.shutdown(); server.server_close()``. Raises
    ``OSError`` when the address cannot be bound.
    """
    server = make_server(
        host, port, make_app(gateway, pages), server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
    )
    # A short poll interval: shutdown() waits for it, and tests start and stop servers often.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="huyi-sandbox-server", daemon=True
    )
    thread.start()
    return server, thread
