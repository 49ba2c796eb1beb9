"""The sends list's "Send from a template" page, and a template send's page in the list."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

import django_huyi_sms
from django_huyi_sms.models import SmsLog, SmsTemplate

from .test_admin_sends import make_staff
from .test_send import ihuyi_at

pytestmark = pytest.mark.django_db

URL = reverse("admin:huyi_sms_smslog_send_template")
CHANGELIST = reverse("admin:huyi_sms_smslog_changelist")
MOBILE = "13800138000"


@pytest.fixture
def templates() -> dict[str, SmsTemplate]:
    def make(templateid: int, content: str, status: str = SmsTemplate.Status.APPROVED, **fields) -> SmsTemplate:
        return SmsTemplate.objects.create(templateid=templateid, content=content, status=status, **fields)

    return {
        "order": make(5001, "订单号：【变量1】，联系人：【变量2】。"),
        "marketing": make(6001, "新品【变量】上市，回TD退订", product="marketing"),
        "pending": make(5002, "待审【变量】", SmsTemplate.Status.PENDING),
        "rejected": make(5003, "驳回【变量】", SmsTemplate.Status.REJECTED),
    }


@pytest.fixture
def sender(client):
    client.force_login(make_staff("sender", "add_smslog"))
    return client


def form_token(client) -> str:
    page = client.get(URL).content.decode()
    return re.search(r'name="once" value="([^"]+)"', page).group(1)


def send(client, template: str, variables: str, mobile: str = MOBILE, once: str | None = None):
    data = {"template": template, "mobile": mobile, "variables": variables, "once": once or form_token(client)}
    return client.post(URL, data)


def test_the_page_offers_template_1_and_the_approved_templates_only(sender, templates) -> None:
    page = sender.get(URL).content.decode()
    options = re.findall(r'<option value="([^"]+)"', page)
    assert options == ["sms:1", "marketing:6001", "sms:5001"]
    assert "#5001 · Verification / notification SMS · 订单号：【变量1】，联系人：【变量2】。 (2 variables)" in page
    assert "待审" not in page and "驳回" not in page
    assert f'href="{URL}"' in sender.get(CHANGELIST).content.decode()


def test_it_needs_the_right_to_add_sms_logs(client, templates) -> None:
    client.force_login(make_staff("viewer"))
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"template": "sms:5001", "mobile": MOBILE, "variables": "A1\n张三", "once": "x"}).status_code == 403
    assert f'href="{URL}"' not in client.get(CHANGELIST).content.decode()
    assert SmsLog.objects.count() == 0 and django_huyi_sms.outbox == []


def test_a_send_goes_out_by_template_and_opens_its_row(sender, templates) -> None:
    response = send(sender, "sms:5001", "20180515006\r\n张三\r\n")
    log = SmsLog.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:huyi_sms_smslog_change", args=[log.pk])
    assert (log.status, log.templateid, log.variables) == ("submitted", 5001, ["20180515006", "张三"])
    assert log.content == "订单号：20180515006，联系人：张三。"
    [message] = django_huyi_sms.outbox
    assert (message.templateid, message.submitted_content) == (5001, "20180515006|张三")
    page = sender.get(response["Location"]).content.decode()
    assert f"Message #{log.pk} sent from template #5001." in page
    assert "20180515006 | 张三" in page and "5001" in page


def test_template_1_and_another_products_template(sender, templates) -> None:
    send(sender, "sms:1", "482913")
    send(sender, "marketing:6001", "手机", mobile="13900139000")
    assert list(SmsLog.objects.order_by("pk").values_list("product", "templateid", "content")) == [
        ("sms", 1, "您的验证码是：482913。请不要把验证码泄露给其他人。"),
        ("marketing", 6001, "新品手机上市，回TD退订"),
    ]


@pytest.mark.parametrize(
    "variables, mobile, complaint",
    [
        ("A1", MOBILE, "[4072]"),
        ("A1\n张三\nx", MOBILE, "[4072]"),
        ("A|1\n张三", MOBILE, "[4072]"),
        ("", MOBILE, "[4072]"),
        ("A1\n张三", "12345", "[406]"),
        ("A1\n😀", MOBILE, "[4074]"),
    ],
)
def test_what_the_provider_would_refuse_is_shown_and_nothing_is_sent(sender, templates, variables, mobile, complaint):
    response = send(sender, "sms:5001", variables, mobile=mobile)
    assert response.status_code == 200
    assert "Not sent: " in response.content.decode() and complaint in response.content.decode()
    assert SmsLog.objects.count() == 0 and django_huyi_sms.outbox == []


@pytest.mark.parametrize(
    "data",
    [
        {"template": "sms:5002", "mobile": MOBILE, "variables": "A1", "once": "t"},  # pending: not offered
        {"template": "sms:9999", "mobile": MOBILE, "variables": "A1", "once": "t"},
        {"template": "x", "mobile": MOBILE, "variables": "A1", "once": "t"},
        {"template": "sms:1", "mobile": MOBILE, "variables": "1234"},  # no token
        {"template": "sms:1", "mobile": "", "variables": "1234", "once": "t"},
        {"template": "sms:1", "mobile": "1" * 65, "variables": "1234", "once": "t"},
        {"template": ["sms:1", "sms:5001"], "mobile": MOBILE, "variables": "1234", "once": "t" * 65},
        {},
    ],
)
def test_a_form_it_cannot_read_is_shown_again_and_sends_nothing(sender, templates, data) -> None:
    response = sender.post(URL, data)
    assert response.status_code == 200 and 'class="errorlist' in response.content.decode()
    assert SmsLog.objects.count() == 0 and django_huyi_sms.outbox == []


def test_a_double_click_sends_once(sender, templates) -> None:
    once = form_token(sender)
    assert send(sender, "sms:5001", "A1\n张三", once=once).status_code == 302
    again = send(sender, "sms:5001", "A1\n张三", once=once)
    assert again.status_code == 200 and "This form has been sent already." in again.content.decode()
    assert SmsLog.objects.count() == 1 and len(django_huyi_sms.outbox) == 1


def test_a_refused_form_can_be_corrected_and_sent(sender, templates) -> None:
    once = form_token(sender)
    assert send(sender, "sms:5001", "A1", once=once).status_code == 200  # 4072: nothing sent
    assert send(sender, "sms:5001", "A1\n张三", once=once).status_code == 302
    assert SmsLog.objects.count() == 1


def test_a_provider_refusal_is_recorded_on_the_row_it_opens(sender, templates, fake_provider) -> None:
    fake_provider.answer_json(code=4051, msg="剩余条数不足", smsid="0")
    with ihuyi_at(fake_provider.url):
        response = send(sender, "sms:5001", "A1\n张三")
    log = SmsLog.objects.get()
    assert response.status_code == 302 and (log.status, log.provider_code) == ("failed", 4051)
    assert fake_provider.requests[0].form["templateid"] == "5001"
    page = sender.get(response["Location"]).content.decode()
    assert f"Message #{log.pk} did not go through (Failed): 4051 剩余条数不足" in page


def test_a_codes_page_shows_its_variables_starred(admin_client) -> None:
    log = django_huyi_sms.send_sms(MOBILE, template=1, variables=["482913"], redact=["482913"])
    page = admin_client.get(reverse("admin:huyi_sms_smslog_change", args=[log.pk])).content.decode()
    assert "482913" not in page and "******" in page
