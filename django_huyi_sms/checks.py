"""System checks: a misconfiguration is reported by ``manage.py check`` with a hint, not at the first send."""

from __future__ import annotations

from typing import Any

from django.core import checks
from django.core.exceptions import ImproperlyConfigured


@checks.register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from .backends.ihuyi import IhuyiBackend
    from .provider import PRODUCTS
    from .conf import huyi_settings

    messages: list[checks.CheckMessage] = []
    try:
        backend = huyi_settings.BACKEND
        for product in PRODUCTS:
            huyi_settings.product(product)
    except ImproperlyConfigured as exc:
        return [
            checks.Error(
                str(exc),
                hint="See the settings reference in docs/settings.md.",
                id="huyi_sms.E001",
            )
        ]
    if isinstance(backend, type) and issubclass(backend, IhuyiBackend):
        config = huyi_settings.product("sms")
        if not config.configured:
            messages.append(
                checks.Warning(
                    "HUYI_SMS has no ACCOUNT (APIID) or API_KEY: sends will fail with code 401/402.",
                    hint=(
                        "Set HUYI_SMS['ACCOUNT'] and HUYI_SMS['API_KEY'] from the ihuyi console, or use "
                        "the sandbox / console / locmem backend while developing."
                    ),
                    id="huyi_sms.W001",
                )
            )
    if not huyi_settings.CALLBACK_TOKEN:
        messages.append(
            checks.Warning(
                "HUYI_SMS['CALLBACK_TOKEN'] is empty: delivery receipts, replies and template reviews "
                "pushed by ihuyi are refused (403) until it is set.",
                hint=(
                    "Set it to a long random string (python -c 'import secrets; print(secrets.token_urlsafe(32))') "
                    "and give the vendor console push URLs ending in ?token=<that string>."
                ),
                id="huyi_sms.W002",
            )
        )
    for name in ("TIMEOUT", "LOW_BALANCE_THRESHOLD", "RETENTION_DAYS"):
        value = getattr(huyi_settings, name)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            messages.append(
                checks.Error(
                    f"HUYI_SMS[{name!r}] must be a non-negative number, not {value!r}.",
                    id="huyi_sms.E002",
                )
            )
    messages.extend(_check_push_settings(huyi_settings))
    messages.extend(_check_queue_settings(huyi_settings))
    messages.extend(_check_authentication_backends())
    return messages


def _number(value: Any, *, whole: bool = False, positive: bool = False) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if whole and not isinstance(value, int):
        return False
    return value > 0 if positive else value >= 0


