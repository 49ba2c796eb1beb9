"""System checks: a misconfiguration is reported by ``manage.py check`` with a hint, not at the first send.

``conf.py`` checks the values themselves (types, ranges, unknown keys) when it
converts them; this module reports what it found, and checks what depends on the
rest of the project: credentials, the push token, the task runner, the
authentication backends. ``check --deploy`` adds what a production site must not
keep from development: the sandbox's endpoint or account, plain http to ihuyi.
Nothing here raises, whatever the settings hold.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from .provider import PRODUCTS, is_provider_host
from .sandbox.config import SandboxConfig, SandboxConfigError

if TYPE_CHECKING:  # pragma: no cover
    from .conf import ProductConfig


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
    messages.extend(_check_voice_codes(huyi_settings))
    messages.extend(_check_unsubscribe_text(huyi_settings))
    messages.extend(_check_sandbox_site(huyi_settings))
    messages.extend(_check_database())
    return messages


#: The databases whose SQL the receipts and codes are written in (``INSERT … ON CONFLICT``,
#: ``UPDATE … RETURNING``: ``statements.py``, ``receipts.py``, ``otp.py``).
SUPPORTED_DATABASES = ("postgresql", "sqlite")


def _check_database() -> list[checks.CheckMessage]:
    """The database the app's rows are written to must be one it speaks (read from ENGINE; no connection)."""
    from django.db import connections, router

    from .models import StatusReceipt

    try:
        alias = router.db_for_write(StatusReceipt)
        vendor = connections[alias].vendor
    except Exception:  # a broken DATABASES setting is Django's own check to report
        return []
    if vendor in SUPPORTED_DATABASES:
        return []
    return [
        checks.Error(
            f"django-huyi-sms writes its rows to the {vendor!r} database {alias!r}: it supports PostgreSQL and SQLite",
            hint="Delivery receipts and one-time codes are written with INSERT … ON CONFLICT and UPDATE … RETURNING, "
            "which this database does not speak: receipts would be answered 503. Route the app's models "
            "(app label huyi_sms) to a PostgreSQL or SQLite database with a database router.",
            id="huyi_sms.E060",
        )
    ]


def _readable(read: Callable[[], Any]) -> tuple[bool, Any]:
    """``(True, value)``, or ``(False, None)`` when the setting has an error (already reported)."""
    try:
        return True, read()
    except ImproperlyConfigured:
        return False, None


def _sends_to_ihuyi(huyi_settings: Any) -> bool:
    """Whether ``BACKEND`` is the ihuyi backend (or a subclass), the one that uses the credentials and URLs."""
    from .backends.ihuyi import IhuyiBackend

    ok, backend = _readable(lambda: huyi_settings.BACKEND)
    return ok and isinstance(backend, type) and issubclass(backend, IhuyiBackend)


def _check_credentials(huyi_settings: Any) -> list[checks.CheckMessage]:
    if not _sends_to_ihuyi(huyi_settings):
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


def _check_sandbox_site(huyi_settings: Any) -> list[checks.CheckMessage]:
    """``SANDBOX_SITE``: served where the app's URLs are, on a development site, with nothing it overrides.

    Its value is conf.py's (E040); E042 (``check --deploy``) refuses it on a production site.
    """
    from django.conf import settings
    from django.urls import NoReverseMatch, reverse

    from .conf import DEFAULTS, sandbox_not_mounted

    ok, site = _readable(lambda: huyi_settings.SANDBOX_SITE)
    if not ok or not site:
        return []
    messages: list[checks.CheckMessage] = []
    try:
        reverse("huyi_sms:sandbox:index")
    except NoReverseMatch:
        problem = sandbox_not_mounted()
        messages.append(checks.Error(problem.message, hint=problem.hint, id=problem.id))
    if not settings.DEBUG:
        messages.append(
            checks.Warning(
                f"HUYI_SMS['SANDBOX_SITE'] is set ({site}) while DEBUG is off: this site sends every message "
                "to its own sandbox, with a made-up account and a public push token, and serves the sandbox's "
                "pages to anyone who can reach it.",
                hint=(
                    "SANDBOX_SITE is for a development site: set DEBUG = True there, and set SANDBOX_SITE to "" "
                    "(or remove it) anywhere else. check --deploy refuses it (huyi_sms.E042)."
                ),
                id="huyi_sms.W040",
            )
        )
    unused = [name for name in ("ACCOUNT", "API_KEY") if _readable(partial(getattr, huyi_settings, name))[1]]
    ok, api_url = _readable(lambda: huyi_settings.API_URL)
    if ok and api_url and api_url != DEFAULTS["API_URL"]:
        unused.append("API_URL")
    ok, products = _readable(lambda: huyi_settings.PRODUCTS)
    for product, overrides in (products or {}).items() if ok else ():
        unused.extend(
            f"PRODUCTS[{product!r}][{key!r}]" for key in ("ACCOUNT", "API_KEY", "API_URL") if overrides.get(key)
        )
    if unused:
        messages.append(
            checks.Warning(
                f"HUYI_SMS['SANDBOX_SITE'] is set, so every product sends to the sandbox with the sandbox's account: "
                f"{', '.join(unused)} {'is' if len(unused) == 1 else 'are'} not used.",
                hint="To send through ihuyi with that account, set SANDBOX_SITE to \"\". Otherwise remove them.",
                id="huyi_sms.W041",
            )
        )
    if not _sends_to_ihuyi(huyi_settings):
        ok, backend = _readable(lambda: huyi_settings.BACKEND)
        name = getattr(backend, "__qualname__", backend) if ok else "another backend"
        messages.append(
            checks.Warning(
                f"HUYI_SMS['SANDBOX_SITE'] is set, but BACKEND is {name}, which does not send over HTTP: "
                "messages do not reach the sandbox, and its phone pages stay empty.",
                hint=(
                    'Remove BACKEND: the default, "django_huyi_sms.backends.ihuyi.IhuyiBackend", sends to the sandbox.'
                ),
                id="huyi_sms.W042",
            )
        )
    return messages


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


