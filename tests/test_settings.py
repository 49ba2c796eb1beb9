"""conf.py: defaults, merging, per-product overrides, errors, and the system checks."""

from __future__ import annotations

import pytest
from django_huyi_sms.checks import check_settings
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from django_huyi_sms.auth import SmsCodeBackend
from django_huyi_sms.conf import DEFAULTS, huyi_settings


def test_defaults_match_the_design():
    with override_settings(HUYI_SMS={}):
        assert huyi_settings.API_URL == "https://106.ihuyi.com/webservice/sms.php"
        assert huyi_settings.SIGN_MODE == "dynamic"
        assert huyi_settings.TIMEOUT == 10
        assert huyi_settings.OTP == DEFAULTS["OTP"]
        assert huyi_settings.CALLBACK_TOKEN == ""
        assert huyi_settings.RETENTION_DAYS == 180


def test_nested_dicts_merge_key_by_key():
    with override_settings(HUYI_SMS={"OTP": {"TTL": 120}}):
        assert huyi_settings.OTP["TTL"] == 120
        assert huyi_settings.OTP["LENGTH"] == 6


def test_override_settings_is_seen_immediately():
    with override_settings(HUYI_SMS={"ACCOUNT": "A"}):
        assert huyi_settings.product().account == "A"
    with override_settings(HUYI_SMS={"ACCOUNT": "B"}):
        assert huyi_settings.product().account == "B"


def test_product_defaults_and_overrides():
    with override_settings(
        HUYI_SMS={
            "ACCOUNT": "C1",
            "API_KEY": "k",
            "API_URL": "http://sandbox/sms.php",
            "PRODUCTS": {"marketing": {"ACCOUNT": "M1", "API_KEY": "mk"}},
        }
    ):
        assert huyi_settings.product("sms").api_url == "http://sandbox/sms.php"
        marketing = huyi_settings.product("marketing")
        assert (marketing.account, marketing.api_url) == ("M1", "https://api.yx.ihuyi.com/webservice/sms.php")
        assert huyi_settings.product("international").api_url == "https://api.isms.ihuyi.com/webservice/isms.php"
        assert "mk" not in repr(marketing)


@pytest.mark.parametrize(
    "value, complaint",
    [
        ({"ACOUNT": "typo"}, "unknown keys: ACOUNT"),
        ({"PRODUCTS": {"marketing": {"KEY": "x"}}}, "unknown keys: KEY"),
        ({"SIGN_MODE": "sha1"}, "SIGN_MODE"),
        ({"BACKEND": "nowhere.Backend"}, "cannot import"),
    ],
)
def test_mistakes_are_reported_by_the_system_check(value, complaint):
    with override_settings(HUYI_SMS=value):
        errors = check_settings()
    assert any(e.id == "huyi_sms.E001" and complaint in e.msg for e in errors), errors


def test_missing_credentials_warn():
    with override_settings(HUYI_SMS={"ACCOUNT": ""}):
        assert "huyi_sms.W001" in [e.id for e in check_settings()]
    with override_settings(HUYI_SMS={"ACCOUNT": "C1", "API_KEY": "k"}):
        assert "huyi_sms.W001" not in [e.id for e in check_settings()]


def test_the_check_is_registered():
    from django.core import checks

    assert check_settings in checks.registry.registry.get_checks()


def test_unknown_product_is_improperly_configured():
    with pytest.raises(ImproperlyConfigured):
        huyi_settings.product("fax")


@pytest.mark.parametrize("value", ["abc", "2", -1, 1.5, True, [1]])
def test_a_bad_callback_proxy_count_is_an_error(value):
    with override_settings(HUYI_SMS={"CALLBACK_PROXY_COUNT": value}):
        errors = [e for e in check_settings() if e.id == "huyi_sms.E003"]
    assert len(errors) == 1 and errors[0].hint and repr(value) in errors[0].msg


@pytest.mark.parametrize("value", [0, 2, None])
def test_a_good_callback_proxy_count_passes(value):
    with override_settings(HUYI_SMS={"CALLBACK_PROXY_COUNT": value}):
        assert "huyi_sms.E003" not in [e.id for e in check_settings()]


