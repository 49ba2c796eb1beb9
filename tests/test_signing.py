"""Dynamic-password signing, checked against the vendor's worked example and what goes on the wire."""

from __future__ import annotations

import hashlib

from django_huyi_sms.client import IhuyiClient, dynamic_password

VENDOR_ACCOUNT = "test"
VENDOR_KEY = "1q784322ba1d9bb88d50cf5cdfd89k7d"
VENDOR_TIME = 1451544941
CONTENT = "您的验证码是：1234。请不要把验证码泄露给其他人。"


def test_vendor_worked_example_getnum():
    # md5("test1q784322ba1d9bb88d50cf5cdfd89k7d1451544941"), computed independently with md5sum.
    assert dynamic_password(VENDOR_ACCOUNT, VENDOR_KEY, VENDOR_TIME) == "73f6e7a36e0fd30ad7eea940ca1896b2"


def test_submit_signature_covers_mobile_and_utf8_content():
    # md5sum over the UTF-8 bytes of account+key+mobile+content+time.
    assert (
        dynamic_password(VENDOR_ACCOUNT, VENDOR_KEY, "13800138000", CONTENT, VENDOR_TIME)
        == "12ce4bbe62605546918312f2f1c65300"
    )


def test_getnum_request_on_the_wire(fake_provider):
    fake_provider.answer_json(code=2, msg="查询成功", num=42)
    client = IhuyiClient(VENDOR_ACCOUNT, VENDOR_KEY, fake_provider.url, clock=lambda: VENDOR_TIME)
    assert client.get_num().num == 42
    request = fake_provider.requests[0]
    assert request.method == "POST"
    assert request.query == {"method": "GetNum"}
    assert request.form == {
        "account": "test",
        "password": "73f6e7a36e0fd30ad7eea940ca1896b2",
        "time": "1451544941",
        "format": "json",
    }


def test_submit_request_on_the_wire(fake_provider):
    fake_provider.answer_json(code=2, msg="提交成功", smsid="14745625541233112231")
    client = IhuyiClient(VENDOR_ACCOUNT, VENDOR_KEY, fake_provider.url, clock=lambda: VENDOR_TIME + 0.9)
    result = client.submit("138-0013-8000", CONTENT)
    assert result.smsid == "14745625541233112231"
    request = fake_provider.requests[0]
    assert request.query == {"method": "Submit"}
    assert request.form["mobile"] == "13800138000"
    assert request.form["content"] == CONTENT
    assert request.form["time"] == "1451544941"  # whole seconds, 10 digits
    assert request.form["password"] == "12ce4bbe62605546918312f2f1c65300"
    assert VENDOR_KEY not in request.raw_body.decode()


def test_plain_mode_sends_the_key_and_no_time(fake_provider):
    fake_provider.answer_json(code=2, msg="提交成功", smsid="9")
    client = IhuyiClient(VENDOR_ACCOUNT, VENDOR_KEY, fake_provider.url, sign_mode="plain")
    client.submit("13800138000", CONTENT)
    form = fake_provider.requests[0].form
    assert form["password"] == VENDOR_KEY
    assert "time" not in form


def test_add_template_signs_with_md5_of_the_key_without_time(fake_provider):
    fake_provider.answer_json(code=2, msg="提交成功", templateid=77)
    client = IhuyiClient(VENDOR_ACCOUNT, VENDOR_KEY, fake_provider.url)
    assert client.add_template("您的验证码是：【变量】。").templateid == 77
    form = fake_provider.requests[0].form
    assert fake_provider.requests[0].query == {"method": "AddTemplate"}
    assert form["password"] == "9a1b194a3d30e6b4e97e6caeecef5ed8"  # md5sum of the key
    assert form["password"] == hashlib.md5(VENDOR_KEY.encode()).hexdigest()
    assert "time" not in form