def _check_unsubscribe_text(huyi_settings: Any) -> list[checks.CheckMessage]:
    """Marketing without a way to opt out: send_bulk() would append none (its values are conf.py's: E025)."""
    ok, marketing = _readable(lambda: huyi_settings.MARKETING)
    if not ok or marketing["UNSUBSCRIBE_TEXT"]:
        return []
    return [
        checks.Warning(
            "HUYI_SMS['MARKETING']['UNSUBSCRIBE_TEXT'] is empty: send_bulk() sends marketing messages with "
            "no way to opt out unless their text carries one.",
            hint=(
                'Commercial SMS in China must say how to opt out ("回T退订"), and ihuyi\'s marketing templates '
                "do. If every message you send writes its own, silence this: "
                'SILENCED_SYSTEM_CHECKS = ["huyi_sms.W025"].'
            ),
            id="huyi_sms.W025",
        )
    ]


def _check_authentication_backends() -> list[checks.CheckMessage]:
    """Without SmsCodeBackend, a sign-in with a code authenticates once and is forgotten on the next request.

    Only for a site that signs people in with codes, which it says in its settings: a
    send-only site includes the app's URLs for the pushes, and with them a sign-in page
    it never links to, and should not hear of a backend it has no use for.
    """
    from django.contrib.auth import get_backends

    from .auth import SmsCodeBackend

    try:
        backends = get_backends()
    except (ImportError, ImproperlyConfigured):
        return []  # Django's own checks and the first request report a broken AUTHENTICATION_BACKENDS
    if any(isinstance(backend, SmsCodeBackend) for backend in backends):
        return []
    reasons = _signs_in_with_codes()
    if not reasons:
        return []
    return [
        checks.Warning(
            "django_huyi_sms.auth.SmsCodeBackend is not in AUTHENTICATION_BACKENDS: sign-in with an SMS "
            f"code (sms/login/, api/otp/verify/) will not keep the user signed in, and {' and '.join(reasons)}.",
            hint=(
                'Add "django_huyi_sms.auth.SmsCodeBackend" to AUTHENTICATION_BACKENDS (after '
                '"django.contrib.auth.backends.ModelBackend"). If the site does not sign people in with '
                'a code, silence this with SILENCED_SYSTEM_CHECKS = ["huyi_sms.W003"].'
            ),
            id="huyi_sms.W003",
        )
    ]


def _signs_in_with_codes() -> list[str]:
    """What in the settings says the site signs people in with codes (each as a clause of W003), if anything.

    ``LOGIN_URL`` leading to the app's sign-in page (by name or by path, or to a
    subclass of it), and ``OTP["CREATE_USER_ON_LOGIN"]``, which only code sign-in reads.
    """
    from django.conf import settings

    from .conf import huyi_settings

    reasons: list[str] = []
    if _is_code_login_page(settings.LOGIN_URL):
        reasons.append("LOGIN_URL leads to the code sign-in page")
    ok, otp = _readable(lambda: huyi_settings.OTP)
    if ok and otp.get("CREATE_USER_ON_LOGIN"):
        reasons.append("OTP['CREATE_USER_ON_LOGIN'] is on")
    return reasons