@pytest.mark.parametrize("value", ["127.0.0.1", b"127.0.0.1", 127, {"ip": "127.0.0.1"}])
def test_callback_allowed_ips_that_is_not_a_list_is_an_error(value):
    with override_settings(HUYI_SMS={"CALLBACK_ALLOWED_IPS": value}):
        errors = [e for e in check_settings() if e.id == "huyi_sms.E004"]
    assert len(errors) == 1 and "must be a list" in errors[0].msg and errors[0].hint


def test_entries_of_callback_allowed_ips_that_are_not_addresses_are_an_error():
    with override_settings(HUYI_SMS={"CALLBACK_ALLOWED_IPS": ["203.0.113.7", "203.0.113.0/24", "nonsense", "::1", 5]}):
        errors = [e for e in check_settings() if e.id in ("huyi_sms.E004", "huyi_sms.E005")]
    assert [e.id for e in errors] == ["huyi_sms.E005"]
    assert "'nonsense', 5" in errors[0].msg


@pytest.mark.parametrize("value", [[], ("203.0.113.7",), ["2001:db8::/32"], None])
def test_good_callback_allowed_ips_pass(value):
    with override_settings(HUYI_SMS={"CALLBACK_ALLOWED_IPS": value}):
        assert not {"huyi_sms.E004", "huyi_sms.E005"} & {e.id for e in check_settings()}


def test_sms_code_backend_missing_from_authentication_backends_warns():
    with override_settings(AUTHENTICATION_BACKENDS=["django.contrib.auth.backends.ModelBackend"]):
        [warning] = [e for e in check_settings() if e.id == "huyi_sms.W003"]
    assert warning.msg.startswith("django_huyi_sms.auth.SmsCodeBackend is not in AUTHENTICATION_BACKENDS")
    assert "will not keep the user signed in" in warning.msg
    assert "SmsCodeBackend" in warning.hint and "SILENCED_SYSTEM_CHECKS" in warning.hint


@pytest.mark.parametrize(
    "backends",
    [
        ["django.contrib.auth.backends.ModelBackend", "django_huyi_sms.auth.SmsCodeBackend"],
        ["tests.test_settings.MySmsCodeBackend"],  # a subclass counts
    ],
)
def test_no_warning_when_sms_code_backend_is_there(backends):
    with override_settings(AUTHENTICATION_BACKENDS=backends):
        assert "huyi_sms.W003" not in [e.id for e in check_settings()]


class MySmsCodeBackend(SmsCodeBackend):
    """A site's own subclass, as allauth-style customisation would have it."""


@pytest.mark.parametrize(
    "value, check_id, complaint",
    [
        ({"QUEUE": {"BATCH_SIZE": 0}}, "huyi_sms.E006", "['QUEUE']['BATCH_SIZE'] must be a whole number, above 0"),
        ({"QUEUE": {"RETRIES": "five"}}, "huyi_sms.E006", "['QUEUE']['RETRIES'] must be a whole number, 0 or more"),
        ({"QUEUE": {"RETRY_BACKOFF": -1}}, "huyi_sms.E006", "RETRY_BACKOFF"),
        ({"CONNECT_RETRIES": 1.5}, "huyi_sms.E006", "['CONNECT_RETRIES'] must be a whole number"),
        ({"UNKNOWN_MATCH_WINDOW": 0}, "huyi_sms.E006", "UNKNOWN_MATCH_WINDOW"),
        ({"QUEUE": {"STALE_AFTER": 5}}, "huyi_sms.E007", "must be longer than TIMEOUT"),
        ({"QUEUE": {"RUNNER": "rq"}}, "huyi_sms.E008", "must be \"tasks\" or \"celery\""),
        ({"QUEUE": {"TASK_BACKEND": "elsewhere"}}, "huyi_sms.E010", "'elsewhere', which the TASKS setting does not define"),
    ],
)
def test_queue_settings_are_checked(value, check_id, complaint):
    with override_settings(HUYI_SMS=value):
        errors = check_settings()
    assert any(e.id == check_id and complaint in e.msg for e in errors), errors


def test_the_default_queue_settings_pass():
    with override_settings(HUYI_SMS={"CALLBACK_TOKEN": "t"}):
        assert not [e for e in check_settings() if e.id in {f"huyi_sms.E00{n}" for n in range(6, 10)} | {"huyi_sms.E010"}]
