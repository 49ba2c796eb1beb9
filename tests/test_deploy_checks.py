"""``manage.py check --deploy`` warns when a production site would not send to ihuyi as it should.

With ``DEBUG`` off and the ihuyi backend in use: an ``API_URL`` on ihuyi's hosts over
``http://`` (W005), an ``API_URL`` elsewhere, such as the sandbox (W006), and the sandbox's
account (W007). Plain ``manage.py check`` and a site with ``DEBUG`` on say nothing of these.
"""

from __future__ import annotations

from typing import Any

from django.core.checks import Tags, run_checks
from django.test import override_settings

IHUYI = "django_huyi_sms.backends.ihuyi.IhuyiBackend"
REAL = {"ACCOUNT": "C12345678", "API_KEY": "a-real-looking-key", "BACKEND": IHUYI, "CALLBACK_TOKEN": "t"}
SANDBOX_SITE = {
    "ACCOUNT": "sandbox",
    "API_KEY": "sandbox-api-key",
    "API_URL": "http://127.0.0.1:8000/sandbox/webservice/sms.php",
    "PRODUCTS": {"marketing": {"API_URL": "http://127.0.0.1:8000/sandbox/yx/webservice/sms.php"}},
    "BACKEND": IHUYI,
    "CALLBACK_TOKEN": "t",
}
OURS = ("huyi_sms.W005", "huyi_sms.W006", "huyi_sms.W007")


def deploy_warnings(huyi_sms: dict[str, Any], *, debug: bool = False, deploy: bool = True) -> dict[str, Any]:
    """Our deploy warnings by id, as ``check --deploy`` (``deploy=False``: plain ``check``) finds them."""
    with override_settings(HUYI_SMS=huyi_sms, DEBUG=debug):
        messages = run_checks(tags=[Tags.security], include_deployment_checks=deploy)
    return {message.id: message for message in messages if message.id in OURS}


def test_a_production_site_on_ihuyis_https_endpoints_is_not_warned() -> None:
    assert deploy_warnings(REAL) == {}
    assert deploy_warnings({**REAL, "API_URL": "https://106.ihuyi.cn/webservice/sms.php"}) == {}


def test_plain_http_to_ihuyi_is_a_deploy_warning_naming_the_products() -> None:
    warnings = deploy_warnings(
        {
            **REAL,
            "API_URL": "http://106.ihuyi.com/webservice/sms.php",
            "PRODUCTS": {"marketing": {"API_URL": "http://api.yx.ihuyi.com/webservice/sms.php"}, "voice": {}},
        }
    )
    assert list(warnings) == ["huyi_sms.W005"]
    warning = warnings["huyi_sms.W005"]
    assert "sms, marketing" in warning.msg and "voice" not in warning.msg and "http://" in warning.msg
    assert "https://" in warning.hint
    assert "a-real-looking-key" not in warning.msg + warning.hint


def test_a_site_sending_to_the_sandbox_with_its_account_is_warned_twice() -> None:
    warnings = deploy_warnings(SANDBOX_SITE)
    assert sorted(warnings) == ["huyi_sms.W006", "huyi_sms.W007"]
    assert "127.0.0.1:8000" in warnings["huyi_sms.W006"].msg and "sms, marketing" in warnings["huyi_sms.W006"].msg
    assert "'sandbox'" in warnings["huyi_sms.W007"].msg and "sandbox-api-key" not in warnings["huyi_sms.W007"].msg
    assert all(warning.hint for warning in warnings.values())


def test_an_account_the_sandbox_settings_list_is_the_sandboxs_too() -> None:
    site = {**REAL, "ACCOUNT": "demo", "API_KEY": "demo-key", "SANDBOX": {"ACCOUNTS": {"demo": "demo-key"}}}
    assert list(deploy_warnings(site)) == ["huyi_sms.W007"]
    # The same APIID with another key is not the sandbox's pair.
    assert deploy_warnings({**site, "API_KEY": "another-key"}) == {}


def test_a_backend_that_sends_nothing_to_ihuyi_is_not_warned() -> None:
    # tests/settings.py: the locmem backend with the sandbox's account.
    assert deploy_warnings({**SANDBOX_SITE, "BACKEND": "django_huyi_sms.backends.locmem.LocmemBackend"}) == {}


def test_only_check_deploy_with_debug_off_warns() -> None:
    assert deploy_warnings(SANDBOX_SITE, debug=True) == {}
    assert deploy_warnings(SANDBOX_SITE, deploy=False) == {}
