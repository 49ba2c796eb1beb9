"""A project's REST framework defaults (for its own API) never turn a provider push away."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from django_huyi_sms.models import StatusReceipt

from .push_helpers import post_form, receipt_fields

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("accept", ["text/plain", "application/xml", "application/json", "text/html;q=0.9"])
def test_any_accept_header_gets_success(client, accept):
    """The provider's Accept header is undocumented: a 406 would lose the receipt."""
    response = post_form(client, "receipt_push", receipt_fields("77"), HTTP_ACCEPT=accept)
    assert (response.status_code, response.content) == (200, b"success")
    assert response["Content-Type"].startswith("text/plain")
    assert StatusReceipt.objects.get().smsid == "77"


def test_a_format_query_parameter_is_ignored_too(client):
    response = client.post(
        "/sms/push/reply/?token=test-callback-token&format=xml",
        data="mobilephone=13800138000&content=hi&reply_time=2026-11-25+10%3A00%3A00",
        content_type="application/x-www-form-urlencoded",
    )
    assert (response.status_code, response.content) == (200, b"success")


# REST framework reads DEFAULT_THROTTLE_CLASSES (and the rates, and the versioning class) into
# class attributes when rest_framework.views is imported, so override_settings cannot stand in
# for a project that sets them: a fresh interpreter configured like such a project does.
_PROJECT_WITH_DRF_DEFAULTS = textwrap.dedent(
    """
    import json
    from django.conf import settings
    import tests.settings as base

    values = {name: getattr(base, name) for name in dir(base) if name.isupper()}
    values["DATABASES"] = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
    values["CACHES"] = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    values["REST_FRAMEWORK"] = {
        "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.AnonRateThrottle"],
        "DEFAULT_THROTTLE_RATES": {"anon": "2/min"},
        "DEFAULT_VERSIONING_CLASS": "rest_framework.versioning.QueryParameterVersioning",
        "ALLOWED_VERSIONS": ["v1"],
        "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    }
    settings.configure(**values)
    import django
    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django_huyi_sms.models import StatusReceipt
    from tests.push_helpers import push_url, post_form, receipt_fields

    call_command("migrate", verbosity=0)
    client = Client()
    codes = [post_form(client, "receipt_push", receipt_fields(str(n))).status_code for n in range(4)]
    reply = "mobilephone=13800138000&content=hi&reply_time=2026-11-25+10%3A00%3A00"
    codes.append(client.post(push_url("reply_push", version="v9"), data=reply,
                             content_type="application/x-www-form-urlencoded").status_code)
    print(json.dumps({"codes": codes, "stored": StatusReceipt.objects.count()}))
    """
)


def test_project_wide_throttling_and_versioning_do_not_apply_to_pushes():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    finished = subprocess.run(
        [sys.executable, "-c", _PROJECT_WITH_DRF_DEFAULTS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 0, finished.stderr
    result = json.loads(finished.stdout.strip().splitlines()[-1])
    # Four receipts in a row (more than the project's 2/min), and a reply with an unknown ?version=.
    assert result == {"codes": [200, 200, 200, 200, 200], "stored": 4}
