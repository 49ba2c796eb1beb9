"""conf.py: defaults, merging, per-product overrides, errors, and the system checks."""

from __future__ import annotations

import ipaddress
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from django.urls import reverse

from django_huyi_sms.auth import SmsCodeBackend
from django_huyi_sms.checks import check_settings
from django_huyi_sms.conf import DEFAULTS, SettingsError, huyi_settings

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_match_the_design():
    with override_settings(HUYI_SMS={}):
        assert huyi_settings.API_URL == "https://106.ihuyi.com/webservice/sms.php"
        assert huyi_settings.SIGN_MODE == "dynamic"
        assert huyi_settings.TIMEOUT == 10
        assert DEFAULTS["OTP"] == huyi_settings.OTP
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
    with override_settings(
        AUTHENTICATION_BACKENDS=["django.contrib.auth.backends.ModelBackend"], LOGIN_URL="huyi_sms:login"
    ):
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


# --- Every value checked and converted once (conf.py) ------------------------------------------


def errors_for(value, **django_settings):
    with override_settings(HUYI_SMS=value, **django_settings):
        return [message for message in check_settings() if message.level >= 40]


def test_a_wrong_type_is_a_check_error_with_an_id_and_a_hint():
    [error] = errors_for({"OTP": {"TTL": "five minutes"}})
    assert error.id == "huyi_sms.E011"
    assert error.msg == "HUYI_SMS['OTP']['TTL'] must be a whole number, above 0, not 'five minutes'."
    assert "Seconds" in error.hint


def test_reading_a_value_the_check_flags_raises_the_same_message_and_nothing_else_stops():
    with override_settings(HUYI_SMS={"OTP": {"TTL": "five minutes"}, "CALLBACK_TOKEN": "t"}):
        [error] = [message for message in check_settings() if message.id == "huyi_sms.E011"]
        with pytest.raises(SettingsError) as raised:
            _ = huyi_settings.OTP
        assert str(raised.value) == error.msg and raised.value.problem.id == "huyi_sms.E011"
        assert isinstance(raised.value, ImproperlyConfigured)
        # Pushes, sends and the rest do not depend on OTP: they go on working.
        assert huyi_settings.CALLBACK_TOKEN == "t"
        assert huyi_settings.product("sms").timeout == 10.0


@pytest.mark.django_db
def test_a_page_that_needs_a_flagged_value_raises_improperly_configured_not_a_value_error(client):
    complaint = re.escape("HUYI_SMS['OTP']['TTL'] must be")
    bad = {"OTP": {"TTL": "five minutes"}}
    with override_settings(HUYI_SMS=bad), pytest.raises(ImproperlyConfigured, match=complaint):
        client.get(reverse("huyi_sms:login"))


def test_a_misspelt_key_is_named_with_the_key_it_probably_meant():
    [error] = errors_for({"APIKEY": "k"})
    assert error.id == "huyi_sms.E001"
    assert "unknown keys: APIKEY (did you mean API_KEY?)" in error.msg
    assert "API_KEY" in error.hint


@pytest.mark.parametrize(
    "value, complaint",
    [
        ({"api_key": "k"}, "api_key (did you mean API_KEY?)"),
        ({"OTP": {"MAX_ATTEMPT": 3}}, "HUYI_SMS['OTP'] has unknown keys: MAX_ATTEMPT (did you mean MAX_ATTEMPTS?)"),
        ({"QUEUE": {"BATCHSIZE": 3}}, "BATCHSIZE (did you mean BATCH_SIZE?)"),
        ({"RATELIMITS": {"REQUEST": "1/h"}}, "REQUEST (did you mean REQUEST_CODE?)"),
        ({"PRODUCTS": {"markting": {}}}, "HUYI_SMS['PRODUCTS'] has unknown keys: markting (did you mean marketing?)"),
        ({"PRODUCTS": {"voice": {"APIURL": "https://x.example"}}}, "APIURL (did you mean API_URL?)"),
        ({"WHATEVER": 1}, "unknown keys: WHATEVER."),
    ],
)
def test_unknown_keys_are_found_at_every_level(value, complaint):
    errors = errors_for(value)
    assert [error.id for error in errors] == ["huyi_sms.E001"]
    assert complaint in errors[0].msg


