"""Settings of the example site.

With no environment variables it runs on SQLite, the local-memory cache and the
sandbox gateway built into django-huyi-sms, so it needs no ihuyi account and no
network. Each of these, when set, switches one thing to the real world:

- ``HUYI_SMS_ACCOUNT`` / ``HUYI_SMS_API_KEY`` / ``HUYI_SMS_API_URL``: a real ihuyi
  account (setting the account turns the sandbox off; the URL is used only with an account);
- ``HUYI_SMS_CALLBACK_TOKEN``: the secret the push URLs carry;
- ``DATABASE_URL`` (needs dj-database-url) and ``REDIS_URL``;
- ``DJANGO_SECRET_KEY``, ``DJANGO_DEBUG``, ``DJANGO_ALLOWED_HOSTS``;
- ``DEMO_SITE_URL``: where this site runs, if not http://127.0.0.1:8000, or ``DEMO_PORT``
  (``make demo PORT=8123`` sets it) for http://127.0.0.1:<port>.
"""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


# The example's own secret is fine on a laptop; set DJANGO_SECRET_KEY anywhere else.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or "django-insecure-example-project-only"
DEBUG = env_flag("DJANGO_DEBUG", True)
ALLOWED_HOSTS = [
    host.strip()
    for host in os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")
    if host.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    # Before django_huyi_sms, so that its templates/django_huyi_sms/base.html puts the app's
    # sign-in and reset pages in this site's layout.
    "example",
    "django_huyi_sms",
]

# Passwords as usual, and sign-in with a mobile number and an SMS code (sms/login/).
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "django_huyi_sms.auth.SmsCodeBackend",
]
# Django's validators, which the app's password reset (its page and its API) and createsuperuser
# ask. Without them any password passes, "123" included. (demo_setup's create_superuser asks
# none, and its default password passes them.)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "huyi_sms:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example.urls"
WSGI_APPLICATION = "example.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

if os.environ.get("DATABASE_URL"):
    try:
        import dj_database_url
    except ImportError:
        raise ImproperlyConfigured(
            "DATABASE_URL is set but dj-database-url is not installed: pip install dj-database-url"
        ) from None
    # Connections are kept for a minute; checked before reuse, so that a database restart does not
    # turn the next request on each kept connection into a 500.
    DATABASES = {
        "default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60, conn_health_checks=True)
    }
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # runserver answers requests from several threads, and the sandbox pushes receipts back
    # while a page (an admin login, say) writes. SQLite's default transactions take the write
    # lock only at their first write and then fail at once with "database is locked" (the
    # receipt push answers 503 and the sandbox, like ihuyi, retries only after 60 s). Taking
    # the lock when a transaction begins makes writers wait their turn instead.
    DATABASES["default"].setdefault("OPTIONS", {}).update(transaction_mode="IMMEDIATE", timeout=20)

if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": "huyi-example",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"

# --- django-huyi-sms ---------------------------------------------------------


def demo_site_url() -> str:
    """Where this site answers: DEMO_SITE_URL, else http://127.0.0.1:DEMO_PORT (8000 by default)."""
    if os.environ.get("DEMO_SITE_URL", "").strip():
        return os.environ["DEMO_SITE_URL"].strip().rstrip("/")
    port = os.environ.get("DEMO_PORT", "").strip() or "8000"
    if not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        raise ImproperlyConfigured(f"DEMO_PORT must be a port number, 1 to 65535, not {port!r}")
    return f"http://127.0.0.1:{int(port)}"


# Where this site answers: with no account, the sandbox the app serves there (sms/sandbox/),
# and where the sandbox pushes receipts back to.
DEMO_SITE_URL = demo_site_url()

# No ihuyi account given: send to the sandbox gateway served by this same site.
USE_SANDBOX = not os.environ.get("HUYI_SMS_ACCOUNT")

# Site-wide caps on one-time codes, against SMS pumping (docs/operations.md): a few times the
# busiest hour and day this site expects. Past them codes are refused and ADMINS are mailed once.
CODE_CAPS = {"SITE_HOURLY_LIMIT": 200, "SITE_DAILY_LIMIT": 1000}

if USE_SANDBOX:
    HUYI_SMS = {
        # The one line: the sandbox's endpoints, account, push URLs and a development push token
        # (unless HUYI_SMS_CALLBACK_TOKEN gives one) all follow from where this site answers.
        "SANDBOX_SITE": DEMO_SITE_URL,
        "CALLBACK_TOKEN": os.environ.get("HUYI_SMS_CALLBACK_TOKEN", ""),
        # The sign-in and reset pages offer "receive a voice call instead" 30 s after an SMS code:
        # the sandbox speaks the code on its phone page.
        "OTP": {**CODE_CAPS, "VOICE_FALLBACK_AFTER": 30},
    }
else:
    HUYI_SMS = {
        "ACCOUNT": os.environ["HUYI_SMS_ACCOUNT"],
        "API_KEY": os.environ.get("HUYI_SMS_API_KEY", ""),
        "CALLBACK_TOKEN": os.environ.get("HUYI_SMS_CALLBACK_TOKEN", ""),
        "OTP": CODE_CAPS,
    }
    if os.environ.get("HUYI_SMS_API_URL"):
        HUYI_SMS["API_URL"] = os.environ["HUYI_SMS_API_URL"]

# Show the app's log lines (numbers masked) in the runserver console.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_huyi_sms": {"handlers": ["console"], "level": "INFO"}},
}
