"""The Celery app of the worker benchmark's worker processes: Django set up from BENCH_DJANGO."""

from __future__ import annotations

import json
import os

import django
from celery import Celery
from django.conf import settings

_config = json.loads(os.environ["BENCH_DJANGO"])
if not settings.configured:
    settings.configure(
        SECRET_KEY="benchmarks-only",
        USE_TZ=True,
        TIME_ZONE="Asia/Shanghai",
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "django_huyi_sms"],
        DATABASES={"default": _config["database"]},
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        HUYI_SMS=_config["huyi_sms"],
        LOGGING_CONFIG=None,
    )
    django.setup()

app = Celery("huyi_bench")
app.conf.update(
    broker_url=_config["broker"],
    task_default_queue=_config["queue"],
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)
app.autodiscover_tasks(["django_huyi_sms"])