def test_an_unknown_key_stops_the_dict_it_is_in():
    # A misspelt CALLBACK_ALLOWED_IPS must not leave the push URLs open: nothing is read.
    misspelt = {"CALLBACK_ALLOWED_IP": ["203.0.113.7"], "CALLBACK_TOKEN": "t"}
    with override_settings(HUYI_SMS=misspelt), pytest.raises(SettingsError, match="did you mean CALLBACK_ALLOWED_IPS"):
        _ = huyi_settings.CALLBACK_TOKEN
    with override_settings(HUYI_SMS={"OTP": {"MAX_ATTEMPT": 50}}):
        with pytest.raises(SettingsError, match="MAX_ATTEMPT"):
            _ = huyi_settings.OTP
        assert huyi_settings.QUEUE["BATCH_SIZE"] == 100
    misspelt = {"PRODUCTS": {"markting": {"ACCOUNT": "M1"}}}
    with override_settings(HUYI_SMS=misspelt), pytest.raises(SettingsError, match="markting"):
        huyi_settings.product("marketing")


def test_the_sandbox_entry_is_accepted_and_left_to_the_sandbox():
    assert errors_for({"SANDBOX": {"RECEIPT_DELAY": 0}}) == []


@pytest.mark.parametrize(
    "value, check_id, path",
    [
        ({"TIMEOUT": "5"}, "huyi_sms.E002", "['TIMEOUT']"),
        ({"OTP": {"LENGTH": "6"}}, "huyi_sms.E011", "['OTP']['LENGTH']"),
        ({"QUEUE": {"BATCH_SIZE": "100"}}, "huyi_sms.E006", "['QUEUE']['BATCH_SIZE']"),
        ({"PRODUCTS": {"voice": {"TIMEOUT": "5"}}}, "huyi_sms.E002", "['PRODUCTS']['voice']['TIMEOUT']"),
    ],
)
def test_numbers_in_quotes_are_refused_with_a_hint_not_read(value, check_id, path):
    [error] = errors_for(value)
    assert error.id == check_id and f"HUYI_SMS{path} must be" in error.msg
    assert "Write the number without quotes" in error.hint


def test_values_are_converted_once_for_every_call_site():
    settings = {
        "TIMEOUT": 5,
        "PRODUCTS": {"voice": {"TIMEOUT": 3}, "marketing": None},
        "CALLBACK_ALLOWED_IPS": ["203.0.113.0/24", "2001:db8::1"],
        "OTP": {"UNIFORM_RESPONSE_SECONDS": None},
        "RATELIMITS": {"VERIFY_CODE": ""},
        "CALLBACK_PROXY_COUNT": None,
        "ACCOUNT": None,
    }
    with override_settings(HUYI_SMS=settings):
        assert huyi_settings.TIMEOUT == 5.0 and isinstance(huyi_settings.TIMEOUT, float)
        assert huyi_settings.product("voice").timeout == 3.0 and huyi_settings.product("marketing").timeout == 5.0
        allowed = huyi_settings.CALLBACK_ALLOWED_IPS
        assert allowed.networks == (ipaddress.ip_network("203.0.113.0/24"), ipaddress.ip_network("2001:db8::1/128"))
        assert allowed.allows("203.0.113.9") and not allowed.allows("198.51.100.1") and not allowed.allows("garbage")
        assert huyi_settings.OTP["UNIFORM_RESPONSE_SECONDS"] == 0.0
        assert huyi_settings.RATELIMITS == {"REQUEST_CODE": "10/h", "VERIFY_CODE": None}
        assert huyi_settings.TRUSTED_PROXY_COUNT == 0
        assert huyi_settings.ACCOUNT == ""
        assert huyi_settings.QUEUE["STALE_AFTER"] == 300.0 and isinstance(huyi_settings.QUEUE["RETRIES"], int)


def test_the_older_proxy_count_name_is_read_when_the_new_one_is_not_set():
    with override_settings(HUYI_SMS={"CALLBACK_PROXY_COUNT": 2}):
        assert huyi_settings.TRUSTED_PROXY_COUNT == 2
    with override_settings(HUYI_SMS={"TRUSTED_PROXY_COUNT": 1, "CALLBACK_PROXY_COUNT": 1}):
        assert huyi_settings.TRUSTED_PROXY_COUNT == 1
        assert "huyi_sms.E014" not in [e.id for e in check_settings()]
    [error] = errors_for({"TRUSTED_PROXY_COUNT": 1, "CALLBACK_PROXY_COUNT": 2})
    assert error.id == "huyi_sms.E014" and error.hint


