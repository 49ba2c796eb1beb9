"""Settings for the test suite: SQLite and local memory by default; PostgreSQL / Redis when
DATABASE_URL / REDIS_URL are set (see .ci/run)."""

import json
import os
import tempfile

import dj_database_url

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "Asia/Shanghai"
LANGUAGE_CODE = "en"
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    # The database task backend, for the tests that run its worker (manage.py db_worker).
    "django_tasks_db",
    "django_huyi_sms",
]

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "django_huyi_sms.auth.SmsCodeBackend",
]
LOGIN_REDIRECT_URL = "/"

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "tests.urls"

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

DATABASES = {
    "default": dj_database_url.parse(os.environ["DATABASE_URL"])
    if os.environ.get("DATABASE_URL")
    else {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
}
# Several runs at once on one PostgreSQL server (two checkouts, CI and a helper) each need their own
# test database: HUYI_TEST_DB_NAME, or one named after this process.
if os.environ.get("DATABASE_URL"):
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("HUYI_TEST_DB_NAME") or f"test_huyi_{os.getpid()}"}
if not os.environ.get("DATABASE_URL"):
    # On SQLite the test database is a file, not memory: the live-server tests (the sandbox flows)
    # serve requests from other threads, and only a file gives each thread its own connection.
    # One file per run (the pid) in the temporary directory, so parallel runs do not share one.
    DATABASES["default"]["TEST"] = {
        "NAME": os.path.join(tempfile.gettempdir(), f"huyi-tests-{os.getpid()}.sqlite3"),
    }
    # Writers from several threads: take the write lock when a transaction begins (and wait for
    # it), rather than fail with "database is locked" when a reading transaction starts to write.
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}

if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": "huyi-tests",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

HUYI_SMS = {
    "ACCOUNT": "sandbox",
    "API_KEY": "sandbox-api-key",
    "BACKEND": "django_huyi_sms.backends.locmem.LocmemBackend",
    "CALLBACK_TOKEN": "test-callback-token",
    # Tests that look at the padding set it; the rest should not wait for it.
    "OTP": {"UNIFORM_RESPONSE_SECONDS": 0},
}

# A worker process a test starts (tests/workers.py) runs on the test's database with the test's
# HUYI_SMS and TASKS, which the test passes in the environment.
if os.environ.get("HUYI_WORKER_DB_NAME"):
    DATABASES["default"]["NAME"] = os.environ["HUYI_WORKER_DB_NAME"]
if os.environ.get("HUYI_WORKER_SETTINGS"):
    _worker = json.loads(os.environ["HUYI_WORKER_SETTINGS"])
    HUYI_SMS = _worker["HUYI_SMS"]
    if "TASKS" in _worker:
        TASKS = _worker["TASKS"]
