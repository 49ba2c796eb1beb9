"""OTP["TEMPLATE_ID"]: one-time codes sent as a template's variable, so a registered code template just works."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.checks import Error
from django.test import override_settings

from django_huyi_sms import otp
from django_huyi_sms.adapter import HuyiAdapter
from django_huyi_sms.checks import check_settings
from django_huyi_sms.conf import SettingsError, huyi_settings
from django_huyi_sms.exceptions import HuyiContentError
from django_huyi_sms.models import OtpRecord, OtpThrottle, SmsLog, SmsTemplate
from django_huyi_sms.sandbox.gateway import SandboxGateway
from django_huyi_sms.sandbox.wsgi import serve

from .test_otp_queue import run_tasks

pytestmark = pytest.mark.django_db

ACCOUNT = "C1234"
KEY = "sandbox-key-1234"
MOBILE = "13800138000"


@pytest.fixture
def sandbox() -> Iterator[tuple[SandboxGateway, dict]]:
    """The sandbox over HTTP, and the HUYI_SMS that sends to it through the ihuyi backend."""
    gateway = SandboxGateway(accounts={ACCOUNT: KEY}, receipt_delay=3600)
    server, _thread = serve(gateway)
    settings = {
        "ACCOUNT": ACCOUNT,
        "API_KEY": KEY,
        "API_URL": f"http://127.0.0.1:{server.server_address[1]}/webservice/sms.php",
        "BACKEND": "django_huyi_sms.backends.ihuyi.IhuyiBackend",
    }
    yield gateway, settings
    server.shutdown()
    server.server_close()
    gateway.close()


def test_with_template_1_the_code_goes_as_its_variable_and_verifies(sandbox) -> None:
    gateway, settings = sandbox
    with override_settings(HUYI_SMS={**settings, "OTP": {"TEMPLATE_ID": 1, "UNIFORM_RESPONSE_SECONDS": 0}}):
        record = otp.request_code(MOBILE, purpose="login")
        [message] = gateway.messages_for(MOBILE)
        code = gateway.latest_code(MOBILE)
        assert message.templateid == 1 and message.content == f"您的验证码是：{code}。请不要把验证码泄露给其他人。"
        log = SmsLog.objects.get()
        assert (log.templateid, log.variables, log.carries_code) == (1, ["******"], True)
        assert code not in log.content and log.content == "您的验证码是：******。请不要把验证码泄露给其他人。"
        assert record.sms_log == log and log.smsid == message.smsid
        assert otp.verify_code(MOBILE, code, purpose="login").status == OtpRecord.Status.USED


def test_by_default_the_whole_text_is_sent_as_today(sandbox) -> None:
    gateway, settings = sandbox
    with override_settings(HUYI_SMS={**settings, "OTP": {"UNIFORM_RESPONSE_SECONDS": 0}}):
        otp.request_code(MOBILE, purpose="login")
    [message] = gateway.messages_for(MOBILE)
    assert message.templateid is None and message.content.startswith("您的验证码是：")
    assert (SmsLog.objects.get().templateid, SmsLog.objects.get().variables) == (None, [])


class MinutesAdapter(HuyiAdapter):
    def code_variables(self, code: str, purpose: str) -> list[str]:
        return [code, "5"]


def test_an_adapter_fills_a_template_of_several_variables(sandbox) -> None:
    gateway, settings = sandbox
    text = "【互亿无线】您的验证码是：【变量1】，【变量2】分钟内有效。"
    with override_settings(HUYI_SMS=settings):
        templateid = _approved_in_both(gateway, text)
    otp_settings = {"TEMPLATE_ID": templateid, "UNIFORM_RESPONSE_SECONDS": 0}
    with override_settings(HUYI_SMS={**settings, "ADAPTER": MinutesAdapter, "OTP": otp_settings}):
        otp.request_code(MOBILE, purpose="verify_phone")
    code = gateway.latest_code(MOBILE)
    assert gateway.messages_for(MOBILE)[0].content == f"【互亿无线】您的验证码是：{code}，5分钟内有效。"
    assert SmsLog.objects.get().variables == ["******", "5"]


def _approved_in_both(gateway: SandboxGateway, text: str) -> int:
    """Add ``text`` through the app, approve it in the sandbox and record the approval (the review push's job)."""
    from django_huyi_sms import add_template

    template = add_template(text)
    gateway.review_template(template.templateid, approved=True)
    SmsTemplate.objects.filter(pk=template.pk).update(status=SmsTemplate.Status.APPROVED)
    return template.templateid


def test_a_code_template_the_app_does_not_know_is_refused_before_any_call(sandbox) -> None:
    gateway, settings = sandbox
    with override_settings(HUYI_SMS={**settings, "OTP": {"TEMPLATE_ID": 4242, "UNIFORM_RESPONSE_SECONDS": 0}}):
        with pytest.raises(HuyiContentError) as refused:
            otp.request_code(MOBILE, purpose="login")
    assert refused.value.code == 4071 and gateway.phones() == []
    # Checked before anything is written: no code, no SMS row, nothing counted against the number.
    assert not OtpRecord.objects.exists() and not SmsLog.objects.exists()
    assert otp.seconds_until_allowed(MOBILE, "login") == 0 and not OtpThrottle.objects.filter(sent_today__gt=0).exists()


def test_a_worker_sends_a_queued_code_by_template_too(dummy_queue, sandbox, django_capture_on_commit_callbacks):
    gateway, settings = sandbox
    with override_settings(HUYI_SMS={**settings, "OTP": {"TEMPLATE_ID": 1}}):
        with django_capture_on_commit_callbacks(execute=True):
            record = otp.request_code(MOBILE, purpose="login")
        assert record.code_hash == "" and gateway.phones() == []
        run_tasks(dummy_queue)
        [message] = gateway.messages_for(MOBILE)
        assert message.templateid == 1
        code = gateway.latest_code(MOBILE)
        assert code not in str(SmsLog.objects.values_list("content", "variables").get())
        assert otp.verify_code(MOBILE, code, purpose="login").status == OtpRecord.Status.USED


# -- the setting ------------------------------------------------------------------------------------------


def errors_for(otp_settings: dict) -> list[Error]:
    with override_settings(HUYI_SMS={"OTP": otp_settings}):
        return [message for message in check_settings() if message.id.startswith("huyi_sms.E")]


@pytest.mark.parametrize("value", ["1", 0, -1, 1.0, True, 2**63, [1]])
def test_a_template_id_that_is_not_one_is_an_error(value) -> None:
    [error] = errors_for({"TEMPLATE_ID": value})
    assert error.id == "huyi_sms.E020" and "HUYI_SMS['OTP']['TEMPLATE_ID']" in error.msg
    with override_settings(HUYI_SMS={"OTP": {"TEMPLATE_ID": value}}), pytest.raises(SettingsError):
        huyi_settings.OTP  # noqa: B018 - reading it is the test


@pytest.mark.parametrize("value", [None, 1, 123456])
def test_a_template_id_is_none_or_a_whole_number(value) -> None:
    assert errors_for({"TEMPLATE_ID": value}) == []


def test_codes_longer_than_a_verification_variable_cannot_go_by_template() -> None:
    [error] = errors_for({"TEMPLATE_ID": 1, "LENGTH": 9})
    assert error.id == "huyi_sms.E021" and "40722" in error.msg
    assert errors_for({"TEMPLATE_ID": 1, "LENGTH": 8}) == []
    assert errors_for({"LENGTH": 10}) == []  # the whole text: no variable to cap
