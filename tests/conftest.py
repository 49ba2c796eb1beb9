"""Shared fixtures: an empty outbox per test, a fake provider on loopback, the sandbox gateway."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection

import django_huyi_sms


@pytest.fixture(autouse=True)
def _empty_outbox() -> Iterator[None]:
    django_huyi_sms.outbox = []
    yield
    django_huyi_sms.outbox = []


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    """The per-IP limits count in the cache: each test starts from zero."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _no_pending_hand_offs() -> Iterator[None]:
    """Keys queued in a test that rolled back must not reach a later test's flush."""
    from django_huyi_sms import tasks

    tasks._pending.pks = []
    yield
    tasks._pending.pks = []


# Django's DummyBackend keeps tasks instead of running them: "a worker elsewhere".
try:
    import django.tasks  # noqa: F401

    DUMMY_TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
except ImportError:  # Django 5.2 with the django-tasks backport
    DUMMY_TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}


@pytest.fixture
def dummy_queue() -> Iterator[Any]:
    """Queued tasks are kept in ``backend.results`` (run them with ``result.task.call``)."""
    from django.test import override_settings

    from django_huyi_sms.tasks import task_backends

    with override_settings(TASKS=DUMMY_TASKS):
        backend = task_backends["default"]
        backend.clear()
        yield backend
        backend.clear()


@pytest.fixture
def postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL (.ci/run does when the server answers)")


# -- a fake provider: answers whatever the test says, records what it got -------------------


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    raw_body: bytes


@dataclass
class FakeProvider:
    """A real HTTP server on 127.0.0.1 that answers ``reply`` and records every request."""

    url: str
    requests: list[RecordedRequest] = field(default_factory=list)
    status: int = 200
    reply: bytes | str | Callable[[RecordedRequest], bytes | str] = b'{"code":2,"msg":"\xe6\x8f\x90\xe4\xba\xa4\xe6\x88\x90\xe5\x8a\x9f","smsid":"1"}'
    content_type: str = "application/json; charset=utf-8"
    delay: float = 0.0

    def answer_json(self, **fields: Any) -> None:
        self.reply = json.dumps(fields, ensure_ascii=False)
        self.content_type = "application/json; charset=utf-8"

    def answer_xml(self, root: str, **fields: Any) -> None:
        body = "".join(f"<{key}>{value}</{key}>" for key, value in fields.items())
        self.reply = f'<?xml version="1.0" encoding="utf-8"?>\n<{root} xmlns="106.ihuyi.com">{body}</{root}>'
        self.content_type = "text/xml; charset=utf-8"


_fake_holder: dict[str, FakeProvider] = {}


@pytest.fixture(scope="session")
def _fake_provider_server() -> Iterator[ThreadingHTTPServer]:
    holder = _fake_holder

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep pytest output clean
            pass

        def _handle(self) -> None:
            provider = holder["provider"]
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            recorded = RecordedRequest(
                method=self.command,
                path=parts.path,
                query={k: v[-1] for k, v in parse_qs(parts.query).items()},
                form={k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()},
                raw_body=raw,
            )
            provider.requests.append(recorded)
            if provider.delay:
                threading.Event().wait(provider.delay)
            reply = provider.reply(recorded) if callable(provider.reply) else provider.reply
            body = reply.encode("utf-8") if isinstance(reply, str) else reply
            try:
                self.send_response(provider.status)
                self.send_header("Content-Type", provider.content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        do_GET = do_POST = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def fake_provider(_fake_provider_server: ThreadingHTTPServer) -> Iterator[FakeProvider]:
    """A fresh fake provider for this test (one server serves the whole session)."""
    port = _fake_provider_server.server_address[1]
    provider = FakeProvider(url=f"http://127.0.0.1:{port}/webservice/sms.php")
    _fake_holder["provider"] = provider
    yield provider
    _fake_holder.pop("provider", None)
