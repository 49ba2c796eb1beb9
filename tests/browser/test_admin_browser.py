"""The admin in a real browser: sign in, list the sends, filter by status, open one and see its receipt."""

from __future__ import annotations

import re
import time

import pytest

pytestmark = pytest.mark.browser

MOBILE = "13800138000"
TEXT = "您的验证码是：1234。请不要把验证码泄露给其他人。"


def test_an_operator_finds_a_delivered_send_and_its_receipt(example_site, page, artifacts_dir):
    out = example_site.manage("huyi_send", MOBILE, TEXT)
    smsid = re.search(r"\d{6,}", out).group()  # the sandbox answers like ihuyi: a long numeric smsid

    page.goto(f"{example_site.url}/admin/login/?next=/admin/huyi_sms/smslog/")
    page.fill("input[name=username]", example_site.admin_username)
    page.fill("input[name=password]", example_site.admin_password)
    with page.expect_navigation():
        page.click("input[type=submit]")
    assert page.locator("#result_list").is_visible()
    assert page.locator("#huyi-balances").is_visible()  # the sandbox account's balance

    # The sandbox pushes the delivery receipt back to the site a moment after the send.
    deadline = time.monotonic() + 20
    while True:
        page.click('#changelist-filter a[href*="status__exact=delivered"]')
        page.wait_for_load_state()
        if page.locator("#result_list tbody tr").count():
            break
        assert time.monotonic() < deadline, "no delivered send in the list after 20 s"
        time.sleep(0.5)
        page.goto(f"{example_site.url}/admin/huyi_sms/smslog/")
    assert "status__exact=delivered" in page.url
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    assert rows.first.locator(".huyi-status-delivered").is_visible()
    # A superuser has view_full_mobile: the whole number is shown.
    assert MOBILE in rows.first.inner_text()
    page.screenshot(path=str(artifacts_dir / "admin-sends-delivered.png"), full_page=True)

    with page.expect_navigation():
        rows.first.locator("th a").click()
    assert smsid in page.locator("#content-main").inner_text()
    # The receipt push, inline and read-only: code 2, the operator's DELIVRD.
    codes = page.locator("#receipts-group td.field-code")
    assert codes.count() >= 1
    assert codes.first.inner_text().strip() == "2"
    assert page.locator("#receipts-group td.field-msg").first.inner_text().strip() == "DELIVRD"
    assert page.locator("#receipts-group input[type=text], #receipts-group textarea").count() == 0
    page.screenshot(path=str(artifacts_dir / "admin-send-with-receipt.png"), full_page=True)

    # And the dashboard draws its three charts from today's send, without any script.
    page.goto(f"{example_site.url}/admin/huyi_sms/smslog/dashboard/")
    assert page.locator("svg.huyi-chart").count() == 3
    assert page.locator("svg.huyi-chart rect").count() == 30
    page.screenshot(path=str(artifacts_dir / "admin-dashboard.png"), full_page=True)
