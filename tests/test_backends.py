"""The three backends: locmem's outbox, console's output, ihuyi's client configuration."""

from __future__ import annotations

import io

import pytest
from django.test import override_settings

import django_huyi_sms
from django_huyi_sms.backends import OutgoingSms, get_backend
from django_huyi_sms.backends.console import ConsoleBackend
from django_huyi_sms.backends.ihuyi import IhuyiBackend, shared_session
from django_huyi_sms.backends.locmem import LocmemBackend

MESSAGE = OutgoingSms(product="sms", mobile="13800138000", content="您的验证码是：1234。", parts=1)


def test_locmem_collects_messages_in_the_outbox():
    first = LocmemBackend().send(MESSAGE)
    second = LocmemBackend().send(MESSAGE)
    assert django_huyi_sms.outbox == [MESSAGE, MESSAGE]
    assert first.smsid != second.smsid and first.smsid.isdigit()


def test_console_prints_the_message():
    stream = io.StringIO()
    result = ConsoleBackend(stream=stream).send(MESSAGE)
    text = stream.getvalue()
    assert "13800138000" in text and "您的验证码是：1234。" in text and result.smsid in text
    assert django_huyi_sms.outbox == []


def test_get_backend_follows_the_setting():
    with override_settings(HUYI_SMS={"BACKEND": "django_huyi_sms.backends.console.ConsoleBackend"}):
        assert isinstance(get_backend(), ConsoleBackend)
    with override_settings(HUYI_SMS={}):
        assert isinstance(get_backend(), IhuyiBackend)


def test_ihuyi_backend_builds_clients_from_settings_and_shares_one_session():
    settings = {
        "ACCOUNT": "C1",
        "API_KEY": "top-secret",
        "SIGN_MODE": "plain",
        "TIMEOUT": 3,
        "PRODUCTS": {"voice": {"ACCOUNT": "V1", "API_KEY": "voice-secret"}},
    }
    with override_settings(HUYI_SMS=settings):
        sms = IhuyiBackend().client("sms")
        voice = IhuyiBackend().client("voice")
    assert (sms.account, sms.api_url, sms.sign_mode, sms.timeout) == (
        "C1",
        "https://106.ihuyi.com/webservice/sms.php",
        "plain",
        3.0,
    )
    assert (voice.account, voice.api_url) == ("V1", "https://api.voice.ihuyi.com/webservice/voice.php")
    assert sms.session is voice.session is shared_session()
    assert "top-secret" not in repr(sms) and "voice-secret" not in repr(voice)


@pytest.mark.django_db
def test_send_with_the_console_backend_is_logged_too(capsys):
    with override_settings(HUYI_SMS={"BACKEND": ConsoleBackend}):
        log = django_huyi_sms.send_sms("13800138000", "hello")
    assert log.status == "submitted" and log.smsid in capsys.readouterr().out
