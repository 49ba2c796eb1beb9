"""The demo in a real browser: send from the example site's home page, read it on the sandbox phone."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser

TEXT = "您的验证码是：271828。请不要把验证码泄露给其他人。"


def test_send_from_the_home_page_then_read_it_on_the_sandbox_phone(example_site, page, artifacts_dir):
    mobile = "13700137001"
    page.goto(f"{example_site.url}/")
    page.fill("input[name=mobile]", mobile)
    page.fill("textarea[name=content]", TEXT)
    with page.expect_navigation():
        page.click("form.card button[type=submit]")
    # The home page now shows this send's row: submitted, with ihuyi's smsid.
    assert re.search(r"\d{6,}", page.locator("dl.result").inner_text())

    page.goto(f"{example_site.url}/sms/sandbox/phone/{mobile}/")
    assert TEXT in page.locator(".message .content").first.inner_text()
    assert page.locator(".code").inner_text() == "271828"
    page.screenshot(path=str(artifacts_dir / "demo-sandbox-phone.png"), full_page=True)
