"""The sandbox's settings: one SandboxConfig, checked once, named as the user wrote them."""

from __future__ import annotations

import re
import socket
from typing import Any

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from django_huyi_sms.checks import check_settings
from django_huyi_sms.client import parse_reply
from django_huyi_sms.conf import DEFAULTS
from django_huyi_sms.sandbox import get_gateway
from django_huyi_sms.sandbox.config import SandboxConfig, SandboxConfigError
from django_huyi_sms.sandbox.gateway import SandboxGateway


def sandbox_settings(settings: Any, **sandbox: Any) -> override_settings:
    return override_settings(HUYI_SMS={**settings.HUYI_SMS, "SANDBOX": sandbox})


def test_the_settings_defaults_are_the_configs_defaults() -> None:
    assert DEFAULTS["SANDBOX"] == SandboxConfig.setting_defaults()
    assert SandboxConfig.from_setting(DEFAULTS["SANDBOX"]) == SandboxConfig()
    assert DEFAULTS["SANDBOX"]["ACCOUNTS"] == {"sandbox": "sandbox-api-key"}
    assert DEFAULTS["SANDBOX"]["SENSITIVE_WORDS"] == ["赌博", "代开发票"]


@pytest.mark.parametrize(
    ("sandbox", "message"),
    [
        ({"RECEIPT_URL": "ftp://example.invalid/"}, "['RECEIPT_URL'] must be an http:// or https:// URL"),
        ({"RECEIPT_DELAY": -1}, "['RECEIPT_DELAY'] must be a number, 0 or more, not -1"),
        ({"RETRY_SCALE": float("inf")}, "['RETRY_SCALE'] must be a number, 0 or more, not inf"),
        # Too long for a timer: the pusher thread died on the first send and pushed nothing more.
        ({"RECEIPT_DELAY": 1e308}, "['RECEIPT_DELAY'] must be at most 86400 seconds (a day), not 1e+308"),
        ({"RECEIPT_DELAY": 86400.5}, "['RECEIPT_DELAY'] must be at most 86400 seconds (a day)"),
        ({"RETRY_SCALE": 1e308}, "['RETRY_SCALE'] must be at most 720 (the 120 s retry interval then waits a day)"),
        ({"DAILY_LIMIT": 2.5}, "['DAILY_LIMIT'] must be a whole number, 0 or more, not 2.5"),
        ({"BALANCE": True}, "['BALANCE'] must be a whole number"),
        ({"SENSITIVE_WORDS": "赌博"}, "['SENSITIVE_WORDS'] must be a list of strings, not str"),
        ({"BLACKLIST": ["13800138000", "12345"]}, "['BLACKLIST'] entry 2 is not a mobile number"),
        ({"ALLOWED_IPS": {"sandbox": ["10.0.0.300"]}}, "['ALLOWED_IPS'] holds an address that is not an IP"),
        ({"ACCOUNTS": {"sandbox": None}}, "['ACCOUNTS'] must map non-empty APIID strings"),
        ({"TEMPLATES": {"sandbox": ["  "]}}, "['TEMPLATES'] holds an empty template text"),
        ({"NOPE": 1}, "['SANDBOX'] has unknown keys: NOPE. Known keys: ACCOUNTS"),
    ],
)
def test_an_unusable_setting_is_named_as_the_site_wrote_it(settings: Any, sandbox: dict, message: str) -> None:
    with sandbox_settings(settings, **sandbox), pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        get_gateway()


def test_a_day_is_the_longest_wait_accepted() -> None:
    config = SandboxConfig(receipt_delay=86400, retry_scale=720)
    assert (config.receipt_delay, config.retry_scale) == (86400.0, 720.0)


def test_the_check_reports_an_unusable_sandbox_setting_with_an_id_and_a_hint(settings: Any) -> None:
    with sandbox_settings(settings, RECEIPT_DELAY=1e308, RETRY_SCALE=2):
        errors = [message for message in check_settings() if message.id == "huyi_sms.E016"]
    assert [error.msg for error in errors] == [
        "HUYI_SMS['SANDBOX']['RECEIPT_DELAY'] must be at most 86400 seconds (a day), not 1e+308."
    ]
    assert "sandbox" in errors[0].hint and errors[0].level == checks.ERROR
    with sandbox_settings(settings, RECEIPT_DELAY=0, RETRY_SCALE=0.01):
        assert [message for message in check_settings() if message.id == "huyi_sms.E016"] == []


