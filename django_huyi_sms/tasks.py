"""How queued sends reach a worker: Django's tasks framework, or Celery.

``HUYI_SMS["QUEUE"]["RUNNER"]`` chooses:

* ``"tasks"`` (default): Django's tasks framework (``django.tasks``; the
  ``django-tasks`` backport before Django 6), backend ``QUEUE["TASK_BACKEND"]``
  of the ``TASKS`` setting. Django's default is the immediate backend, which
  runs the task in this process right after the commit. ``django-tasks-db``
  (``DatabaseBackend`` and ``manage.py db_worker``) runs them in a worker
  process on one machine.
* ``"celery"``: the Celery tasks below (``django_huyi_sms.send_queued``,
  ``django_huyi_sms.send_code`` and ``django_huyi_sms.send_batch``), for sites that outgrow one machine; the
  site's Celery app finds them with ``app.autodiscover_tasks()``.

Tasks carry primary keys only: the worker reads what to send from the
database, so a message's text (and a code, which is made by the worker) never
sits in a broker. Every task is safe to run twice: it claims its rows first.

Retries follow one policy, urllib3's ``Retry``: the client retries connect
failures within ``TIMEOUT``; a queued send that still reached nobody goes back
to the queue after ``retry_delay()`` (``RETRY_BACKOFF``, doubled each attempt,
capped by ``RETRY_BACKOFF_MAX``) when the runner can defer a task.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from urllib3.util.retry import RequestHistory, Retry

from .conf import huyi_settings

__all__ = [
    "runs_in_background",
    "can_defer",
    "retry_delay",
    "dispatch",
    "dispatch_on_commit",
    "dispatch_code_on_commit",
    "dispatch_batch",
    "dispatch_batches_on_commit",
    "send_queued_task",
    "send_code_task",
    "check_balances_task",
    "purge_task",
    "send_batch_task",
]

logger = logging.getLogger("django_huyi_sms.tasks")

def _tasks_framework() -> tuple[Any, Any]:
    """Django's tasks framework (``django.tasks``; the ``django-tasks`` backport before Django 6) and
    its immediate backend class, or ``(None, None)`` when neither is installed."""
    for name in ("django.tasks", "django_tasks"):
        try:
            framework = importlib.import_module(name)
            immediate = importlib.import_module(f"{name}.backends.immediate")
        except ImportError:
            continue
        return framework, immediate.ImmediateBackend
    return None, None


_framework, ImmediateBackend = _tasks_framework()
task_backends: Any = _framework.task_backends if _framework is not None else None
#: The framework's ``task`` decorator; None without the framework.
django_task: Any = _framework.task if _framework is not None else None

try:
    from celery import shared_task
except ImportError:
    shared_task = None  # type: ignore[assignment]


def _run_send_queued(pks: list[int]) -> int:
    from .sending import send_queued

    return send_queued(pks)


def _run_send_code(record_pk: int, check_account: bool) -> None:
    from .otp import send_code

    send_code(record_pk, check_account=check_account)


def _run_send_batch(bulk_pk: int, batch: int) -> int:
    from .bulk import send_batch

    return send_batch(bulk_pk, batch)


# Django's tasks: a worker finds a task by its function's module and name, so each Task
# object is bound to the name of the function it wraps.
def send_queued_task(pks: list[int]) -> int:
    """Send queued ``SmsLog`` rows (``sending.send_queued``)."""
    return _run_send_queued(pks)


def send_code_task(record_pk: int, check_account: bool) -> None:
    """Make and send a queued one-time code (``otp.send_code``)."""
    _run_send_code(record_pk, check_account)


def send_batch_task(bulk_pk: int, batch: int) -> int:
    """Send one batch of a bulk send in one Submit (``bulk.send_batch``)."""
    return _run_send_batch(bulk_pk, batch)


if django_task is not None:
    send_queued_task = django_task()(send_queued_task)
    send_code_task = django_task()(send_code_task)
    send_batch_task = django_task()(send_batch_task)

send_queued_celery: Any = None
send_code_celery: Any = None
send_batch_celery: Any = None
if shared_task is not None:
    # acks_late + reject_on_worker_lost: a task whose worker died is delivered again; its
    # rows are claimed, so what was sent is not sent twice and the rest goes out.
    send_queued_celery = shared_task(
        name="django_huyi_sms.send_queued", acks_late=True, reject_on_worker_lost=True, ignore_result=True
    )(_run_send_queued)
    send_code_celery = shared_task(
        name="django_huyi_sms.send_code", acks_late=True, reject_on_worker_lost=True, ignore_result=True
    )(_run_send_code)
    send_batch_celery = shared_task(
        name="django_huyi_sms.send_batch", acks_late=True, reject_on_worker_lost=True, ignore_result=True
    )(_run_send_batch)


def _runner() -> str:
    return huyi_settings.QUEUE["RUNNER"]


def _task_backend() -> Any:
    return task_backends[huyi_settings.QUEUE["TASK_BACKEND"]] if task_backends is not None else None


def _celery_eager() -> bool:
    from celery import current_app

    return bool(current_app.conf.task_always_eager)


def runs_in_background() -> bool:
    """Whether a dispatched task runs in another process (a worker), not in this one after the commit."""
    if _runner() == "celery":
        return not _celery_eager()
    backend = _task_backend()
    return backend is not None and not isinstance(backend, ImmediateBackend)


def can_defer() -> bool:
    """Whether a task can be scheduled for later (so a retry can wait)."""
    if _runner() == "celery":
        return not _celery_eager()
    backend = _task_backend()
    return backend is not None and bool(getattr(backend, "supports_defer", False))


def retry_delay(attempt: int) -> float:
    """Seconds before retry number ``attempt`` (1, 2, …): ``RETRY_BACKOFF`` × 2^(attempt-1), capped.

    urllib3's ``Retry`` computes it, the same policy the client uses for its own
    connect retries (it counts consecutive errors from its history).
    """
    config = huyi_settings.QUEUE
    policy = Retry(total=None, backoff_factor=config["RETRY_BACKOFF"] / 2, backoff_max=config["RETRY_BACKOFF_MAX"])
    history = tuple(RequestHistory("POST", None, None, None, None) for _ in range(max(1, attempt) + 1))
    return policy.new(history=history).get_backoff_time()


def dispatch(pks: Sequence[int], *, delay: float | None = None) -> None:
    """Hand queued rows to workers now, ``BATCH_SIZE`` to a task (``delay`` seconds later, if given).

    A runner that cannot take the task (its broker down) is logged, not raised:
    the rows stay queued and ``huyi_requeue`` hands them out later.
    """
    pks = [int(pk) for pk in pks]
    size = huyi_settings.QUEUE["BATCH_SIZE"]
    for start in range(0, len(pks), size):
        batch = pks[start : start + size]
        try:
            _enqueue("send_queued", [batch], delay=delay)
        except Exception:
            logger.exception("could not hand %d queued SMS to the queue; huyi_requeue will", len(batch))


def _enqueue(kind: str, args: list[Any], *, delay: float | None) -> None:
    django_version, celery_version, here = _TASKS[kind]
    queue_name = huyi_settings.QUEUE["QUEUE_NAME"]
    if _runner() == "celery":
        if celery_version is None:
            raise RuntimeError('HUYI_SMS["QUEUE"]["RUNNER"] is "celery" but Celery is not installed')
        celery_version.apply_async(args=args, countdown=delay or None, queue=queue_name)
    elif django_version is None:
        # No tasks framework (Django 5.2 without the django-tasks backport): run it here.
        here(*args)
    else:
        options: dict[str, Any] = {"backend": huyi_settings.QUEUE["TASK_BACKEND"], "queue_name": queue_name}
        if delay and can_defer():
            options["run_after"] = timezone.now() + timedelta(seconds=delay)
        django_version.using(**options).enqueue(*args)


# Per kind of task: the Django task (None without the framework), the Celery task, the plain function.
_TASKS: dict[str, tuple[Any, Any, Any]] = {
    "send_queued": (send_queued_task if django_task is not None else None, send_queued_celery, _run_send_queued),
    "send_code": (send_code_task if django_task is not None else None, send_code_celery, _run_send_code),
    "send_batch": (send_batch_task if django_task is not None else None, send_batch_celery, _run_send_batch),
}


_pending = threading.local()


def dispatch_on_commit(pks: Sequence[int]) -> None:
    """Hand ``pks`` to workers once the current transaction commits (at once outside one).

    The rows of one transaction go out together, in batches: each call adds its
    keys to this thread's list and registers a flush, and the first flush after
    the commit sends the whole list. Keys of a rolled-back transaction may go
    out with a later flush; their rows do not exist, so the task does nothing.
    """
    batch = getattr(_pending, "pks", None)
    if batch is None:
        batch = _pending.pks = []
    batch.extend(int(pk) for pk in pks)
    transaction.on_commit(_flush)


def _flush() -> None:
    batch = getattr(_pending, "pks", None) or []
    if batch:
        _pending.pks = []
        dispatch(batch)


def dispatch_code_on_commit(record_pk: int, *, check_account: bool) -> None:
    """Have a worker make, record and send the code of ``OtpRecord`` ``record_pk`` once this transaction commits."""

    def hand_out() -> None:
        try:
            _enqueue("send_code", [record_pk, check_account], delay=None)
        except Exception:
            logger.exception("could not hand one-time code %s to the queue; the person can ask again", record_pk)

    transaction.on_commit(hand_out)


# -- for a scheduler: the low-balance check and the purge ------------------------------------------
# Celery beat names them "django_huyi_sms.check_balances" and "django_huyi_sms.purge"; with Django's
# tasks framework, cron (or any scheduler) enqueues check_balances_task / purge_task. docs/operations.md.


def _run_check_balances() -> dict[str, int | None]:
    from .balances import check_balances

    return {reading.product: reading.balance for reading in check_balances()}


def _run_purge(days: int | None = None) -> dict[str, int]:
    from .retention import purge

    return purge(days=days).counts


def check_balances_task() -> dict[str, int | None]:
    """Read every configured product's balance; the low-balance alarm rings on a fall under the threshold.

    Returns each product's balance (``None``: it could not be read).
    """
    return _run_check_balances()


def purge_task(days: int | None = None) -> dict[str, int]:
    """Delete what is older than ``days`` (default ``RETENTION_DAYS``), as ``huyi_purge`` does. Returns the counts."""
    return _run_purge(days)


if django_task is not None:
    check_balances_task = django_task()(check_balances_task)
    purge_task = django_task()(purge_task)

check_balances_celery: Any = None
purge_celery: Any = None
if shared_task is not None:
    check_balances_celery = shared_task(name="django_huyi_sms.check_balances", ignore_result=True)(
        _run_check_balances
    )
    purge_celery = shared_task(name="django_huyi_sms.purge", ignore_result=True)(_run_purge)


def dispatch_batch(bulk_pk: int, batch: int, *, delay: float | None = None) -> None:
    """Hand batch ``batch`` of bulk send ``bulk_pk`` to a worker (``delay`` seconds later, if given).

    One task per batch: its rows go out in one Submit. A runner that cannot take
    the task is logged, not raised: the rows stay queued and ``huyi_requeue``
    hands the batch out later.
    """
    try:
        _enqueue("send_batch", [int(bulk_pk), int(batch)], delay=delay)
    except Exception:
        logger.exception("could not hand batch %s of bulk send %s to the queue; huyi_requeue will", batch, bulk_pk)


def dispatch_batches_on_commit(batches: Iterable[tuple[int, int]]) -> None:
    """Hand each ``(bulk_pk, batch)`` to a worker once the current transaction commits (at once outside one)."""
    batches = sorted(set(batches))
    if not batches:
        return

    def hand_out() -> None:
        for bulk_pk, batch in batches:
            dispatch_batch(bulk_pk, batch)

    transaction.on_commit(hand_out)
