"""send_bulk(): marketing to many numbers, batched per Submit, through the queue, opt-outs skipped."""

from __future__ import annotations

import pytest
from django.test import override_settings

from django_huyi_sms.checks import check_settings
from django_huyi_sms.conf import SettingsError, huyi_settings

# -- the MARKETING settings ----------------------------------------------------------------------


def test_marketing_defaults():
    with override_settings(HUYI_SMS={}):
        assert huyi_settings.MARKETING == {"BATCH_SIZE": 100, "UNSUBSCRIBE_TEXT": "回T退订"}


@pytest.mark.parametrize(
    "marketing, complaint",
    [
        ({"BATCH_SIZE": 0}, "['MARKETING']['BATCH_SIZE'] must be a whole number from 1 to 1000"),
        ({"BATCH_SIZE": 1001}, "['MARKETING']['BATCH_SIZE'] must be a whole number from 1 to 1000"),
        ({"BATCH_SIZE": "100"}, "['MARKETING']['BATCH_SIZE'] must be a whole number"),
        ({"UNSUBSCRIBE_TEXT": 7}, "['MARKETING']['UNSUBSCRIBE_TEXT'] must be a string a message may carry"),
        ({"UNSUBSCRIBE_TEXT": "回T退订😀"}, "['MARKETING']['UNSUBSCRIBE_TEXT'] must be a string a message may carry"),
        ({"UNSUBSCRIBE_TEXT": "回T退订【"}, "['MARKETING']['UNSUBSCRIBE_TEXT']"),
        ({"BATCH_SZE": 10}, "has unknown keys: BATCH_SZE (did you mean BATCH_SIZE?)"),
    ],
)
def test_marketing_values_are_checked(marketing, complaint):
    with override_settings(HUYI_SMS={"MARKETING": marketing}):
        errors = [message for message in check_settings() if message.level >= 40]
        assert any(e.id in ("huyi_sms.E025", "huyi_sms.E001") and complaint in e.msg for e in errors), errors
        with pytest.raises(SettingsError):
            huyi_settings.MARKETING  # noqa: B018
        assert huyi_settings.OTP["TTL"] == 300  # nothing else stops


def test_an_empty_unsubscribe_text_warns():
    with override_settings(HUYI_SMS={"MARKETING": {"UNSUBSCRIBE_TEXT": ""}}):
        assert [m.id for m in check_settings() if m.id == "huyi_sms.W025"] == ["huyi_sms.W025"]
    with override_settings(HUYI_SMS={"MARKETING": {"UNSUBSCRIBE_TEXT": "拒收请回复R"}}):
        assert not [m for m in check_settings() if m.id in ("huyi_sms.W025", "huyi_sms.E025")]