def test_a_push_url_in_an_error_is_left_out_since_it_carries_the_token(settings: Any) -> None:
    with (
        sandbox_settings(settings, REPLY_URL="gopher://x/?token=secret"),
        pytest.raises(ImproperlyConfigured) as caught,
    ):
        get_gateway()
    assert "secret" not in str(caught.value)


def test_the_command_names_its_option_or_the_setting(settings: Any) -> None:
    with pytest.raises(CommandError, match=re.escape("--reply-url must be an http:// or https:// URL")):
        call_command("huyi_sandbox", "--reply-url", "ftp://x/")
    with pytest.raises(CommandError, match=re.escape("--receipt-delay must be at most 86400 seconds (a day)")):
        call_command("huyi_sandbox", "--receipt-delay", "1e308")
    with pytest.raises(CommandError, match=re.escape("--retry-scale must be at most 720")):
        call_command("huyi_sandbox", "--retry-scale", "1e308")
    with sandbox_settings(settings, RETRY_SCALE=1e308), pytest.raises(CommandError, match=re.escape("['RETRY_SCALE']")):
        call_command("huyi_sandbox", "--port", "0")
    with sandbox_settings(settings, DAILY_LIMIT=-1), pytest.raises(CommandError, match=re.escape("['DAILY_LIMIT']")):
        call_command("huyi_sandbox", "--port", "0")


def test_the_command_will_not_listen_on_every_interface_by_omission() -> None:
    # socketserver reads an empty host as every interface; a sandbox takes made-up credentials.
    with pytest.raises(CommandError, match=re.escape("--host is empty")):
        call_command("huyi_sandbox", "--host", "", "--port", "0")


def test_an_option_replaces_a_setting_before_it_is_checked(settings: Any) -> None:
    # The option is merged first: a bad RECEIPT_URL replaced by --receipt-url is not an error. The
    # command gets as far as listening, on a port already taken, so nothing is left running.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        with sandbox_settings(settings, RECEIPT_URL="nonsense"), pytest.raises(CommandError, match="cannot listen"):
            call_command("huyi_sandbox", "--receipt-url", "", "--port", port)
        with sandbox_settings(settings, RECEIPT_URL="nonsense"), pytest.raises(CommandError, match="RECEIPT_URL"):
            call_command("huyi_sandbox", "--port", port)


def test_numbers_and_signatures_are_read_as_the_gateway_stores_them() -> None:
    config = SandboxConfig(blacklist=["+86 139-0013-9000"], undeliverable=["0086 13700137000"])
    assert config.blacklist == frozenset({"13900139000"}) and config.undeliverable == frozenset({"13700137000"})
    assert SandboxConfig(signatures={"a": ["【互亿无线】", "别家"]}).signatures["a"] == frozenset({"互亿无线", "别家"})
    with SandboxGateway(config, receipt_delay=3600) as gateway:
        fields = {"account": "sandbox", "password": "sandbox-api-key", "mobile": "13900139000", "content": "您好"}
        _type, body = gateway.handle("sms", "Submit", fields)
        assert parse_reply(body)["code"] == "4030"


def test_the_config_cannot_change_under_a_gateway() -> None:
    accounts = {"a": "k"}
    config = SandboxConfig(accounts=accounts, blacklist=["13800138000"])
    accounts["b"] = "k2"
    assert dict(config.accounts) == {"a": "k"}
    with pytest.raises(AttributeError):
        config.balance = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.accounts["c"] = "k3"  # type: ignore[index]


def test_a_running_gateways_push_url_is_checked_like_the_setting() -> None:
    with SandboxGateway() as gateway:
        gateway.template_url = "http://127.0.0.1:9/push"
        assert gateway.config.template_url == gateway.template_url == "http://127.0.0.1:9/push"
        with pytest.raises(SandboxConfigError, match="template_url"):
            gateway.template_url = "not a url"
        assert gateway.template_url == "http://127.0.0.1:9/push"
