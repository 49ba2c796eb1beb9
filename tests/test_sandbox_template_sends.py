"""The sandbox's template-variable mode: templateid + |-separated variables, rendered and refused as ihuyi does."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client, override_settings
from django.urls import reverse

import django_huyi_sms
from django_huyi_sms.client import IhuyiClient, dynamic_password, parse_reply
from django_huyi_sms.exceptions import HuyiContentError
from django_huyi_sms.models import SmsLog, SmsTemplate
from django_huyi_sms.sandbox import get_gateway
from django_huyi_sms.sandbox.gateway import SandboxGateway
from django_huyi_sms.sandbox.wsgi import serve

ACCOUNT = "C1234"
KEY = "sandbox-key-1234"
MOBILE = "13800138000"
NOW = 1_700_000_000
DEFAULT_TEXT = "您的验证码是：{}。请不要把验证码泄露给其他人。"


@pytest.fixture
def gateway() -> Iterator[SandboxGateway]:
    with SandboxGateway(
        accounts={ACCOUNT: KEY, "other": KEY}, receipt_delay=3600, clock=lambda: NOW, daily_limit=100
    ) as gateway:
        yield gateway


def submit(
    gateway: SandboxGateway, content: str, templateid: str | None = "1", *, mobile: str = MOBILE, **fields: str
) -> dict[str, str]:
    """A Submit signed with a dynamic password over ``content`` as sent."""
    now = int(gateway.clock())
    params = {
        "account": ACCOUNT,
        "mobile": mobile,
        "content": content,
        "time": str(now),
        "password": dynamic_password(ACCOUNT, KEY, mobile, content, now),
        "format": "json",
        **fields,
    }
    if templateid is not None:
        params["templateid"] = templateid
    product = params.pop("product", "sms")
    _type, body = gateway.handle(product, "Submit", params)
    return parse_reply(body, "Submit")


def add_template(gateway: SandboxGateway, content: str, *, approved: bool | None = True, account: str = ACCOUNT) -> int:
    """AddTemplate, then the review (``approved=None``: none yet)."""
    _type, body = gateway.handle("sms", "AddTemplate", {"account": account, "password": KEY, "content": content})
    templateid = int(parse_reply(body, "AddTemplate")["templateid"])
    if approved is not None:
        gateway.review_template(templateid, approved=approved)
    return templateid


def test_template_1_renders_the_variable_into_the_default_text(gateway: SandboxGateway) -> None:
    reply = submit(gateway, "1234")
    assert reply["code"] == "2"
    [message] = gateway.messages_for(MOBILE)
    assert message.content == DEFAULT_TEXT.format("1234")  # not the bare "1234" it delivered before
    assert (message.templateid, message.smsid, message.verification) == (1, reply["smsid"], True)
    assert gateway.latest_code(MOBILE) == "1234"


def test_the_dynamic_password_covers_the_variables_as_sent_not_the_rendered_text(gateway: SandboxGateway) -> None:
    over_rendered = dynamic_password(ACCOUNT, KEY, MOBILE, DEFAULT_TEXT.format("1234"), NOW)
    assert submit(gateway, "1234", password=over_rendered)["code"] == "40502"
    assert submit(gateway, "1234")["code"] == "2"


def test_an_approved_template_is_rendered_by_its_id_in_the_variables_order(gateway: SandboxGateway) -> None:
    templateid = add_template(gateway, "订单号：【变量1】，联系人：【变量2】。")
    assert templateid > 1  # 1 is the built-in default's
    assert submit(gateway, "20180515006|张三", str(templateid))["code"] == "2"
    assert gateway.messages_for(MOBILE)[0].content == "订单号：20180515006，联系人：张三。"
    assert gateway.messages_for(MOBILE)[0].templateid == templateid


def test_configured_templates_are_numbered_and_sendable_too() -> None:
    with SandboxGateway(accounts={ACCOUNT: KEY}, templates={ACCOUNT: ["您的订单【变量】已发货。"]}) as gateway:
        [template] = gateway.templates
        assert (template.templateid, template.status) == (2, "approved")
        assert submit(gateway, "2018051500612345", "2")["code"] == "2"  # not a code: no 8-character cap
        assert gateway.messages_for(MOBILE)[0].content == "您的订单2018051500612345已发货。"


@pytest.mark.parametrize(
    "content, templateid, code",
    [
        ("1234", "999", 4071),  # no such template
        ("1234", "abc", 4071),
        ("1234", "0", 4071),
        ("1234", "-2", 4071),
        ("1234", "{pending}", 4071),
        ("1234", "{rejected}", 4071),
        ("1234", "{others}", 4071),  # another account's
        ("1234|5678", "1", 4072),
        ("A1", "{order}", 4072),
        ("A1|张三|x", "{order}", 4072),
        ("123456789", "1", 40722),
        ("12345678", "1", 2),
        ("", "1", 404),
        ("😀", "1", 4074),
        ("赌博", "1", 407),  # the rendered text holds a sensitive word
        ("A1| ", "{order}", 0),  # an empty variable: no documented code, the catch-all
    ],
)
def test_refusals_name_the_providers_codes(gateway: SandboxGateway, content: str, templateid: str, code: int) -> None:
    ids = {
        "pending": add_template(gateway, "待审【变量】", approved=None),
        "rejected": add_template(gateway, "驳回【变量】", approved=False),
        "others": add_template(gateway, "别家【变量】", account="other"),
        "order": add_template(gateway, "订单号：【变量1】，联系人：【变量2】。"),
    }
    reply = submit(gateway, content, templateid.format(**ids))
    assert reply["code"] == str(code)
    assert len(gateway.messages_for(MOBILE)) == (1 if code == 2 else 0)


def test_template_1_is_the_sms_products_only(gateway: SandboxGateway) -> None:
    assert submit(gateway, "1234", "1", product="marketing")["code"] == "4071"


def test_a_template_send_is_not_matched_against_the_whole_content_rules() -> None:
    # An account held to its approved texts may still send template 1 by id.
    with SandboxGateway(accounts={ACCOUNT: KEY}, templates={ACCOUNT: []}, clock=lambda: NOW) as gateway:
        assert submit(gateway, DEFAULT_TEXT.format("1234"), None)["code"] == "4071"
        assert submit(gateway, "1234")["code"] == "2"


# -- the app against the sandbox over HTTP: the faithful fake --------------------------------------------


@pytest.fixture
def served() -> Iterator[tuple[SandboxGateway, str]]:
    gateway = SandboxGateway(accounts={ACCOUNT: KEY}, receipt_delay=3600)
    server, _thread = serve(gateway)
    yield gateway, f"http://127.0.0.1:{server.server_address[1]}/webservice/sms.php"
    server.shutdown()
    server.server_close()
    gateway.close()


@pytest.mark.django_db
@pytest.mark.parametrize("sign_mode", ["dynamic", "plain"])
def test_send_sms_by_template_is_rendered_alike_by_the_app_and_the_sandbox(served, sign_mode: str) -> None:
    gateway, url = served
    settings = {
        "ACCOUNT": ACCOUNT,
        "API_KEY": KEY,
        "API_URL": url,
        "SIGN_MODE": sign_mode,
        "BACKEND": "django_huyi_sms.backends.ihuyi.IhuyiBackend",
    }
    with override_settings(HUYI_SMS=settings):
        templateid = django_huyi_sms.add_template("尊敬的【变量1】，您的订单【变量2】已发货。").templateid
        gateway.review_template(templateid, approved=True)
        SmsTemplate.objects.filter(templateid=templateid).update(status=SmsTemplate.Status.APPROVED)
        first = django_huyi_sms.send_sms(MOBILE, template=1, variables=["482913"])
        second = django_huyi_sms.send_sms("13900139000", template=templateid, variables=["张三", "20180515006"])
        with pytest.raises(HuyiContentError) as refused:
            django_huyi_sms.send_sms(MOBILE, template=templateid, variables=["张三"])
    assert refused.value.code == 4072 and SmsLog.objects.count() == 2
    for log, mobile in ((first, MOBILE), (second, "13900139000")):
        [message] = gateway.messages_for(mobile)
        assert log.status == SmsLog.Status.SUBMITTED and log.smsid == message.smsid
        assert log.content == message.content and message.templateid == log.templateid
        assert log.parts == message.parts
    assert first.content == DEFAULT_TEXT.format("482913")
    assert second.content == "尊敬的张三，您的订单20180515006已发货。"


def test_the_client_alone_gets_the_sandboxs_verdict_on_another_template(served) -> None:
    gateway, url = served
    client = IhuyiClient(ACCOUNT, KEY, api_url=url)
    with pytest.raises(HuyiContentError) as refused:
        client.submit(MOBILE, "1234", templateid=77)  # the client cannot know template 77: the sandbox can
    assert refused.value.code == 4071 and gateway.phones() == []


# -- its pages ---------------------------------------------------------------------------------------------


@pytest.fixture
def site_gateway(settings: Any) -> Iterator[SandboxGateway]:
    sandbox = {"ACCOUNTS": {ACCOUNT: KEY}, "RECEIPT_DELAY": 3600}
    with override_settings(HUYI_SMS={**settings.HUYI_SMS, "SANDBOX": sandbox}):
        yield get_gateway()


def test_the_pages_name_the_template_a_message_came_from(site_gateway: SandboxGateway) -> None:
    submit(site_gateway, "246810")
    page = Client().get(reverse("huyi_sandbox:phone", args=[MOBILE])).content.decode()
    assert DEFAULT_TEXT.format("246810") in page and "template 1 ·" in page
    assert re.search(r'class="code"[^>]*>246810<', page)
    index = Client().get(reverse("huyi_sandbox:index")).content.decode()
    assert "Template 1, every account's default verification template, is built in: 您的验证码是：【变量】" in index
    data = Client().get(reverse("huyi_sandbox:phone_json", args=[MOBILE])).json()
    assert data["messages"][0]["templateid"] == 1
