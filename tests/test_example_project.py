"""The example project's own settings and page, without a browser: what it must get right as a site.

Its settings module is read afresh with the environment a test gives; its home page and the
app's flows are served by the test client with the example installed and its URLconf.
"""

from __future__ import annotations

import importlib.util
import io
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.management import call_command
from django.urls import reverse

from django_huyi_sms import send_sms

from .flow_helpers import last_code

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "example_project"
SEND_MOBILE = "13900139000"


def _the_runs_own(name: str) -> bool:
    """Whether the variable ``name`` is one the example reads: the site must see only those a test gives."""
    return name.startswith(("HUYI_SMS_", "DJANGO_", "DEMO_")) or name in ("DATABASE_URL", "REDIS_URL")


def example_settings(monkeypatch: pytest.MonkeyPatch, **environment: str) -> ModuleType:
    """``example/settings.py`` as it reads with ``environment`` (and none of the run's own variables)."""
    for name in list(os.environ):
        if _the_runs_own(name):
            monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location("example_settings_under_test", EXAMPLE / "example" / "settings.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def example_site(monkeypatch: pytest.MonkeyPatch, settings: Any) -> Iterator[Any]:
    """The example app installed and its URLconf in use, in live mode; set ``USE_SANDBOX`` before the first request."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    # Import example/urls.py afresh, as the site would.
    monkeypatch.delitem(sys.modules, "example.urls", raising=False)
    settings.INSTALLED_APPS = ["example", *settings.INSTALLED_APPS]
    settings.USE_SANDBOX = False
    settings.DEMO_SITE_URL = "http://testserver"
    settings.ROOT_URLCONF = "example.urls"
    settings.AUTH_PASSWORD_VALIDATORS = example_settings(monkeypatch).AUTH_PASSWORD_VALIDATORS
    yield settings


# -- the settings --------------------------------------------------------------------------------


def test_a_database_from_the_environment_checks_its_kept_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    # Connections are kept for a minute; after a database restart the first request on a kept
    # connection failed with a 500 unless Django checks it first.
    database = example_settings(monkeypatch, DATABASE_URL="postgres://postgres@127.0.0.1:5432/example").DATABASES
    assert database["default"]["CONN_MAX_AGE"] == 60
    assert database["default"]["CONN_HEALTH_CHECKS"] is True


def test_passwords_are_checked_by_djangos_validators(monkeypatch: pytest.MonkeyPatch) -> None:
    validators = example_settings(monkeypatch).AUTH_PASSWORD_VALIDATORS
    names = {validator["NAME"].rsplit(".", 1)[-1] for validator in validators}
    assert names == {
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    }


def test_with_no_account_the_example_runs_on_the_one_line_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = example_settings(monkeypatch, DEMO_SITE_URL="http://127.0.0.1:8123/")
    assert settings.HUYI_SMS["SANDBOX_SITE"] == "http://127.0.0.1:8123"
    # No hand-assembled sandbox: no account, endpoints or push URLs of its own.
    assert not {"ACCOUNT", "API_KEY", "API_URL", "PRODUCTS", "SANDBOX"} & set(settings.HUYI_SMS)
    live = example_settings(monkeypatch, HUYI_SMS_ACCOUNT="C12345678", HUYI_SMS_API_KEY="k")
    assert "SANDBOX_SITE" not in live.HUYI_SMS and live.HUYI_SMS["ACCOUNT"] == "C12345678"


# -- the pages -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_home_page_links_to_the_sandbox_the_app_serves(example_site: Any, client: Any) -> None:
    example_site.USE_SANDBOX = True
    # As the example sets it: SANDBOX_SITE, and the default backend that sends over HTTP.
    example_site.HUYI_SMS = {"SANDBOX_SITE": "http://testserver"}
    page = client.get("/").content.decode()
    assert 'href="/sms/sandbox/"' in page
    assert client.get("/sms/sandbox/").status_code == 200
    assert client.get("/sandbox/").status_code == 404  # the example no longer mounts it itself


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("use_sandbox", "staff", "shown"),
    [(False, False, False), (False, True, True), (True, False, True)],
    ids=["live-anonymous", "live-staff", "sandbox-anonymous"],
)
def test_the_latest_sends_are_shown_only_to_staff_or_in_the_sandbox(
    example_site: Any, client: Any, use_sandbox: bool, staff: bool, shown: bool
) -> None:
    example_site.USE_SANDBOX = use_sandbox
    log = send_sms(SEND_MOBILE, "您的验证码是：1234。请不要把验证码泄露给其他人。")
    assert log.smsid
    if staff:
        client.force_login(get_user_model().objects.create_user("staff", password="x", is_staff=True))

    page = client.get("/").content.decode()

    assert (log.smsid in page) is shown
    assert ("139****9000" in page) is shown
    assert ("The latest messages are shown to staff only." in page) is not shown


@pytest.mark.django_db
def test_the_demo_superuser_cannot_reset_its_password_to_123(example_site: Any, client: Any) -> None:
    # demo_setup creates the superuser directly (validators apply to forms, not create_superuser),
    # with a password the validators accept, and gives it the number the reset flow sends to.
    from example.management.commands.demo_setup import DEFAULT_PASSWORD, DEMO_MOBILE

    call_command("demo_setup", stdout=io.StringIO())
    admin = get_user_model().objects.get(username="admin")
    validate_password(DEFAULT_PASSWORD, admin)

    confirm = reverse("huyi_sms:password_reset_confirm")
    client.post(reverse("huyi_sms:password_reset"), {"mobile": DEMO_MOBILE})
    code = last_code(DEMO_MOBILE)
    response = client.post(confirm, {"code": code, "new_password1": "123", "new_password2": "123"})

    assert response.status_code == 200
    assert "This password is too short" in response.content.decode()
    admin.refresh_from_db()
    assert not admin.check_password("123")
    # The code was not used up by the refused password: a good one still goes through.
    done = client.post(confirm, {"code": code, "new_password1": "a-Longer-pass-9", "new_password2": "a-Longer-pass-9"})
    assert done.status_code == 302
    admin.refresh_from_db()
    assert admin.check_password("a-Longer-pass-9")


# -- manage.py check -----------------------------------------------------------------------------


def manage(tmp_path: Path, *arguments: str, fails: bool = False, **environment: str) -> str:
    """``manage.py ARGUMENTS`` in the example project with ``environment``; what it printed.

    ``fails``: the command must exit non-zero (a check error), not 0."""
    env = {name: value for name, value in os.environ.items() if not _the_runs_own(name)}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")])),
        **environment,
    )
    done = subprocess.run(
        [sys.executable, "manage.py", *arguments], cwd=EXAMPLE, env=env, capture_output=True, text=True, timeout=120
    )
    assert (done.returncode != 0) is fails, done.stderr
    return done.stdout + done.stderr


LIVE_OVER_HTTP = {
    "HUYI_SMS_ACCOUNT": "C12345678",
    "HUYI_SMS_API_KEY": "a-real-looking-key",
    "HUYI_SMS_API_URL": "http://106.ihuyi.com/webservice/sms.php",
    "HUYI_SMS_CALLBACK_TOKEN": "a-long-random-token",
}


@pytest.mark.parametrize(
    ("arguments", "environment", "warned"),
    [
        (["check"], {}, []),
        # DEBUG is on: a developer's machine, where the sandbox belongs; but --deploy asks whether these
        # settings may go to production, and SANDBOX_SITE may not (E042), whatever DEBUG says.
        (["check", "--deploy"], {}, ["huyi_sms.E042"]),
        # The sandbox must never reach production: SANDBOX_SITE with DEBUG off is a warning (W040), and
        # an error under --deploy (E042). W036: the example sets no ADMINS, so nobody would hear of a low balance.
        (["check", "--deploy"], {"DJANGO_DEBUG": "0"}, ["huyi_sms.E042", "huyi_sms.W036", "huyi_sms.W040"]),
        (["check", "--deploy"], {"DJANGO_DEBUG": "0", **LIVE_OVER_HTTP}, ["huyi_sms.W005", "huyi_sms.W036"]),
    ],
    ids=["check", "deploy-debug", "deploy-sandbox", "deploy-live-http"],
)
def test_check_deploy_warns_of_the_sandbox_and_plain_http_only_when_debug_is_off(
    tmp_path: Path, arguments: list[str], environment: dict[str, str], warned: list[str]
) -> None:
    output = manage(tmp_path, *arguments, fails=any(id_.startswith("huyi_sms.E") for id_ in warned), **environment)
    assert sorted(set(re.findall(r"huyi_sms\.[EW]\d{3}", output))) == warned, output
    if arguments == ["check"]:
        assert "System check identified no issues" in output
