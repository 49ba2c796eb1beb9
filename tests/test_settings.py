"""conf.py: defaults, merging, per-product overrides, errors, and the system checks."""

from __future__ import annotations

import pytest
from django_huyi_sms.checks import check_settings
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

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
