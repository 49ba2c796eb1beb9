"""Template-variable sends: send_sms(mobile, template=…, variables=[…]) and enqueue_sms, checked before any call."""

from __future__ import annotations

import io

import pytest
from django.db import transaction
from django.test import override_settings

import django_huyi_sms
from django_huyi_sms import sending
from django_huyi_sms.backends import OutgoingSms
from django_huyi_sms.backends.console import ConsoleBackend
from django_huyi_sms.client import IhuyiClient, dynamic_password
from django_huyi_sms.exceptions import HuyiContentError
from django_huyi_sms.models import SmsLog, SmsTemplate

from .test_queue import run_queued_tasks
from .test_send import ihuyi_at

pytestmark = pytest.mark.django_db

MOBILE = "13800138000"
LOCMEM = "django_huyi_sms.backends.locmem.LocmemBackend"
ORDER = "订单号：【变量1】，联系人：【变量2】。"  # ihuyi-api.md's multi-variable template


def approved(content: str = ORDER, templateid: int = 5001, **fields) -> SmsTemplate:
    values = {"content": content, "templateid": templateid, "status": SmsTemplate.Status.APPROVED, **fields}
    return SmsTemplate.objects.create(**values)


# -- what is sent and what is kept ---------------------------------------------------------------


def test_template_1_is_known_without_a_row_and_rendered_for_the_log():
    log = django_huyi_sms.send_sms(MOBILE, template=1, variables=["482913"], purpose="notice")
    log.refresh_from_db()
    assert log.status == SmsLog.Status.SUBMITTED
    assert (log.templateid, log.variables) == (1, ["482913"])
    assert log.content == "您的验证码是：482913。请不要把验证码泄露给其他人。"
    assert log.parts == 1 and not log.carries_code
    [message] = django_huyi_sms.outbox
    assert (message.templateid, message.variables, message.submitted_content) == (1, ("482913",), "482913")
    assert message.content == log.content


def test_a_recorded_template_is_filled_in_its_order_and_billed_by_what_it_renders():
    template = approved("尊敬的【变量1】，您的订单【变量2】已发货，" + "请留意物流信息" * 6 + "。")
    log = django_huyi_sms.send_sms(MOBILE, template=template, variables=["张三", 20180515006])
    log.refresh_from_db()
    assert log.content.startswith("尊敬的张三，您的订单20180515006已发货，请留意物流信息")
    assert (log.templateid, log.variables) == (5001, ["张三", "20180515006"])
    assert log.parts == 2  # 68 rendered characters and the 6 of the default signature: billed as two
    assert django_huyi_sms.outbox[0].submitted_content == "张三|20180515006"


def test_by_templateid_the_row_of_the_product_is_used():
    approved(templateid=7)
    approved("营销【变量】", templateid=7, product="marketing")
    log = django_huyi_sms.send_sms(MOBILE, template=7, variables=["A1", "李四"])
    assert log.content == "订单号：A1，联系人：李四。"


def test_the_ihuyi_backend_sends_the_variables_and_signs_them_as_sent(fake_provider):
    fake_provider.answer_json(code=2, msg="提交成功", smsid="14745625541233112231")
    approved()
    with ihuyi_at(fake_provider.url):
        log = django_huyi_sms.send_sms(MOBILE, template=5001, variables=["20180515006", "张三"])
    assert log.status == SmsLog.Status.SUBMITTED
    [request] = fake_provider.requests
    form = request.form
    assert (form["templateid"], form["content"], form["mobile"]) == ("5001", "20180515006|张三", MOBILE)
    assert form["password"] == dynamic_password("C1", "k", MOBILE, "20180515006|张三", form["time"])
    assert SmsLog.objects.get().content == "订单号：20180515006，联系人：张三。"


def test_a_whole_content_send_carries_no_templateid(fake_provider):
    with ihuyi_at(fake_provider.url):
        django_huyi_sms.send_sms(MOBILE, "您的验证码是：1234。请不要把验证码泄露给其他人。")
    assert "templateid" not in fake_provider.requests[0].form
    assert (SmsLog.objects.get().templateid, SmsLog.objects.get().variables) == (None, [])


