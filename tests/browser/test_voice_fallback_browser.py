""""Receive a voice call instead" in a real browser: the offer the pages render, with the script they
load (countdown.js), stays hidden while the SMS has its time and shows when the time has come.

The page is rendered here, from the app's own template and script, and handed to chromium as it is:
the browser tests' chromium runs an event loop in this thread, where the test database cannot be
used, and the example site's fallback takes 30 seconds. test_voice_fallback_pages.py covers the rest
of the pages' behaviour (when the offer is made, what a press does) without a browser.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.template.loader import render_to_string

import django_huyi_sms

pytestmark = pytest.mark.browser

SCRIPT = Path(django_huyi_sms.__file__).parent / "static/django_huyi_sms/countdown.js"


def page_with_offer(voice_in: int) -> str:
    offer = render_to_string(
        "django_huyi_sms/includes/voice_fallback.html",
        {"voice_in": voice_in, "send_voice_code_name": "send_voice_code"},
    )
    style = render_to_string("django_huyi_sms/includes/style.css")
    return (
        f"<!doctype html><html><head><style>{style}</style></head><body>"
        f'<form class="huyi-form" method="post">{offer}</form>'
        f"<script>{SCRIPT.read_text()}</script></body></html>"
    )


def test_the_offer_shows_when_the_sms_has_had_its_time(page, artifacts_dir):
    page.set_content(page_with_offer(2))
    offer = page.locator("div.huyi-voice[role=status]")
    started = time.monotonic()
    assert offer.count() == 1 and offer.is_hidden()
    assert page.locator("noscript").count() == 1  # not drawn: scripting is on
    offer.wait_for(state="visible", timeout=6_000)
    assert time.monotonic() - started >= 1.5  # not before its time
    button = offer.locator("button[name=send_voice_code]")
    assert button.is_visible() and button.is_enabled()
    page.screenshot(path=str(artifacts_dir / "otp-voice-fallback-offered.png"), full_page=True)


def test_an_offer_due_now_is_shown_at_once(page):
    page.set_content(page_with_offer(0))
    assert page.locator("div.huyi-voice[role=status] button[name=send_voice_code]").is_visible()
