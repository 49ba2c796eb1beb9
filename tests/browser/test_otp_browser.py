"""The code flows in a real browser, on the example site: ask for a code, read it on the sandbox
phone, sign in; and reset a password the same way."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

# demo_setup gives the demo superuser this number.
ADMIN_MOBILE = "13800138000"


def test_sign_in_with_a_code_read_from_the_sandbox(example_site, page, artifacts_dir):
    page.goto(f"{example_site.url}/sms/login/")
    page.fill("input[name=mobile]", ADMIN_MOBILE)
    with page.expect_navigation():
        page.click("button[name=send_code]")

    # countdown.js has taken the button over: disabled, counting down from the interval.
    button = page.locator("button[name=send_code]")
    assert button.is_disabled()
    assert "60" in button.inner_text() or "59" in button.inner_text()
    page.screenshot(path=str(artifacts_dir / "otp-login-code-sent.png"), full_page=True)

    code = example_site.wait_for_code(ADMIN_MOBILE)
    page.fill("input[name=code]", code)
    with page.expect_navigation():
        page.press("input[name=code]", "Enter")  # Enter signs in: it must not press "send code"
    assert page.url == f"{example_site.url}/"
    assert "admin" in page.locator("header .signed-in").inner_text()


def test_reset_a_password_with_a_code_read_from_the_sandbox(example_site, page, artifacts_dir):
    mobile = "13600136000"
    example_site.manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; "
        "from django_huyi_sms.adapter import get_adapter; "
        "user = get_user_model().objects.create_user('resetter', password='Old-passw0rd!'); "
        f"get_adapter().set_user_mobile(user, '{mobile}')",
    )
    page.goto(f"{example_site.url}/sms/password-reset/")
    page.fill("input[name=mobile]", mobile)
    with page.expect_navigation():
        page.click("form.huyi-form button.huyi-submit")
    assert page.url.endswith("/sms/password-reset/confirm/")

    page.fill("input[name=code]", example_site.wait_for_code(mobile))
    page.fill("input[name=new_password1]", "Brand-new-passw0rd")
    page.fill("input[name=new_password2]", "Brand-new-passw0rd")
    with page.expect_navigation():
        page.click("form.huyi-form button.huyi-submit")
    assert page.url.endswith("/sms/password-reset/complete/")
    page.screenshot(path=str(artifacts_dir / "otp-password-reset-complete.png"), full_page=True)

    checked = example_site.manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; "
        "user = get_user_model().objects.get(username='resetter'); "
        "print(user.check_password('Brand-new-passw0rd'), user.check_password('Old-passw0rd!'))",
    )
    assert checked.strip().splitlines()[-1].split() == ["True", "False"]  # after shell's own banner