def _is_code_login_page(login_url: Any) -> bool:
    """Whether ``login_url`` (a URL name, a path, or a full URL on this site) is served by ``CodeLoginView``."""
    from django.shortcuts import resolve_url
    from django.urls import resolve

    from .views import CodeLoginView

    if not login_url:
        return False
    try:
        parts = urlsplit(str(resolve_url(login_url)))
        if parts.netloc:
            return False  # another site's page
        view = getattr(resolve(parts.path).func, "view_class", None)
    except Exception:  # an unresolvable LOGIN_URL or a broken URLconf: Django reports those
        return False
    return isinstance(view, type) and issubclass(view, CodeLoginView)


def _check_voice_codes(huyi_settings: Any) -> list[checks.CheckMessage]:
    """With ``OTP["VOICE_FALLBACK_AFTER"]`` set, the pages offer voice calls: they must be able to make them."""
    from .validation import SPOKEN_CODE_LENGTH

    ok, otp = _readable(lambda: huyi_settings.OTP)
    if not ok or otp["VOICE_FALLBACK_AFTER"] is None:
        return []
    messages: list[checks.CheckMessage] = []
    longest = SPOKEN_CODE_LENGTH[1]
    if otp["LENGTH"] > longest:
        messages.append(
            checks.Warning(
                f"HUYI_SMS['OTP']['LENGTH'] is {otp['LENGTH']}, but the voice product speaks codes of at most "
                f"{longest} digits: every voice call the pages offer (OTP['VOICE_FALLBACK_AFTER']) is refused (40722).",
                hint=f"Make codes {longest} digits or fewer, or set OTP['VOICE_FALLBACK_AFTER'] to None.",
                id="huyi_sms.W031",
            )
        )
    listed_ok, listed = _readable(lambda: huyi_settings.PRODUCTS)
    # With SANDBOX_SITE every product sends on the sandbox's account, which serves voice too.
    if _sends_to_ihuyi(huyi_settings) and listed_ok and "voice" not in listed and not _sandbox_site(huyi_settings):
        messages.append(
            checks.Warning(
                "HUYI_SMS['OTP']['VOICE_FALLBACK_AFTER'] offers voice calls, but PRODUCTS has no \"voice\" entry: "
                "the calls go to ihuyi's voice endpoint on the SMS product's APIID and APIKEY, and ihuyi gives "
                "each product a pair of its own: they would be refused.",
                hint=(
                    'Add the voice product\'s own pair: PRODUCTS = {"voice": {"ACCOUNT": …, "API_KEY": …}} '
                    "(docs/products.md), or set OTP['VOICE_FALLBACK_AFTER'] to None."
                ),
                id="huyi_sms.W030",
            )
        )
    return messages