def test_a_code_passed_as_a_variable_is_starred_out_of_the_row(fake_provider):
    with ihuyi_at(fake_provider.url):
        log = django_huyi_sms.send_sms(MOBILE, template=1, variables=["482913"], redact=["482913"])
    assert fake_provider.requests[0].form["content"] == "482913"  # the provider gets it
    stored = SmsLog.objects.get(pk=log.pk)
    assert stored.variables == ["******"] and "482913" not in stored.content
    assert stored.content == "您的验证码是：******。请不要把验证码泄露给其他人。"
    assert stored.carries_code
    SmsLog.objects.filter(pk=log.pk).update(status=SmsLog.Status.FAILED)
    with pytest.raises(sending.NotResendable):  # a starred code is never sent again
        sending.resend(SmsLog.objects.get(pk=log.pk))


def test_the_console_backend_names_the_template():
    stream = io.StringIO()
    message = OutgoingSms(product="sms", mobile=MOBILE, content="您的验证码是：1234。", templateid=1, variables=("1234",))
    ConsoleBackend(stream=stream).send(message)
    assert "template #1, 1 part" in stream.getvalue() and "您的验证码是：1234。" in stream.getvalue()


def test_the_client_alone_sends_a_template_1_send(fake_provider):
    fake_provider.answer_json(code=2, msg="提交成功", smsid="9")
    client = IhuyiClient("C1", "k", fake_provider.url, clock=lambda: 1451544941)
    client.submit(MOBILE, "1234", templateid=1)
    form = fake_provider.requests[0].form
    assert (form["templateid"], form["content"]) == ("1", "1234")
    assert form["password"] == dynamic_password("C1", "k", MOBILE, "1234", "1451544941")
    with pytest.raises(HuyiContentError) as too_long:
        client.submit(MOBILE, "123456789", templateid=1)
    with pytest.raises(HuyiContentError) as two:
        client.submit(MOBILE, "1234|5678", templateid=1)
    assert (too_long.value.code, two.value.code) == (40722, 4072)
    with pytest.raises(TypeError):
        client.submit(MOBILE, "1234", templateid="1")  # type: ignore[arg-type]
    assert len(fake_provider.requests) == 1


# -- refused before any call, nothing written ------------------------------------------------------


@pytest.mark.parametrize(
    "template, variables, code",
    [
        (1, [], 4072),
        (1, ["1234", "5678"], 4072),
        (1, ["123456789"], 40722),  # template 1 is a verification template: at most 8
        (5001, ["20180515006"], 4072),
        (5001, ["2018|0515006", "张三"], 4072),  # the provider would read three values
        (5001, ["A1", "😀"], 4074),
        (5001, ["A1", "【x】"], 4070),
        (5001, ["A1", "x" * 290], 4073),  # what it renders is over 300 characters
        (5001, ["A1", "  "], None),  # an empty variable: the provider documents no code
        (5001, ["A1", "a\x00b"], None),
        (9999, ["A1"], 4071),  # no such template
        (5002, ["A1"], 4071),  # pending review
        (5003, ["A1"], 4071),  # rejected
        (5004, ["A1"], 4071),  # another product's
        (5005, ["123456789"], 40722),  # a recorded verification template
    ],
)
def test_what_the_provider_would_refuse_is_refused_first(template, variables, code, fake_provider):
    approved()
    approved("订单【变量】", templateid=5002, status=SmsTemplate.Status.PENDING)
    approved("订单【变量】", templateid=5003, status=SmsTemplate.Status.REJECTED)
    approved("订单【变量】", templateid=5004, product="marketing")
    approved("【变量】为您的登录验证码，请勿告诉他人。", templateid=5005)
    with ihuyi_at(fake_provider.url), pytest.raises(HuyiContentError) as refused:
        django_huyi_sms.send_sms(MOBILE, template=template, variables=variables)
    assert refused.value.code == code
    with ihuyi_at(fake_provider.url), pytest.raises(HuyiContentError):
        django_huyi_sms.enqueue_sms(MOBILE, template=template, variables=variables)
    assert fake_provider.requests == []
    assert SmsLog.objects.count() == 0


def test_a_long_variable_of_a_template_that_is_not_for_codes_is_sent():
    approved("您的订单【变量】已发货。", templateid=42)
    assert django_huyi_sms.send_sms(MOBILE, template=42, variables=["2018051500612345"]).status == "submitted"