@pytest.mark.parametrize("rate", ["10/H", "10/month", "ten an hour", 10, "10/0m", ("10", "h")])
def test_a_rate_django_ratelimit_would_misread_is_an_error(rate):
    [error] = errors_for({"RATELIMITS": {"REQUEST_CODE": rate}})
    assert error.id == "huyi_sms.E012" and repr(rate) in error.msg and '"10/h"' in error.hint


@pytest.mark.parametrize("rate", ["10/h", "100/5m", "1/s", "0/d", None])
def test_rates_in_the_documented_form_pass(rate):
    assert errors_for({"RATELIMITS": {"REQUEST_CODE": rate}}) == []


@pytest.mark.parametrize(
    "otp",
    [
        {"TEMPLATE": "no code here"},
        {"TEMPLATE": "{code} for {name}"},
        {"TEMPLATE": "{code} {"},
        {"LENGTH": 3},
        {"LENGTH": 12},
        {"MAX_ATTEMPTS": 0},
        {"DAILY_LIMIT": 2.5},
        {"RESEND_INTERVAL": -1},
        {"CREATE_USER_ON_LOGIN": "yes"},
        {"UNIFORM_RESPONSE_SECONDS": float("nan")},
    ],
)
def test_otp_values_are_checked(otp):
    [error] = errors_for({"OTP": otp})
    assert error.id == "huyi_sms.E011"
    assert f"HUYI_SMS['OTP'][{next(iter(otp))!r}]" in error.msg


@pytest.mark.parametrize(
    "value, path",
    [
        ({"ACCOUNT": 12345678}, "['ACCOUNT']"),
        ({"API_KEY": b"key"}, "['API_KEY']"),
        ({"CALLBACK_TOKEN": ["t"]}, "['CALLBACK_TOKEN']"),
        ({"API_URL": 5}, "['API_URL']"),
        ({"USER_MOBILE_FIELD": "mobile number"}, "['USER_MOBILE_FIELD']"),
        ({"QUEUE": {"QUEUE_NAME": ""}}, "['QUEUE']['QUEUE_NAME']"),
    ],
)
def test_text_settings_are_checked(value, path):
    [error] = errors_for(value)
    assert error.id == "huyi_sms.E013" and f"HUYI_SMS{path} must be" in error.msg


@pytest.mark.django_db
def test_an_api_url_that_is_not_http_is_reported_and_the_client_still_refuses_it_before_sending():
    errors = errors_for({"API_URL": "ftp://127.0.0.1/sms.php"})
    assert [error.id for error in errors] == ["huyi_sms.E013"]
    # Not a settings error inside the backend (the row would be "unknown"): the client's own refusal.
    with override_settings(HUYI_SMS={"ACCOUNT": "C1", "API_KEY": "k", "API_URL": "ftp://127.0.0.1/sms.php"}):
        assert huyi_settings.product("sms").api_url == "ftp://127.0.0.1/sms.php"


def test_a_products_bad_value_stops_only_that_product():
    with override_settings(HUYI_SMS={"PRODUCTS": {"voice": {"TIMEOUT": -1}}}):
        with pytest.raises(SettingsError, match=re.escape("HUYI_SMS['PRODUCTS']['voice']['TIMEOUT']")):
            huyi_settings.product("voice")
        assert huyi_settings.product("sms").timeout == 10.0
    with override_settings(HUYI_SMS={"TIMEOUT": 0, "PRODUCTS": {"voice": {"TIMEOUT": 5}}}):
        assert huyi_settings.product("voice").timeout == 5.0  # it does not use the top-level TIMEOUT
        with pytest.raises(SettingsError, match="TIMEOUT"):
            huyi_settings.product("marketing")


def test_stale_after_must_outlast_every_products_timeout():
    [error] = errors_for({"PRODUCTS": {"voice": {"TIMEOUT": 400}}})
    assert error.id == "huyi_sms.E007" and "TIMEOUT of PRODUCTS['voice'] (400 s)" in error.msg


