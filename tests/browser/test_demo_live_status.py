"""The demo's home page in a real browser: after "send" the result is in view, and its status
turns delivered without a reload."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

pytestmark = pytest.mark.browser

TEXT = "您的验证码是：314159。请不要把验证码泄露给其他人。"
BADGE = "#last-send .status"


def test_the_result_is_in_view_and_turns_delivered_without_a_reload(example_site, page, artifacts_dir):
    mobile = "13700137002"
    database = example_site.env["DATABASE_URL"].removeprefix("sqlite:///")
    # The receipt must not come before the page shows "submitted", or nothing is left to see change.
    # Its push writes to the database: hold the write lock from the moment the send's answer
    # is in (the sandbox pushes a second later) until the page has shown it.
    holder: dict[str, Any] = {}

    def send_then_hold_the_receipt(route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        answer = route.fetch(max_redirects=0)
        writer = sqlite3.connect(database, timeout=20, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")
        holder["writer"] = writer
        route.fulfill(response=answer)

    page.goto(f"{example_site.url}/")
    page.fill("input[name=mobile]", mobile)
    page.fill("textarea[name=content]", TEXT)
    page.route(f"{example_site.url}/", send_then_hold_the_receipt)
    try:
        with page.expect_navigation():
            page.click("form.card button[type=submit]")
        page.unroute(f"{example_site.url}/")
        page.evaluate("window.notReloaded = true")

        assert page.url.endswith("/#send")
        # In view where the person is looking, with nothing scrolled by hand: the result, and the text sent.
        in_view = page.evaluate(
            """() => [document.querySelector('#last-send'), document.querySelector('textarea[name=content]')]
                 .map(element => element.getBoundingClientRect())
                 .every(box => box.top >= 0 && box.bottom <= window.innerHeight)"""
        )
        assert in_view
        assert page.input_value("textarea[name=content]") == TEXT
        badge = page.locator(BADGE)
        assert badge.get_attribute("data-status") == "submitted", example_site.log_tail()
        submitted_label = badge.inner_text()
        page.screenshot(path=str(artifacts_dir / "demo-home-submitted.png"))
    finally:
        writer = holder.pop("writer", None)
        if writer is not None:
            writer.execute("COMMIT")
            writer.close()

    # Now the receipt is stored; the page follows it without a reload.
    page.wait_for_selector(f'{BADGE}[data-status="delivered"]')
    assert page.evaluate("window.notReloaded") is True
    assert page.locator(BADGE).get_attribute("class") == "status status-delivered"
    delivered_label = page.locator(BADGE).inner_text()
    assert delivered_label and delivered_label != submitted_label  # a word, not a colour alone
    page.screenshot(path=str(artifacts_dir / "demo-home-delivered.png"))
