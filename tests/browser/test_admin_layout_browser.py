"""The sends list at 1280×800 beside Django's admin sidebar: every column in view, no cell past two lines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.browser

# Rows of every product in every status, with the longest values a list meets: a long text, an
# international number, a long refusal and receipt. Marked so that they are removed afterwards.
MARK = "【布局测试】"
ROWS = f"""
from datetime import timedelta
from django.utils import timezone
from django_huyi_sms.models import Product, SmsLog

now = timezone.now()
for index, (product, status) in enumerate((p, s) for p in Product.values for s in SmsLog.Status.values):
    submitted = now - timedelta(minutes=index + 1)
    finished = status in ("delivered", "undelivered")
    SmsLog.objects.create(
        product=product,
        mobile="44 7400123456" if product == "international" else "1380013%04d" % index,
        status=status,
        content={MARK!r} + "您的订单已发货，请注意查收。如有疑问请致电客服热线 400-000-0000。" * 3,
        parts=3,
        smsid="" if status == "queued" else str(7_000_000 + index),
        provider_code={{"failed": 4085, "queued": None, "unknown": None}}.get(status, 2),
        provider_msg={{"failed": "同一手机号验证码短信发送超出5条", "unknown": "no answer from the provider (timeout)",
                       "queued": ""}}.get(status, "提交成功"),
        receipt_code={{"delivered": "DELIVRD", "undelivered": "MK:0001"}}.get(status, ""),
        receipt_msg={{"delivered": "用户已成功收到短信", "undelivered": "空号或停机，运营商返回失败"}}.get(status, ""),
        purpose="password_reset",
        submitted_at=None if status == "queued" else submitted,
        delivered_at=submitted + timedelta(minutes=61, seconds=7) if finished else None,
    )
"""

MEASURE = """() => {
  const table = document.querySelector('#result_list');
  const cells = [...table.querySelectorAll('thead th, tbody td')].map(cell => {
    // A header's label is a padded box in its .text; a body cell is the box itself.
    const box = cell.querySelector('.text > a, .text > span') || cell;
    const style = getComputedStyle(box);
    const padding = parseFloat(style.paddingTop) + parseFloat(style.paddingBottom);
    // A header's line height is "normal": one line is about its font size times 1.2.
    const line = style.lineHeight === 'normal' ? parseFloat(style.fontSize) * 1.2 : parseFloat(style.lineHeight);
    const height = box.getBoundingClientRect().height - padding;
    return {cls: cell.className, text: cell.innerText.slice(0, 40), lines: height / line};
  });
  return {
    table: table.scrollWidth, container: table.parentElement.clientWidth,
    page: document.documentElement.scrollWidth, viewport: window.innerWidth,
    sidebar: !!document.querySelector('#nav-sidebar') && getComputedStyle(document.querySelector('#nav-sidebar')).display !== 'none',
    cells,
  };
}"""


@pytest.fixture
def every_kind_of_send(example_site) -> Iterator[None]:
    example_site.manage("shell", "-c", ROWS)
    try:
        yield
    finally:
        example_site.manage("shell", "-c", f"from django_huyi_sms.models import SmsLog; "
                                           f"SmsLog.objects.filter(content__startswith={MARK!r}).delete()")


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_the_sends_list_fits_1280_by_800_with_the_sidebar_open(example_site, chromium, every_kind_of_send,
                                                               artifacts_dir, locale):
    context = chromium.new_context(locale=locale, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    page: Any = context.new_page()
    try:
        page.goto(f"{example_site.url}/admin/login/?next=/admin/huyi_sms/smslog/")
        page.fill("input[name=username]", example_site.admin_username)
        page.fill("input[name=password]", example_site.admin_password)
        with page.expect_navigation():
            page.click("input[type=submit]")
        rows = page.locator("#result_list tbody tr")
        assert rows.count() >= 30
        # Every product and every status is on the page.
        html = page.locator("#result_list").inner_html()
        for status in ("queued", "submitted", "delivered", "undelivered", "failed", "unknown"):
            assert f"huyi-status-{status}" in html, status
        for product in ("sms", "marketing", "voice", "voice_notice", "international"):
            assert f"huyi-product-{product}" in html, product

        measured = page.evaluate(MEASURE)
        page.screenshot(path=str(artifacts_dir / f"admin-sends-1280-{locale}.png"))
        assert measured["sidebar"], "the admin's sidebar is open"
        assert measured["table"] <= measured["container"], measured
        assert measured["page"] <= measured["viewport"], measured
        tall = [cell for cell in measured["cells"] if cell["lines"] > 2.2]
        assert not tall, json.dumps(tall, ensure_ascii=False, indent=1)
    finally:
        context.close()
