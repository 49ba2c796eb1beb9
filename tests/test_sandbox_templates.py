"""The sandbox index page's template review form: the way to make the sandbox push a template review."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from django_huyi_sms.client import parse_reply
from django_huyi_sms.sandbox import get_gateway
from django_huyi_sms.sandbox.gateway import SandboxGateway

ACCOUNT = "C1234"
KEY = "sandbox-key-1234"
URL = reverse("huyi_sandbox:review_template")


@pytest.fixture
def gateway(settings: Any) -> Iterator[SandboxGateway]:
    sandbox = {"ACCOUNTS": {ACCOUNT: KEY}, "RECEIPT_DELAY": 0, "RETRY_SCALE": 0.001}
    with override_settings(HUYI_SMS={**settings.HUYI_SMS, "SANDBOX": sandbox}):
        yield get_gateway()


def add_template(gateway: SandboxGateway, content: str) -> int:
    _type, body = gateway.handle("sms", "AddTemplate", {"account": ACCOUNT, "password": KEY, "content": content})
    return int(parse_reply(body, "AddTemplate")["templateid"])


def test_the_index_lists_the_templates_received_with_a_review_form(gateway: SandboxGateway) -> None:
    first = add_template(gateway, "您的验证码是【变量】。")
    second = add_template(gateway, "<b>订单</b>【变量】已发货")
    page = Client().get(reverse("huyi_sandbox:index")).content.decode()
    assert f'name="templateid" value="{first}"' in page and f'name="templateid" value="{second}"' in page
    assert page.index(f'value="{second}"') < page.index(f'value="{first}"')  # the latest first
    assert "&lt;b&gt;订单&lt;/b&gt;" in page and "<b>订单" not in page
    assert 'name="decision" value="approve"' in page and "csrfmiddlewaretoken" in page


@pytest.mark.parametrize("decision, status, code", [("approve", "approved", "2"), ("reject", "rejected", "0")])
def test_a_review_updates_the_template_and_is_pushed(gateway, fake_provider, decision, status, code) -> None:
    fake_provider.reply = b"success"
    gateway.template_url = fake_provider.url
    templateid = add_template(gateway, "您的验证码是【变量】。")
    response = Client().post(URL, {"templateid": str(templateid), "decision": decision, "msg": " 签名未报备 "})
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('huyi_sandbox:index')}?reviewed={templateid}"
    [template] = gateway.templates
    assert (template.status, template.msg) == (status, "签名未报备")
    assert gateway.wait_idle(5)
    [push] = [p for p in gateway.pushes if p.kind == "template"]
    assert push.delivered
    assert fake_provider.requests[-1].form == {"code": code, "msg": "签名未报备", "templateid": str(templateid)}
    page = Client().get(response["Location"]).content.decode()
    assert f"Template {templateid} reviewed." in page


@pytest.mark.parametrize(
    "data",
    [
        {"templateid": "999", "decision": "approve"},  # not a template of the sandbox's
        {"templateid": "abc", "decision": "approve"},
        {"templateid": "-1", "decision": "approve"},
        {"templateid": "1" * 40, "decision": "approve"},
        {"decision": "approve"},
        {"templateid": "{id}", "decision": "maybe"},
        {"templateid": "{id}"},
        {"templateid": "{id}", "decision": "approve", "msg": "x" * 256},
        {"templateid": "{id}\x00", "decision": "approve"},
    ],
)
def test_bad_input_is_a_400_and_changes_nothing(gateway: SandboxGateway, data: dict[str, str]) -> None:
    templateid = add_template(gateway, "您的验证码是【变量】。")
    data = {key: value.replace("{id}", str(templateid)) for key, value in data.items()}
    response = Client().post(URL, data)
    assert response.status_code == 400
    assert 'class="errors"' in response.content.decode()
    assert [t.status for t in gateway.templates] == ["pending"]
    assert gateway.pushes == []


def test_the_form_needs_a_csrf_token_and_a_post(gateway: SandboxGateway) -> None:
    templateid = add_template(gateway, "您的验证码是【变量】。")
    data = {"templateid": str(templateid), "decision": "approve"}
    assert Client(enforce_csrf_checks=True).post(URL, data).status_code == 403
    assert Client().get(URL, data).status_code == 405
    assert [t.status for t in gateway.templates] == ["pending"]
