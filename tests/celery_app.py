"""The Celery app of the test suite's worker processes (``celery -A tests.celery_app worker``).

A site's own app looks the same: settings from Django's, and ``autodiscover_tasks()`` finds
``django_huyi_sms.tasks``. The broker is the one the test names (this machine's Redis or RabbitMQ).
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

app = Celery("huyi_tests")
app.conf.update(
    broker_url=os.environ.get("HUYI_CELERY_BROKER") or os.environ.get("REDIS_URL") or "memory://",
    task_default_queue=os.environ.get("HUYI_CELERY_QUEUE", "huyi-tests"),
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)
app.autodiscover_tasks(["django_huyi_sms"])
