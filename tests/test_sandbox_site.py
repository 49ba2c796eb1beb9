"""``HUYI_SMS = {"SANDBOX_SITE": "http://127.0.0.1:8000"}``: the sandbox in one line.

With only that set, the app serves the sandbox at ``sandbox/`` under its own URLs, every product
sends there with the sandbox's account, and the sandbox pushes receipts back to the app's push
URLs with a development token: a send ends ``delivered``. Without it those URLs answer 404.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from django.core.checks import Tags, run_checks
from django.test import Client, override_settings
from django.urls import reverse

import django_huyi_sms
from django_huyi_sms.checks import check_settings
from django_huyi_sms.conf import SANDBOX_CALLBACK_TOKEN, SettingsError, huyi_settings
from django_huyi_sms.exceptions import HuyiConfigurationError
from django_huyi_sms.models import SmsLog
from django_huyi_sms.provider import PRODUCTS
from django_huyi_sms.sandbox import get_gateway

from .workers import wait_for

CODE_TEXT = "您的验证码是：482913。请不要把验证码泄露给其他人。"
SITE = "http://127.0.0.1:8000"




@pytest.fixture
def sandbox_site(django_db_setup: Any, live_server: Any) -> Iterator[str]:
    """The live server with ``SANDBOX_SITE`` pointing at it, and nothing else in ``HUYI_SMS``.

    ``django_db_setup`` first, so that the live server's threads open the test database (see
    test_sandbox_flow.py).
    """
    with override_settings(HUYI_SMS={"SANDBOX_SITE": live_server.url}):
        yield live_server.url
        get_gateway().wait_idle(5)


# --- end to end -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_with_only_sandbox_site_a_code_reaches_the_phone_page_and_is_delivered(sandbox_site: str) -> None:
    log = django_huyi_sms.send_sms("13800138000", CODE_TEXT)
    assert log.status == "submitted" and log.smsid.isdigit()

    page = requests.get(f"{sandbox_site}/sms/sandbox/phone/13800138000/", timeout=5)
    assert page.status_code == 200
    assert re.search(r'class="code"[^>]*>482913<', page.text)
    # The sandbox pushes the receipt to /sms/push/receipt/?token=<the development token>.
    assert wait_for(lambda: SmsLog.objects.get(pk=log.pk).status == "delivered")
    [push] = [record for record in get_gateway().pushes if record.kind == "receipt"]
    assert push.url == f"{sandbox_site}/sms/push/receipt/?token={SANDBOX_CALLBACK_TOKEN}"
    assert push.delivered and len(push.attempts) == 1
    # And the phone page says so.
    assert "DELIVRD" in requests.get(f"{sandbox_site}/sms/sandbox/phone/13800138000/", timeout=5).text


@pytest.mark.django_db(transaction=True)
def test_every_product_sends_to_the_sandbox_even_with_an_account_set(live_server: Any, django_db_setup: Any) -> None:
    settings = {"SANDBOX_SITE": live_server.url, "ACCOUNT": "C1234", "API_KEY": "real-key", "PRODUCTS": {"voice": {}}}
    with override_settings(HUYI_SMS=settings):
        for product in PRODUCTS:
            config = huyi_settings.product(product)
            assert (config.account, config.api_key) == ("sandbox", "sandbox-api-key")
            assert config.api_url == live_server.url + reverse(f"huyi_sms:sandbox:{product}")
            assert config.api_url.startswith(f"{live_server.url}/sms/sandbox/")
        log = django_huyi_sms.send_sms("13800138001", "1234", product="voice")
        assert log.status == "submitted"
        assert get_gateway().messages_for("13800138001")[0].call
        get_gateway().wait_idle(5)


@override_settings(HUYI_SMS={"SANDBOX_SITE": SITE, "CALLBACK_TOKEN": "my-token"})
def test_push_urls_carry_the_sites_own_token_and_explicit_ones_win() -> None:
    assert huyi_settings.CALLBACK_TOKEN == "my-token"
    gateway = get_gateway()
    assert gateway.receipt_url == f"{SITE}/sms/push/receipt/?token=my-token"
    assert gateway.reply_url == f"{SITE}/sms/push/reply/?token=my-token"
    assert gateway.template_url == f"{SITE}/sms/push/template/?token=my-token"
    explicit = {"SANDBOX_SITE": SITE, "SANDBOX": {"RECEIPT_URL": "", "REPLY_URL": "http://elsewhere.test/r"}}
    with override_settings(HUYI_SMS=explicit):
        gateway = get_gateway()
        assert (gateway.receipt_url, gateway.reply_url) == ("", "http://elsewhere.test/r")
        assert gateway.template_url == f"{SITE}/sms/push/template/?token={SANDBOX_CALLBACK_TOKEN}"


def test_without_sandbox_site_nothing_changes() -> None:
    with override_settings(HUYI_SMS={"ACCOUNT": "C1", "API_KEY": "k"}):
        assert huyi_settings.CALLBACK_TOKEN == ""
        assert huyi_settings.product("sms").api_url == "https://106.ihuyi.com/webservice/sms.php"
        assert get_gateway().receipt_url == ""


@override_settings(HUYI_SMS={"SANDBOX_SITE": SITE}, ROOT_URLCONF="tests.urls_without_app")
@pytest.mark.django_db
def test_a_site_that_does_not_include_the_apps_urls_gets_a_clear_error() -> None:
    with pytest.raises(SettingsError, match=r"django_huyi_sms\.urls"):
        huyi_settings.product("sms")
    with pytest.raises(HuyiConfigurationError, match=r"django_huyi_sms\.urls"):
        django_huyi_sms.send_sms("13800138000", CODE_TEXT)
    assert SmsLog.objects.get().status == "failed"


# --- the mount: on with the setting, 404 without, links right under either mount ----------------


SANDBOX_PATHS = ["", "phone/13800138000/", "phone/13800138000.json", "webservice/sms.php?method=GetNum"]


@pytest.mark.parametrize("path", SANDBOX_PATHS)
def test_the_apps_sandbox_answers_404_while_sandbox_site_is_empty(path: str) -> None:
    client = Client()
    with override_settings(HUYI_SMS={"ACCOUNT": "C1", "API_KEY": "k"}):
        assert client.get(f"/sms/sandbox/{path}").status_code == 404
        assert client.get(f"/sandbox/{path}").status_code == 200  # a site's own mount stays on
    with override_settings(HUYI_SMS={"SANDBOX_SITE": SITE}):
        assert client.get(f"/sms/sandbox/{path}").status_code == 200
    assert Client().post("/sms/sandbox/templates/review/", {}).status_code == 404


@pytest.mark.parametrize("mount", ["/sms/sandbox/", "/sandbox/"])
@override_settings(HUYI_SMS={"SANDBOX_SITE": SITE})
def test_pages_link_within_the_mount_they_were_reached_through(mount: str) -> None:
    gateway = get_gateway()
    gateway.handle("sms", "Submit", {"account": "sandbox", "password": "sandbox-api-key", "mobile": "13800138000",
                                     "content": CODE_TEXT})
    client = Client()
    index = client.get(mount).content.decode()
    assert f'href="{mount}phone/13800138000/"' in index and f'href="{mount}"' in index
    page = client.get(f"{mount}phone/13800138000/").content.decode()
    assert f'action="{mount}phone/13800138000/"' in page and f'href="{mount}phone/13800138000.json"' in page
    reply = client.post(f"{mount}phone/13800138000/", {"content": "TD"})
    assert reply.status_code == 302 and reply["Location"] == f"{mount}phone/13800138000/?replied=1"
    gateway.wait_idle(5)


@override_settings(HUYI_SMS={"SANDBOX_SITE": SITE})
def test_sandbox_pages_lead_back_to_the_site_and_its_sign_in_page() -> None:
    page = Client().get("/sms/sandbox/").content.decode()
    assert '<a href="/">' in page
    assert f'<a href="{reverse("huyi_sms:login")}">' in page


@override_settings(HUYI_SMS={"SANDBOX_SITE": SITE}, TIME_ZONE="UTC")
def test_sandbox_pages_show_times_in_the_sites_time_zone() -> None:
    gateway = get_gateway()
    gateway.handle("sms", "Submit", {"account": "sandbox", "password": "sandbox-api-key", "mobile": "13800138000",
                                     "content": CODE_TEXT})
    [message] = gateway.messages_for("13800138000")
    utc = datetime.fromtimestamp(message.received_at, UTC).strftime("%Y-%m-%d %H:%M:%S")
    for page in (Client().get("/sms/sandbox/"), Client().get("/sms/sandbox/phone/13800138000/")):
        text = page.content.decode()
        assert f"{utc} UTC" in text
        assert message.received_time not in text  # China time, 8 hours on
    # The JSON keeps the provider's China time, as ihuyi writes it.
    data = Client().get("/sms/sandbox/phone/13800138000.json").json()
    assert data["messages"][0]["received_time"] == message.received_time
    gateway.close()


# --- checks -------------------------------------------------------------------------------------


def ids(huyi_sms: dict[str, Any], **django_settings: Any) -> list[str]:
    with override_settings(HUYI_SMS=huyi_sms, **django_settings):
        return [message.id for message in check_settings()]


@pytest.mark.parametrize(
    "value",
    [
        "127.0.0.1:8000",
        "ftp://127.0.0.1",
        "http://",
        "http://127.0.0.1:8000/site/",
        "http://127.0.0.1:8000?x=1",
        "http://127.0.0.1:99999",
        "http://user:pw@127.0.0.1",
        8000,
    ],
)
def test_a_malformed_sandbox_site_is_an_error_and_stops_sending(value: Any) -> None:
    with override_settings(HUYI_SMS={"SANDBOX_SITE": value}, DEBUG=True):
        [error] = [message for message in check_settings() if message.id == "huyi_sms.E040"]
        assert "SANDBOX_SITE" in error.msg and "http://127.0.0.1:8000" in error.hint
        with pytest.raises(SettingsError):
            huyi_settings.product("sms")
        with pytest.raises(SettingsError):
            huyi_settings.CALLBACK_TOKEN  # noqa: B018


@pytest.mark.parametrize("value", ["http://127.0.0.1:8000", "http://127.0.0.1:8000/", "https://dev.example.test", ""])
def test_a_well_formed_sandbox_site_is_not_an_error(value: str) -> None:
    assert "huyi_sms.E040" not in ids({"SANDBOX_SITE": value}, DEBUG=True)
    with override_settings(HUYI_SMS={"SANDBOX_SITE": value}):
        assert value.rstrip("/") == huyi_settings.SANDBOX_SITE


def test_sandbox_site_silences_the_missing_account_and_token_warnings() -> None:
    assert {"huyi_sms.W001", "huyi_sms.W002"} <= set(ids({"BACKEND": "django_huyi_sms.backends.ihuyi.IhuyiBackend"}))
    assert ids({"SANDBOX_SITE": SITE}, DEBUG=True) == []


def test_sandbox_site_with_debug_off_is_a_warning_and_with_debug_on_nothing() -> None:
    assert ids({"SANDBOX_SITE": SITE}, DEBUG=True) == []
    assert ids({"SANDBOX_SITE": SITE}, DEBUG=False) == ["huyi_sms.W040"]


def test_check_deploy_refuses_sandbox_site_whatever_debug_says() -> None:
    for debug in (True, False):
        with override_settings(HUYI_SMS={"SANDBOX_SITE": SITE}, DEBUG=debug):
            deploy = [m for m in run_checks(tags=[Tags.security], include_deployment_checks=True) if m.id.startswith("huyi")]
            plain = [m.id for m in run_checks(tags=[Tags.security]) if m.id.startswith("huyi")]
        assert [m.id for m in deploy if m.level >= 40] == ["huyi_sms.E042"] and plain == []
        # The sandbox's endpoint and account are E042's to report, not W006 / W007 again.
        assert not {"huyi_sms.W006", "huyi_sms.W007"} & {m.id for m in deploy}


def test_an_account_that_sandbox_site_overrides_is_a_warning_naming_it() -> None:
    settings = {"SANDBOX_SITE": SITE, "ACCOUNT": "C1", "API_KEY": "secret-key", "PRODUCTS": {"voice": {"ACCOUNT": "V1"}}}
    with override_settings(HUYI_SMS=settings, DEBUG=True):
        [warning] = [message for message in check_settings() if message.id == "huyi_sms.W041"]
    assert "ACCOUNT, API_KEY, PRODUCTS['voice']['ACCOUNT'] are not used" in warning.msg
    assert "secret-key" not in warning.msg + warning.hint


def test_sandbox_site_with_a_backend_that_does_not_send_is_a_warning() -> None:
    settings = {"SANDBOX_SITE": SITE, "BACKEND": "django_huyi_sms.backends.locmem.LocmemBackend"}
    assert ids(settings, DEBUG=True) == ["huyi_sms.W042"]


def test_sandbox_site_without_the_apps_urls_is_a_check_error() -> None:
    assert ids({"SANDBOX_SITE": SITE}, DEBUG=True, ROOT_URLCONF="tests.urls_without_app") == ["huyi_sms.E041"]


# --- manage.py huyi_sandbox serves the same pages ---------------------------------------------


@pytest.fixture
def standalone_sandbox() -> Iterator[str]:
    """``manage.py huyi_sandbox --port 0`` in a process of its own; its base URL, read off its banner."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(root)}
    env.pop("HUYI_WORKER_SETTINGS", None)
    command = [sys.executable, "-m", "django", "huyi_sandbox", "--port", "0", "--receipt-delay", "0"]
    process = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        banner = []
        for line in process.stdout:
            banner.append(line)
            if line.startswith("Quit with"):
                break
        text = "".join(banner)
        found = re.search(r"listening on (http://127\.0\.0\.1:\d+)/", text)
        assert found, text + (process.stderr.read() if process.stderr and process.poll() is not None else "")
        base = found.group(1)
        assert f"Phone pages (what each number received, and its latest code): {base}/" in text
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_standalone_server_serves_the_phone_pages(standalone_sandbox: str) -> None:
    from django_huyi_sms.client import IhuyiClient

    base = standalone_sandbox
    client = IhuyiClient("sandbox", "sandbox-api-key", f"{base}/webservice/sms.php")
    client.submit("13800138000", CODE_TEXT)

    index = requests.get(f"{base}/", timeout=5)
    assert index.status_code == 200 and index.headers["Content-Type"].startswith("text/html")
    assert 'href="/phone/13800138000/"' in index.text
    # The same template as inside a site: its header, and the default template's line.
    assert "Nothing here reached a real phone." in index.text and "every account's default verification template" in index.text

    page = requests.get(f"{base}/phone/13800138000/", timeout=5)
    assert page.status_code == 200
    assert re.search(r'class="code"[^>]*>482913<', page.text)
    assert 'action="/phone/13800138000/"' in page.text and 'href="/phone/13800138000.json"' in page.text
    assert requests.get(f"{base}/phone/13800138000.json", timeout=5).json()["latest_code"] == "482913"
    assert requests.get(f"{base}/phone/not-a-number/", timeout=5).status_code == 404
    assert requests.get(f"{base}/nothing-here", timeout=5).status_code == 404