def _check_queue_settings(huyi_settings: Any) -> list[checks.CheckMessage]:
    """QUEUE, CONNECT_RETRIES, UNKNOWN_MATCH_WINDOW: what sending.py and tasks.py read for queued sends."""
    from . import tasks

    messages: list[checks.CheckMessage] = []
    queue = huyi_settings.QUEUE
    shapes = {
        ("QUEUE", "BATCH_SIZE"): (queue.get("BATCH_SIZE"), {"whole": True, "positive": True}),
        ("QUEUE", "STALE_AFTER"): (queue.get("STALE_AFTER"), {"positive": True}),
        ("QUEUE", "RETRIES"): (queue.get("RETRIES"), {"whole": True}),
        ("QUEUE", "RETRY_BACKOFF"): (queue.get("RETRY_BACKOFF"), {}),
        ("QUEUE", "RETRY_BACKOFF_MAX"): (queue.get("RETRY_BACKOFF_MAX"), {}),
        ("CONNECT_RETRIES",): (huyi_settings.CONNECT_RETRIES, {"whole": True}),
        ("UNKNOWN_MATCH_WINDOW",): (huyi_settings.UNKNOWN_MATCH_WINDOW, {"positive": True}),
    }
    for path, (value, rules) in shapes.items():
        if not _number(value, **rules):
            kind = "a whole number" if rules.get("whole") else "a number"
            least = "above 0" if rules.get("positive") else "0 or more"
            name = "".join(f"[{part!r}]" for part in path)
            messages.append(checks.Error(f"HUYI_SMS{name} must be {kind}, {least}, not {value!r}.", id="huyi_sms.E006"))
    stale, timeout = queue.get("STALE_AFTER"), huyi_settings.TIMEOUT
    if _number(stale, positive=True) and _number(timeout) and stale <= timeout:
        messages.append(
            checks.Error(
                f"HUYI_SMS['QUEUE']['STALE_AFTER'] ({stale} s) must be longer than TIMEOUT ({timeout} s): "
                "huyi_requeue would mark a message that is still being sent unknown.",
                hint="Leave it at its default (300), or a few times TIMEOUT.",
                id="huyi_sms.E007",
            )
        )
    runner = queue.get("RUNNER")
    if runner not in ("tasks", "celery"):
        messages.append(
            checks.Error(f"HUYI_SMS['QUEUE']['RUNNER'] must be \"tasks\" or \"celery\", not {runner!r}.", id="huyi_sms.E008")
        )
    elif runner == "celery" and tasks.shared_task is None:
        messages.append(
            checks.Error(
                "HUYI_SMS['QUEUE']['RUNNER'] is \"celery\" but Celery is not installed.",
                hint='pip install "django-huyi-sms[celery]", and start a worker: celery -A yourproject worker',
                id="huyi_sms.E009",
            )
        )
    elif runner == "tasks" and tasks.django_task is None:
        messages.append(
            checks.Warning(
                "Django's tasks framework is not available (Django 5.2 without the django-tasks backport): "
                "enqueue_sms() sends in this process right after the commit.",
                hint="pip install django-tasks, or use Celery (QUEUE['RUNNER'] = \"celery\").",
                id="huyi_sms.W004",
            )
        )
    elif runner == "tasks":
        from django.conf import settings

        alias = queue.get("TASK_BACKEND")
        if alias not in (getattr(settings, "TASKS", None) or {"default": {}}):
            messages.append(
                checks.Error(
                    f"HUYI_SMS['QUEUE']['TASK_BACKEND'] is {alias!r}, which the TASKS setting does not define.",
                    hint="Name one of the TASKS aliases (\"default\" unless you have several).",
                    id="huyi_sms.E010",
                )
            )
    return messages


def _check_push_settings(huyi_settings: Any) -> list[checks.CheckMessage]:
    """The settings push authentication reads; pushes/auth.py refuses every push while one is invalid."""
    from .pushes.auth import invalid_allowed_ips, proxy_count

    messages: list[checks.CheckMessage] = []
    if proxy_count(huyi_settings.CALLBACK_PROXY_COUNT) is None:
        messages.append(
            checks.Error(
                f"HUYI_SMS['CALLBACK_PROXY_COUNT'] must be a whole number, 0 or more, not "
                f"{huyi_settings.CALLBACK_PROXY_COUNT!r}: every push is refused until it is.",
                hint=(
                    "Set it to the number of reverse proxies of yours in front of the push URLs "
                    "(0 when none: the caller is REMOTE_ADDR). See docs/pushes.md."
                ),
                id="huyi_sms.E003",
            )
        )
    allowed = huyi_settings.CALLBACK_ALLOWED_IPS
    bad_entries = invalid_allowed_ips(allowed)
    if bad_entries is None:
        messages.append(
            checks.Error(
                f"HUYI_SMS['CALLBACK_ALLOWED_IPS'] must be a list of addresses or networks, not "
                f"{type(allowed).__name__} {allowed!r}: every push is refused until it is.",
                hint='Write a list even for one address: ["203.0.113.7"], or ["203.0.113.0/24"].',
                id="huyi_sms.E004",
            )
        )
    elif bad_entries:
        messages.append(
            checks.Error(
                f"HUYI_SMS['CALLBACK_ALLOWED_IPS'] has entries that are not an address or a network: "
                f"{', '.join(repr(entry) for entry in bad_entries)}. They allow nobody.",
                hint='Entries look like "203.0.113.7", "203.0.113.0/24" or "2001:db8::/32".',
                id="huyi_sms.E005",
            )
        )
    return messages


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
