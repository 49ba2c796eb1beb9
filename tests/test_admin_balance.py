"""The balance on the sends list: per configured product, cached a minute, a failure shown, never a 500."""

from __future__ import annotations

import socket

import pytest
from django.test import override_settings
from django.urls import reverse

from django_huyi_sms import balances, signals
from django_huyi_sms.backends.base import OfflineBackend
from django_huyi_sms.models import OptOut, OtpRecord, SmsLog, SmsTemplate, StatusReceipt, UpstreamReply

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:huyi_sms_smslog_changelist"


@pytest.fixture(autouse=True)
def _fresh_readings():
    balances.forget_balances()
    yield
    balances.forget_balances()


def closed_port_url() -> str:
    """A loopback URL nobody listens on: the provider is unreachable."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/webservice/sms.php"


def ihuyi(url: str, **extra):
    return override_settings(
        HUYI_SMS={"ACCOUNT": "acct", "API_KEY": "secret-api-key", "API_URL": url, "TIMEOUT": 2,
                  "BACKEND": "django_huyi_sms.backends.ihuyi.IhuyiBackend", **extra}
    )


def balance_box(response) -> str:
    page = response.content.decode()
    start = page.index('id="huyi-balances"')
    return page[start : page.index("</div>", start)]  # the box holds no other div


def test_the_balance_of_each_configured_product_is_shown(admin_client, monkeypatch):
    monkeypatch.setattr(OfflineBackend, "balance", 4321)
    box = balance_box(admin_client.get(reverse(CHANGELIST)))
    assert "4321 messages left" in box
    assert "Verification / notification SMS" in box
    assert "huyi-balance-low" not in box


def test_a_balance_under_the_threshold_is_a_warning(admin_client, monkeypatch):
    monkeypatch.setattr(OfflineBackend, "balance", 42)
    box = balance_box(admin_client.get(reverse(CHANGELIST)))
    assert "huyi-balance-low" in box and "Low balance: under 100" in box


def test_the_balance_is_asked_once_a_minute(admin_client, fake_provider):
    fake_provider.answer_json(code=2, msg="查询成功", num=777)
    with ihuyi(fake_provider.url):
        for _ in range(3):
            assert "777 messages left" in balance_box(admin_client.get(reverse(CHANGELIST)))
        assert len(fake_provider.requests) == 1
        balances.forget_balances()
        admin_client.get(reverse(CHANGELIST))
        assert len(fake_provider.requests) == 2


@pytest.mark.parametrize("provider", ["http 500", "closed port", "refusal"])
def test_a_provider_that_cannot_answer_is_shown_as_such_and_every_page_still_answers(
    admin_client, fake_provider, provider
):
    fake_provider.answer_json(code=405, msg="API ID 或 API KEY 不正确", num=0)
    if provider == "http 500":
        fake_provider.status = 500
    url = closed_port_url() if provider == "closed port" else fake_provider.url
    log = SmsLog.objects.create(mobile="13800138000", content="【测试】通知")
    with ihuyi(url):
        response = admin_client.get(reverse(CHANGELIST))
        assert response.status_code == 200
        box = balance_box(response)
        assert "Could not fetch the balance" in box and "huyi-balance-error" in box
        assert "secret-api-key" not in response.content.decode()
        pages = [reverse(CHANGELIST), reverse("admin:huyi_sms_smslog_dashboard"),
                 reverse("admin:huyi_sms_smslog_change", args=[log.pk]), reverse("admin:index"),
                 reverse("admin:huyi_sms_smstemplate_add")]
        pages += [reverse(f"admin:huyi_sms_{m._meta.model_name}_changelist")
                  for m in (SmsTemplate, StatusReceipt, UpstreamReply, OptOut, OtpRecord)]
        for page in pages:
            assert admin_client.get(page).status_code == 200, page
        # Submitting a template while the provider is down: an error on the form, not a 500.
        response = admin_client.post(reverse("admin:huyi_sms_smstemplate_add"),
                                     {"product": "sms", "content": "您的验证码是：【变量】。"})
        assert response.status_code == 200
        assert "The provider did not accept the template" in response.content.decode()
    assert not SmsTemplate.objects.exists()


def test_a_failure_is_cached_too_so_a_dead_provider_costs_one_try_a_minute(admin_client, fake_provider):
    fake_provider.status = 500
    with ihuyi(fake_provider.url):
        admin_client.get(reverse(CHANGELIST))
        admin_client.get(reverse(CHANGELIST))
    assert len(fake_provider.requests) == 1


def test_only_configured_products_are_shown(admin_client, fake_provider):
    fake_provider.answer_json(code=2, msg="查询成功", num=5000)
    with ihuyi(fake_provider.url, PRODUCTS={"marketing": {"ACCOUNT": "m", "API_KEY": "mk", "API_URL": fake_provider.url}}):
        box = balance_box(admin_client.get(reverse(CHANGELIST)))
    assert "Marketing SMS" in box and "Verification / notification SMS" in box
    assert "Voice notice" not in box


def test_low_balance_sends_the_signal_once_per_reading(admin_client, monkeypatch):
    monkeypatch.setattr(OfflineBackend, "balance", 3)
    seen = []

    def receiver(**kwargs):
        seen.append(kwargs["balance"])

    signals.balance_low.connect(receiver)
    try:
        admin_client.get(reverse(CHANGELIST))
        admin_client.get(reverse(CHANGELIST))
    finally:
        signals.balance_low.disconnect(receiver)
    assert seen == [3]