def test_the_standalone_servers_forms_reply_review_and_refuse_other_origins(standalone_sandbox: str) -> None:
    from django_huyi_sms.client import IhuyiClient

    base = standalone_sandbox
    client = IhuyiClient("sandbox", "sandbox-api-key", f"{base}/webservice/sms.php")
    client.submit("13800138000", CODE_TEXT)
    templateid = client.add_template("您的订单【变量】已发货。").templateid

    own = {"Origin": base}
    reply = requests.post(f"{base}/phone/13800138000/", data={"content": "TD"}, headers=own, allow_redirects=False)
    assert reply.status_code == 303 and reply.headers["Location"] == "/phone/13800138000/?replied=1"
    assert requests.get(f"{base}/phone/13800138000.json", timeout=5).json()["replies"][0]["content"] == "TD"
    empty = requests.post(f"{base}/phone/13800138000/", data={"content": " "}, headers=own, timeout=5)
    assert empty.status_code == 400 and 'name="content"' in empty.text

    review = {"templateid": str(templateid), "decision": "approve", "msg": ""}
    done = requests.post(f"{base}/templates/review/", data=review, headers=own, allow_redirects=False, timeout=5)
    assert done.status_code == 303 and done.headers["Location"] == f"/?reviewed={templateid}"
    assert "Approved" in requests.get(f"{base}/?reviewed={templateid}", timeout=5).text
    unknown = requests.post(f"{base}/templates/review/", data={**review, "templateid": "999"}, headers=own, timeout=5)
    assert unknown.status_code == 400 and "The sandbox has no template 999." in unknown.text

    elsewhere = {"Origin": "http://evil.example.test"}
    refused = requests.post(f"{base}/phone/13800138000/", data={"content": "T"}, headers=elsewhere, timeout=5)
    assert refused.status_code == 403
    assert len(requests.get(f"{base}/phone/13800138000.json", timeout=5).json()["replies"]) == 1
    assert requests.delete(f"{base}/phone/13800138000/", timeout=5).status_code == 405


def test_the_standalone_pages_lead_back_to_the_site_they_push_to() -> None:
    from django_huyi_sms.management.commands.huyi_sandbox import _site_origin
    from django_huyi_sms.sandbox.gateway import SandboxGateway

    with SandboxGateway(receipt_url="http://user:pw@127.0.0.1:8000/sms/push/receipt/?token=t") as gateway:
        assert _site_origin(gateway) == "http://127.0.0.1:8000"
        with override_settings(HUYI_SMS={"SANDBOX_SITE": "http://localhost:9000"}):
            assert _site_origin(gateway) == "http://localhost:9000"
    with SandboxGateway() as gateway:
        assert _site_origin(gateway) == ""  # pushes nowhere: no site to lead back to