@pytest.mark.parametrize(
    "arguments, error",
    [
        ({"content": "您好", "template": 1, "variables": ["1234"]}, ValueError),
        ({"content": "您好", "variables": ["1234"]}, ValueError),
        ({"template": 1, "variables": "1234"}, TypeError),  # a string would be one variable a character
        ({"template": 1, "variables": [1.5]}, TypeError),
        ({"template": "1", "variables": ["1234"]}, TypeError),
        ({"template": True, "variables": ["1234"]}, TypeError),
        ({"template": 0, "variables": ["1234"]}, ValueError),
        ({"template": 2**63, "variables": ["1234"]}, ValueError),
    ],
)
def test_arguments_of_the_wrong_kind_are_programming_errors(arguments, error):
    with pytest.raises(error):
        django_huyi_sms.send_sms(MOBILE, **arguments)
    assert SmsLog.objects.count() == 0 and django_huyi_sms.outbox == []


def test_a_template_row_without_an_id_is_not_sent():
    with pytest.raises(HuyiContentError) as refused:
        django_huyi_sms.send_sms(MOBILE, template=SmsTemplate(content="订单【变量】", status="approved"), variables=["1"])
    assert refused.value.code == 4071


# -- the queue and resends send the template again --------------------------------------------------


def test_a_queued_template_send_goes_out_as_a_template_send(dummy_queue, fake_provider, django_capture_on_commit_callbacks):
    approved()
    with ihuyi_at(fake_provider.url, QUEUE={"RETRIES": 0}):
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            log = django_huyi_sms.enqueue_sms(MOBILE, template=5001, variables=["20180515006", "张三"])
        queued = SmsLog.objects.get(pk=log.pk)
        assert (queued.status, queued.templateid, queued.variables) == ("queued", 5001, ["20180515006", "张三"])
        assert fake_provider.requests == []
        assert run_queued_tasks(dummy_queue) == 1
    form = fake_provider.requests[0].form
    assert (form["templateid"], form["content"]) == ("5001", "20180515006|张三")
    log.refresh_from_db()
    assert log.status == SmsLog.Status.SUBMITTED and log.content == "订单号：20180515006，联系人：张三。"


def test_a_failed_template_send_is_resent_by_its_template(fake_provider):
    approved()
    fake_provider.answer_json(code=4051, msg="剩余条数不足", smsid="0")
    with ihuyi_at(fake_provider.url):
        old = django_huyi_sms.send_sms(MOBILE, template=5001, variables=["A1", "张三"], fail_silently=True)
        assert old.status == SmsLog.Status.FAILED
        fake_provider.answer_json(code=2, msg="提交成功", smsid="77")
        new = sending.resend(old)
    assert new.status == SmsLog.Status.SUBMITTED and (new.templateid, new.variables) == (5001, ["A1", "张三"])
    assert [(r.form["templateid"], r.form["content"]) for r in fake_provider.requests] == [("5001", "A1|张三")] * 2


def test_a_template_rejected_since_is_not_resent(fake_provider):
    template = approved()
    fake_provider.answer_json(code=4051, msg="剩余条数不足", smsid="0")
    with ihuyi_at(fake_provider.url):
        old = django_huyi_sms.send_sms(MOBILE, template=5001, variables=["A1", "张三"], fail_silently=True)
        SmsTemplate.objects.filter(pk=template.pk).update(status=SmsTemplate.Status.REJECTED)
        with pytest.raises(HuyiContentError) as refused:
            sending.resend(old)
    assert refused.value.code == 4071 and len(fake_provider.requests) == 1
    assert SmsLog.objects.count() == 1


def test_a_template_knows_its_variables():
    template = approved("【互亿无线】您的验证码是：【变量1】，【变量2】分钟内有效。")
    assert (template.variable_count, template.is_verification) == (2, True)
    assert template.render(["1234", 5]) == "【互亿无线】您的验证码是：1234，5分钟内有效。"
    with pytest.raises(HuyiContentError):
        template.render(["123456789", 5])
    assert not approved("您的订单【变量】已发货。", templateid=43).is_verification


def test_locmem_records_the_template_for_the_sites_own_tests():
    with override_settings(HUYI_SMS={"BACKEND": LOCMEM}):
        django_huyi_sms.send_sms(MOBILE, template=1, variables=["5678"])
    assert [(m.templateid, m.variables) for m in django_huyi_sms.outbox] == [(1, ("5678",))]
