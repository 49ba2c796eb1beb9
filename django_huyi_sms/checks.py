"""System checks: a misconfiguration is reported by ``manage.py check`` with a hint, not at the first send.

``conf.py`` checks the values themselves (types, ranges, unknown keys) when it
converts them; this module reports what it found, and checks what depends on the
rest of the project: credentials, the push token, the task runner, the
authentication backends. Nothing here raises, whatever the settings hold.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core import checks
from django.core.exceptions import ImproperlyConfigured


@checks.register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from .conf import huyi_settings

    messages: list[checks.CheckMessage] = [
        checks.Error(problem.message, hint=problem.hint, id=problem.id) for problem in huyi_settings.problems()
    ]
    messages.extend(_check_credentials(huyi_settings))
    messages.extend(_check_push_token(huyi_settings))
    messages.extend(_check_queue_runner(huyi_settings))
    messages.extend(_check_authentication_backends())
    return messages


def _readable(read: Callable[[], Any]) -> tuple[bool, Any]:
    """``(True, value)``, or ``(False, None)`` when the setting has an error (already reported)."""
    try:
        return True, read()
    except ImproperlyConfigured:
        return False, None


def _check_credentials(huyi_settings: Any) -> list[checks.CheckMessage]:
    from .backends.ihuyi import IhuyiBackend

    ok, backend = _readable(lambda: huyi_settings.BACKEND)
    if not ok or not (isinstance(backend, type) and issubclass(backend, IhuyiBackend)):
        return []
    ok, config = _readable(lambda: huyi_settings.product("sms"))
    if not ok or config.configured:
        return []
    return [
        checks.Warning(
            "HUYI_SMS has no ACCOUNT (APIID) or API_KEY: sends will fail with code 401/402.",
            hint=(
                "Set HUYI_SMS['ACCOUNT'] and HUYI_SMS['API_KEY'] from the ihuyi console, or use "
                "the sandbox / console / locmem backend while developing."
            ),
            id="huyi_sms.W001",
        )
    ]


def _check_push_token(huyi_settings: Any) -> list[checks.CheckMessage]:
    ok, token = _readable(lambda: huyi_settings.CALLBACK_TOKEN)
    if not ok or token:
        return []
    return [
        checks.Warning(
            "HUYI_SMS['CALLBACK_TOKEN'] is empty: delivery receipts, replies and template reviews "
            "pushed by ihuyi are refused (403) until it is set.",
            hint=(
                "Set it to a long random string (python -c 'import secrets; print(secrets.token_urlsafe(32))') "
                "and give the vendor console push URLs ending in ?token=<that string>."
            ),
            id="huyi_sms.W002",
        )
    ]


def _check_queue_runner(huyi_settings: Any) -> list[checks.CheckMessage]:
    """Whether the runner QUEUE names is there (its values are conf.py's: E006–E008)."""
    from . import tasks

    ok, queue = _readable(lambda: huyi_settings.QUEUE)
    if not ok:
        return []
    runner = queue["RUNNER"]
    if runner == "celery" and tasks.shared_task is None:
        return [
            checks.Error(
                "HUYI_SMS['QUEUE']['RUNNER'] is \"celery\" but Celery is not installed.",
                hint='pip install "django-huyi-sms[celery]", and start a worker: celery -A yourproject worker',
                id="huyi_sms.E009",
            )
        ]
    if runner == "tasks" and tasks.django_task is None:
        return [
            checks.Warning(
                "Django's tasks framework is not available (Django 5.2 without the django-tasks backport): "
                "enqueue_sms() sends in this process right after the commit.",
                hint="pip install django-tasks, or use Celery (QUEUE['RUNNER'] = \"celery\").",
                id="huyi_sms.W004",
            )
        ]
    if runner == "tasks":
        from django.conf import settings

        alias = queue["TASK_BACKEND"]
        if alias not in (getattr(settings, "TASKS", None) or {"default": {}}):
            return [
                checks.Error(
                    f"HUYI_SMS['QUEUE']['TASK_BACKEND'] is {alias!r}, which the TASKS setting does not define.",
                    hint="Name one of the TASKS aliases (\"default\" unless you have several).",
                    id="huyi_sms.E010",
                )
            ]
    return []


def _check_authentication_backends() -> list[checks.CheckMessage]:
    """Without SmsCodeBackend, a sign-in with a code authenticates once and is forgotten on the next request."""
    from django.contrib.auth import get_backends

    from .auth import SmsCodeBackend

    try:
        backends = get_backends()
    except (ImportError, ImproperlyConfigured):
        return []  # Django's own checks and the first request report a broken AUTHENTICATION_BACKENDS
    if any(isinstance(backend, SmsCodeBackend) for backend in backends):
        return []
    return [
        checks.Warning(
            "django_huyi_sms.auth.SmsCodeBackend is not in AUTHENTICATION_BACKENDS: sign-in with an SMS "
            "code (sms/login/, api/otp/verify/) will not keep the user signed in.",
            hint=(
                'Add "django_huyi_sms.auth.SmsCodeBackend" to AUTHENTICATION_BACKENDS (after '
                '"django.contrib.auth.backends.ModelBackend"). If the site does not sign people in with '
                'a code, silence this with SILENCED_SYSTEM_CHECKS = ["huyi_sms.W003"].'
            ),
            id="huyi_sms.W003",
        )
    ]
