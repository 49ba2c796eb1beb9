"""Real worker processes: Celery against this machine's Redis and RabbitMQ, and django-tasks-db's db_worker, sending
queued rows through the sandbox; and a worker killed (SIGKILL) mid-batch, then huyi_requeue."""

from __future__ import annotations

import os
import time
from collections import Counter

import pytest
from django.db import transaction
from django.test import override_settings

import django_huyi_sms
from django_huyi_sms import sending
from django_huyi_sms.models import SmsLog
from django_huyi_sms.sandbox.state import gateway_from_settings
from django_huyi_sms.sandbox.wsgi import serve

from .faults import FaultyProvider
from .test_send import CODE_TEXT
from .workers import Worker, wait_for, worker_env

pytestmark = [pytest.mark.django_db(transaction=True)]

IHUYI = "django_huyi_sms.backends.ihuyi.IhuyiBackend"


@pytest.fixture
def sandbox():
    """The sandbox gateway on its own port, as `manage.py huyi_sandbox` serves it (no receipts pushed)."""
    gateway = gateway_from_settings({"RECEIPT_URL": "", "DAILY_LIMIT": 100, "DAILY_CODE_LIMIT": 100})
    server, _thread = serve(gateway)
    gateway.url = f"http://127.0.0.1:{server.server_address[1]}/webservice/sms.php"
    yield gateway
    server.shutdown()
    server.server_close()
    gateway.close()


# The brokers a site may run Celery on, and where this machine has each (.ci/run sets both
# when the servers answer).
BROKERS = {"redis": "REDIS_URL", "rabbitmq": "AMQP_URL"}


@pytest.fixture(params=sorted(BROKERS))
def celery_queue(request):
    """A Celery queue of this test's own, on Redis and on RabbitMQ (two runs on one machine do not share one)."""
    pytest.importorskip("celery")
    variable = BROKERS[request.param]
    broker = os.environ.get(variable)
    if not broker:
        pytest.skip(f"needs {request.param} as the Celery broker: set {variable} (.ci/run does when the server answers)")
    import tests.celery_app as celery_app

    queue = f"huyi-tests-{os.getpid()}-{time.monotonic_ns()}"
    _use_broker(celery_app.app, broker)
    yield {"queue": queue, "broker": broker}
    with celery_app.app.connection_for_write() as conn:
        conn.default_channel.queue_delete(queue)


def _use_broker(app, broker):
    """Point this process's producer at ``broker``: the app keeps its connection pools, so drop them."""
    app.conf.broker_url = broker
    app.close()  # forgets the connection pool
    app.amqp._producer_pool = None  # built from that pool on first use; Celery has no public reset


def huyi_settings_for(url, **extra):
    return {"ACCOUNT": "sandbox", "API_KEY": "sandbox-api-key", "API_URL": url, "BACKEND": IHUYI, "TIMEOUT": 2, **extra}


def enqueue(mobiles, settings):
    with override_settings(HUYI_SMS=settings), transaction.atomic():
        return [django_huyi_sms.enqueue_sms(mobile, CODE_TEXT).pk for mobile in mobiles]


def statuses():
    return Counter(SmsLog.objects.values_list("status", flat=True))


MOBILES = [f"1350013{n:04d}" for n in range(30)]


def test_a_celery_worker_sends_queued_rows_through_the_sandbox(sandbox, celery_queue):
    settings = huyi_settings_for(sandbox.url, QUEUE={"RUNNER": "celery", "QUEUE_NAME": celery_queue["queue"], "BATCH_SIZE": 7})
    worker = Worker.celery(worker_env(settings, HUYI_CELERY_QUEUE=celery_queue["queue"], HUYI_CELERY_BROKER=celery_queue["broker"]))
    try:
        pks = enqueue(MOBILES, settings)  # handed to the broker on commit: 5 tasks
        assert wait_for(lambda: statuses() == {"submitted": len(pks)}, timeout=60), (statuses(), worker.stop())
    finally:
        worker.stop()
    for mobile in MOBILES:
        assert [message.content for message in sandbox.messages_for(mobile)] == [CODE_TEXT]


def test_a_worker_killed_mid_batch_then_requeue_sends_everything_once_or_shows_unknown(celery_queue):
    """50 messages in one task; the worker claims CLAIM_CHUNK (20) at a time. The provider takes the
    first chunk and 7 of the second, hangs on the 8th, and the worker is SIGKILLed there."""
    chunk = sending.CLAIM_CHUNK
    mobiles = [f"1350013{n:04d}" for n in range(50)]
    provider = FaultyProvider(mode="accept", hang_from=chunk + 8)
    settings = huyi_settings_for(provider.url, QUEUE={"RUNNER": "celery", "QUEUE_NAME": celery_queue["queue"], "BATCH_SIZE": 50})
    env = worker_env(settings, HUYI_CELERY_QUEUE=celery_queue["queue"], HUYI_CELERY_BROKER=celery_queue["broker"])
    first = Worker.celery(env)
    try:
        enqueue(mobiles, settings)
        assert wait_for(lambda: provider.requests >= chunk + 8, timeout=60), first.stop()
        first.kill()
        provider.hang_from = None
        # A chunk's answers are recorded together: the first chunk's are in, the second's never came.
        assert statuses() == {"submitted": chunk, "queued": 50 - chunk}

        time.sleep(1.1)
        with override_settings(HUYI_SMS=settings):
            result = sending.requeue(older_than=1.0)
        # The second chunk was claimed (7 sent, 1 on the wire, the rest not yet): all may have gone.
        assert (result.handed_out, result.unknown) == (50 - 2 * chunk, chunk)

        second = Worker.celery(env)
        try:
            assert wait_for(lambda: statuses()["queued"] == 0, timeout=60), (statuses(), second.stop())
        finally:
            second.stop()
    finally:
        first.kill()
        provider.close()
    assert statuses() == {"submitted": 50 - chunk, "unknown": chunk}
    requests = Counter(body["mobile"] for body in provider.bodies)
    for log in SmsLog.objects.all():
        if log.status == "submitted":
            assert requests[log.mobile] == 1, log.mobile  # sent exactly once
        else:
            assert log.status == "unknown" and requests[log.mobile] <= 1 and "may have been sent" in log.provider_msg
    assert sum(requests.values()) == 50 - chunk + 8  # every message at most once, the unknown ones included


def test_django_tasks_db_worker_sends_queued_rows_through_the_sandbox(sandbox):
    """One machine, no broker: django-tasks-db keeps the tasks in the database; db_worker runs them."""
    tasks = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings = huyi_settings_for(sandbox.url, QUEUE={"BATCH_SIZE": 4})
    with override_settings(TASKS=tasks):
        pks = enqueue(MOBILES[:10], settings)
        assert statuses() == {"queued": 10}  # nothing sent in this process
    worker = Worker.db_worker(worker_env(settings, tasks), "--batch")
    assert worker.wait(120) == 0, worker.output()
    assert statuses() == {"submitted": len(pks)}
    for mobile in MOBILES[:10]:
        assert len(sandbox.messages_for(mobile)) == 1
