"""Sends matched against approved templates: the variables ihuyi documents, as the vendor's examples use them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from django_huyi_sms.client import parse_reply
from django_huyi_sms.sandbox.gateway import SandboxGateway

ACCOUNT = "C1234"
KEY = "sandbox-key-1234"


def submit(gateway: SandboxGateway, content: str, mobile: str = "13800138000") -> int:
    fields = {"account": ACCOUNT, "password": KEY, "mobile": mobile, "content": content, "format": "json"}
    _type, body = gateway.handle("sms", "Submit", fields)
    return int(parse_reply(body, "Submit")["code"])


@pytest.fixture
def gateway() -> Iterator[SandboxGateway]:
    templates = [
        "订单号：【变量1】，联系人：【变量2】。",  # ihuyi-api.md's multi-variable template
        "【变量1】您好，您的包裹已到【变量2】。",  # begins with a variable, not with a signature
        "您的订单【变量】已发货。",
        "您的验证码是：【变量1】，【变量2】分钟内有效。",
    ]
    with SandboxGateway(accounts={ACCOUNT: KEY}, templates={ACCOUNT: templates}, receipt_delay=3600) as gateway:
        yield gateway


def test_numbered_variables_are_variables(gateway: SandboxGateway) -> None:
    # The vendor's own example: templateid …, content=20180515006|张三 — an 11-character order number.
    assert submit(gateway, "订单号：20180515006，联系人：张三。【互亿无线】", "13800138001") == 2
    assert submit(gateway, "张三您好，您的包裹已到北京。【互亿无线】", "13800138002") == 2
    assert submit(gateway, "订单号：20180515006，收件人：张三。【互亿无线】", "13800138003") == 4072


def test_only_a_verification_templates_variable_is_capped_at_eight(gateway: SandboxGateway) -> None:
    assert submit(gateway, "您的订单2018051500612345已发货。", "13800138004") == 2
    assert submit(gateway, "您的验证码是：12345678，5分钟内有效。", "13800138005") == 2
    assert submit(gateway, "您的验证码是：123456789，5分钟内有效。", "13800138006") == 40722