@pytest.mark.parametrize(
    "django_settings, complaint",
    [
        ({"RATELIMIT_IPV6_MASK": 200}, "RATELIMIT_IPV6_MASK must be a whole number from 0 to 128, not 200."),
        ({"RATELIMIT_IPV4_MASK": "24"}, "RATELIMIT_IPV4_MASK must be"),
        ({"RATELIMIT_IP_META_KEY": 5}, "RATELIMIT_IP_META_KEY must be"),
        ({"RATELIMIT_IP_META_KEY": "nowhere.client_ip"}, "RATELIMIT_IP_META_KEY: cannot import 'nowhere.client_ip'"),
    ],
)
def test_the_django_ratelimit_settings_the_app_honours_are_checked(django_settings, complaint):
    errors = errors_for({}, **django_settings)
    assert [error.id for error in errors] == ["huyi_sms.E015"]
    assert complaint in errors[0].msg


def test_a_huyi_sms_that_is_not_a_dict_is_an_error_and_stops_every_read():
    [error] = errors_for(["ACCOUNT", "C1"])
    assert error.id == "huyi_sms.E001" and "must be a dict, not list" in error.msg
    with override_settings(HUYI_SMS=["ACCOUNT", "C1"]), pytest.raises(SettingsError):
        _ = huyi_settings.TIMEOUT


def test_every_check_id_is_documented():
    source = "".join(path.read_text() for path in (ROOT / "django_huyi_sms").glob("*.py"))
    documented = (ROOT / "docs" / "settings.md").read_text()
    ids = set(re.findall(r"huyi_sms\.[EW]\d{3}", source))
    assert {"huyi_sms.E011", "huyi_sms.E015"} <= ids
    assert not {id_ for id_ in ids if f"`{id_}`" not in documented}


@pytest.mark.parametrize(
    "huyi_sms, expected",
    [
        ('{"OTP": {"TTL": "five minutes"}}', "(huyi_sms.E011) HUYI_SMS['OTP']['TTL'] must be"),
        ('{"APIKEY": "k"}', "(huyi_sms.E001) HUYI_SMS has unknown keys: APIKEY (did you mean API_KEY?)"),
        ('{"OTP": {"LENGTH": "six"}, "QUEUE": {"RUNNER": 1}}', "(huyi_sms.E011) HUYI_SMS['OTP']['LENGTH']"),
    ],
)
def test_manage_py_check_reports_a_bad_setting_without_a_traceback(tmp_path, huyi_sms, expected):
    # A fresh process: modules are imported and the URLs loaded (Django's URL checks) with the
    # bad setting in place, as on a developer's machine or a deploy.
    (tmp_path / "bad_settings.py").write_text(f"from tests.settings import *\nHUYI_SMS = {huyi_sms}\n")
    environment = {
        key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL", "AMQP_URL")
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="bad_settings", PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)])
    )
    command = [sys.executable, "-m", "django", "check"]
    done = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert expected in done.stderr


@pytest.mark.django_db
@pytest.mark.parametrize("mistake, named", [({"TIMEOUT": -1}, "TIMEOUT"), ({"APIKEY": "k"}, "APIKEY")])
def test_a_send_with_settings_the_check_reports_fails_as_nothing_sent(mistake, named):
    """The wrong setting is found before any request leaves: the row is failed, not unknown."""
    from django_huyi_sms import send_sms
    from django_huyi_sms.exceptions import HuyiConfigurationError
    from django_huyi_sms.models import SmsLog

    broken = {"ACCOUNT": "C1", "API_KEY": "k", "BACKEND": "django_huyi_sms.backends.ihuyi.IhuyiBackend", **mistake}
    with override_settings(HUYI_SMS=broken), pytest.raises(HuyiConfigurationError, match=named):
        send_sms("13800138000", "您的验证码是：1234。请不要把验证码泄露给其他人。")
    log = SmsLog.objects.get()
    assert log.status == SmsLog.Status.FAILED and named in log.provider_msg



def test_a_database_the_app_does_not_speak_is_an_error_at_check_time(monkeypatch):
    from django.db import connection

    from django_huyi_sms.checks import _check_database

    assert _check_database() == []  # the suite's own database (SQLite or PostgreSQL)
    monkeypatch.setattr(connection, "vendor", "mysql")
    [error] = _check_database()
    assert error.id == "huyi_sms.E060" and "'mysql'" in error.msg and "PostgreSQL and SQLite" in error.msg