@checks.register(checks.Tags.security, deploy=True)
def check_deployment(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``check --deploy``: with ``DEBUG`` off, messages go to ihuyi, over https, from the site's own account.

    With ``DEBUG`` on the site is a developer's, and the sandbox is what it should send to.
    """
    from django.conf import settings

    from .conf import huyi_settings

    if settings.DEBUG or not _sends_to_ihuyi(huyi_settings):
        return []
    configs = [] if _sandbox_site(huyi_settings) else _used_products(huyi_settings)  # E042 says it all
    return [
        *_check_endpoints(configs),
        *_check_sandbox_account(huyi_settings, configs),
        *_check_operations(huyi_settings, settings),
    ]


@checks.register(checks.Tags.security, deploy=True)
def check_sandbox_site_deployment(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``check --deploy``: ``SANDBOX_SITE`` never reaches production, whatever ``DEBUG`` says."""
    from .conf import huyi_settings

    site = _sandbox_site(huyi_settings)
    if not site:
        return []
    return [
        checks.Error(
            f"HUYI_SMS['SANDBOX_SITE'] is set ({site}): the site sends every message to its own sandbox, which "
            "reaches no phone, accepts pushes with a public development token unless CALLBACK_TOKEN is set, and "
            "serves every number's messages and codes at sandbox/ to anyone.",
            hint=(
                "Remove SANDBOX_SITE from the production settings (or set it to \"\"), and set ACCOUNT and "
                "API_KEY to the pair from the ihuyi console. Keep it in the development settings only."
            ),
            id="huyi_sms.E042",
        )
    ]


def _sandbox_site(huyi_settings: Any) -> str:
    """``SANDBOX_SITE``, or ``""`` when it is empty or has an error (reported by check_settings)."""
    ok, site = _readable(lambda: huyi_settings.SANDBOX_SITE)
    return site if ok and site else ""


def _used_products(huyi_settings: Any) -> list[ProductConfig]:
    """The products the site uses (``sms``, and those ``PRODUCTS`` lists), less those with a settings error."""
    ok, listed = _readable(lambda: huyi_settings.PRODUCTS)
    configs = []
    for product in PRODUCTS:
        if product != "sms" and not (ok and product in listed):
            continue
        try:
            configs.append(huyi_settings.product(product))
        except ImproperlyConfigured:
            pass  # reported by check_settings
    return configs


def _check_endpoints(configs: list[ProductConfig]) -> list[checks.CheckMessage]:
    plain: list[str] = []
    elsewhere: list[str] = []
    hosts: list[str] = []
    for config in configs:
        parts = urlsplit(config.api_url)
        if parts.scheme not in ("http", "https"):
            continue  # not an address at all: huyi_sms.E013
        if not is_provider_host(parts.hostname or ""):
            elsewhere.append(config.product)
            host = parts.netloc.rpartition("@")[2]  # never a user:password written in the URL
            if host not in hosts:
                hosts.append(host)
        elif parts.scheme != "https":
            plain.append(config.product)
    messages: list[checks.CheckMessage] = []
    if plain:
        messages.append(
            checks.Warning(
                f"The API_URL of {', '.join(plain)} sends to ihuyi over http://: the texts, the numbers and "
                'the signature cross the network unencrypted (with SIGN_MODE "plain", the APIKEY itself).',
                hint=(
                    "Write https:// in HUYI_SMS['API_URL'] and PRODUCTS' API_URL, or remove them: each "
                    "product's default endpoint is ihuyi's https:// one."
                ),
                id="huyi_sms.W005",
            )
        )
    if elsewhere:
        messages.append(
            checks.Warning(
                f"The API_URL of {', '.join(elsewhere)} points at {', '.join(hosts)}, not at ihuyi: "
                "messages sent there reach no phone (the sandbox, for one, only keeps them).",
                hint=(
                    "On a production site, remove HUYI_SMS['API_URL'] and PRODUCTS' API_URL to send "
                    "through ihuyi's own https:// endpoints. If that host relays to ihuyi, silence this "
                    'check: SILENCED_SYSTEM_CHECKS = ["huyi_sms.W006"].'
                ),
                id="huyi_sms.W006",
            )
        )
    return messages


def _check_sandbox_account(huyi_settings: Any, configs: list[ProductConfig]) -> list[checks.CheckMessage]:
    """Products that use a pair the sandbox accepts: its built-in one, or one ``SANDBOX["ACCOUNTS"]`` lists."""
    sandbox_accounts = dict(SandboxConfig().accounts)
    try:
        sandbox_accounts.update(SandboxConfig.from_setting(huyi_settings.SANDBOX).accounts)
    except (ImproperlyConfigured, SandboxConfigError):
        pass  # reported by check_settings (huyi_sms.E001, E016)
    products: list[str] = []
    accounts: list[str] = []
    for config in configs:
        if config.account in sandbox_accounts and sandbox_accounts[config.account] == config.api_key:
            products.append(config.product)
            if config.account not in accounts:
                accounts.append(config.account)
    if not products:
        return []
    return [
        checks.Warning(
            f"The ACCOUNT and API_KEY of {', '.join(products)} are the sandbox's "
            f"(APIID {', '.join(map(repr, accounts))}): ihuyi refuses them (405), so nothing is sent.",
            hint=(
                "Set HUYI_SMS['ACCOUNT'] and HUYI_SMS['API_KEY'] (and those in PRODUCTS) to the APIID and "
                "APIKEY from the ihuyi console, read from the environment rather than written in the settings."
            ),
            id="huyi_sms.W007",
        )
    ]


def _check_operations(huyi_settings: Any, settings: Any) -> list[checks.CheckMessage]:
    """What a live site needs to hear of trouble: a site-wide cap on codes, and someone to mail."""
    messages: list[checks.CheckMessage] = []
    ok, otp = _readable(lambda: huyi_settings.OTP)
    if ok and otp["SITE_HOURLY_LIMIT"] is None and otp["SITE_DAILY_LIMIT"] is None:
        messages.append(
            checks.Warning(
                "HUYI_SMS['OTP'] sets no site-wide cap on codes (SITE_HOURLY_LIMIT, SITE_DAILY_LIMIT): a bot "
                "that asks for codes for many numbers from many addresses (SMS pumping) runs up the bill "
                "until the balance is gone.",
                hint=(
                    "Set them a few times above your busiest hour and day, e.g. "
                    '"SITE_HOURLY_LIMIT": 500, "SITE_DAILY_LIMIT": 3000. See docs/operations.md.'
                ),
                id="huyi_sms.W035",
            )
        )
    if not getattr(settings, "ADMINS", None):
        messages.append(
            checks.Warning(
                "ADMINS is empty: nobody is mailed when the SMS balance runs low or the site-wide code cap "
                "starts refusing requests (the balance_low signal and the log lines remain).",
                hint="Set ADMINS (and EMAIL_BACKEND / EMAIL_HOST) so that mail_admins() reaches someone.",
                id="huyi_sms.W036",
            )
        )
    return messages
