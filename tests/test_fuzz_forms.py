"""Fuzz every HTML form the app serves: no 5xx, and a form's action is written whole or not at all.

The code pages (sign in, password reset and its confirmation, verify phone), the admin's
pages that write (send from a template, submit a template, add an opt-out) and the
bulk send's page with its filters, and the sandbox's reply and review forms. Each gets
its real fields bent — dropped, repeated, replaced by odd text (lone surrogates, NUL,
escapes), extra ones added — as form fields or multipart, in every charset a body
may name. A refused form (400) writes nothing; any answer writes nothing or what one
whole action of the page writes.

The quick form runs in the normal suite, the long one is marked slow; both are derandomized.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

import django_huyi_sms
from django_huyi_sms import otp
from django_huyi_sms.exceptions import HuyiError
from django_huyi_sms.models import BulkSend, SmsLog
from django_huyi_sms.sandbox.state import get_gateway
from django_huyi_sms.views import RESET_MOBILE_SESSION_KEY, SEND_CODE, SEND_VOICE_CODE

from .flow_helpers import MOBILE, OTHER_MOBILE, last_code, make_user
from .fuzz_helpers import (
    CHARSETS,
    FUZZ,
    as_form,
    as_multipart,
    at_length,
    bent_pairs,
    changes,
    content_type,
    row_counts,
    writes_one_of,
)

pytestmark = pytest.mark.django_db

NOTHING: dict[str, set[int]] = {}
# A code asked for: its record, its SMS (none for a number with no account), the number's throttle row.
CODE_ISSUED = {"OtpRecord": {1}, "SmsLog": {0, 1}, "OtpThrottle": {0, 1}}
# A code used (an UPDATE): a phone verified gets its link.
CODE_USED = {"UserMobile": {0, 1}}
CODE_PAGES = [NOTHING, CODE_ISSUED, CODE_USED]


@dataclass(frozen=True)
class Form:
    """A form of the app: where it posts, its real fields, and what one whole submission may write."""

    url: Callable[[], str]
    good: Callable[[], dict[str, str]]
    writes: list[dict[str, set[int]]]
    # Names worth adding besides odd ones: the page's buttons and the fields of its other forms.
    extra_names: tuple[str, ...] = ()
    method: str = "POST"
    # For the sandbox's forms: what its gateway holds, which must change only with a success (a redirect).
    gateway_state: Callable[[], Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def code_for(purpose: str) -> str:
    """A real code for ``MOBILE``, as a person would type it (asked for now if none was sent)."""
    if not any(message.mobile == MOBILE for message in django_huyi_sms.outbox):
        try:
            otp.request_code(MOBILE, purpose=purpose)
        except HuyiError:
            return "123456"
    return last_code(MOBILE)


def admin_url(name: str, *args: Any) -> Callable[[], str]:
    return lambda: reverse(f"admin:{name}", args=args)


def bulk_page() -> str:
    bulk = BulkSend.objects.first()
    return reverse("admin:huyi_sms_bulksend_change", args=[bulk.pk]) if bulk else reverse("admin:index")


def templates_under_review() -> str:
    return get_gateway().templates[0].templateid if get_gateway().templates else "1"


FORMS: dict[str, Form] = {
    "login": Form(
        lambda: reverse("huyi_sms:login"),
        lambda: {"mobile": MOBILE, "code": code_for("login")},
        CODE_PAGES,
        (SEND_CODE, SEND_VOICE_CODE, "next"),
    ),
    "password_reset": Form(lambda: reverse("huyi_sms:password_reset"), lambda: {"mobile": MOBILE}, CODE_PAGES),
    "password_reset_confirm": Form(
        lambda: reverse("huyi_sms:password_reset_confirm"),
        lambda: {"code": code_for("password_reset"), "new_password1": "Brand-new-passw0rd", "new_password2": "Brand-new-passw0rd"},
        CODE_PAGES,
        (SEND_CODE, SEND_VOICE_CODE),
    ),
    "verify_phone": Form(
        lambda: reverse("huyi_sms:verify_phone"),
        lambda: {"mobile": MOBILE, "code": code_for("verify_phone")},
        CODE_PAGES,
        (SEND_CODE, SEND_VOICE_CODE),
    ),
    "admin_send_template": Form(
        admin_url("huyi_sms_smslog_send_template"),
        lambda: {"template": "sms:1", "mobile": OTHER_MOBILE, "variables": "1234", "once": "x"},
        [NOTHING, {"SmsLog": {1}}],
    ),
    "admin_submit_template": Form(
        admin_url("huyi_sms_smstemplate_add"),
        lambda: {"product": "sms", "content": "您的验证码是：【变量】。"},
        [NOTHING, {"SmsTemplate": {1}}],
    ),
    "admin_add_opt_out": Form(
        admin_url("huyi_sms_optout_add"), lambda: {"mobile": OTHER_MOBILE, "_save": "Save"}, [NOTHING, {"OptOut": {1}}]
    ),
    # The bulk send's page: its filters are the address's (status, batch, page).
    "admin_bulk_page": Form(bulk_page, lambda: {"status": "queued", "batch": "0", "p": "1"}, [NOTHING], method="GET"),
    "admin_sends_by_bulk": Form(
        admin_url("huyi_sms_smslog_changelist"), lambda: {"bulk": str(BulkSend.objects.first().pk)}, [NOTHING], method="GET"
    ),
    "sandbox_reply": Form(
        lambda: reverse("huyi_sandbox:phone", kwargs={"mobile": MOBILE}),
        lambda: {"content": "TD"},
        [NOTHING],
        gateway_state=lambda: len(get_gateway().replies_for(MOBILE)),
    ),
    "sandbox_review": Form(
        lambda: reverse("huyi_sandbox:review_template"),
        lambda: {"templateid": str(templates_under_review()), "decision": "approve", "msg": "ok"},
        [NOTHING],
        gateway_state=lambda: [(template.templateid, template.status) for template in get_gateway().templates],
    ),
}
NAMES = sorted(
    {name for form in FORMS.values() for name in (*form.extra_names, "csrfmiddlewaretoken", "x", "")}
    | {"mobile", "code", "new_password1", "new_password2", "template", "variables", "once", "content", "product"}
    | {"templateid", "decision", "msg", "status", "batch", "p", "bulk", "_save"}
)


SANDBOX_ACCOUNT, SANDBOX_KEY = "C1234", "sandbox-key-1234"


@pytest.fixture
def client(settings):
    settings.HUYI_SMS = {
        **settings.HUYI_SMS,
        # Not what this fuzzes, and they would soon refuse every code.
        "RATELIMITS": {"REQUEST_CODE": None, "VERIFY_CODE": None},
        "SANDBOX": {"ACCOUNTS": {SANDBOX_ACCOUNT: SANDBOX_KEY}},
    }
    user = make_user(is_staff=True, is_superuser=True)
    client = Client(raise_request_exception=False)
    client.user = user
    # Something for the bulk page and the sandbox's review form to show.
    django_huyi_sms.send_bulk([MOBILE, OTHER_MOBILE], "【商城】周末全场五折。")
    params = {"account": SANDBOX_ACCOUNT, "password": SANDBOX_KEY, "content": "您的验证码是：【变量】。"}
    get_gateway().handle("sms", "AddTemplate", params)
    return client


def signed_in(client: Client) -> None:
    """The client signed in (a password reset or a sign-in can end the session), on the reset's second page."""
    client.force_login(client.user)
    session = client.session
    session[RESET_MOBILE_SESSION_KEY] = MOBILE
    session.save()


@st.composite
def submissions(draw: st.DrawFn, form: Form) -> tuple[list[tuple[str, object]], str, str]:
    """The form's fields bent, how they are sent (form fields or multipart) and in which charset."""
    pairs = draw(bent_pairs(form.good(), [*NAMES, *form.extra_names]))
    shape = draw(st.sampled_from(["form", "multipart"]))
    return pairs, shape, draw(st.sampled_from(CHARSETS))


def submit(client: Client, form: Form, pairs: list[tuple[str, object]], shape: str, charset: str | None) -> Any:
    if form.method == "GET":
        # The address's filters: odd text as a browser would send it, percent-escaped.
        return client.get(form.url() + "?" + as_form(pairs).decode())
    if shape == "form":
        body, media_type = as_form(pairs), "application/x-www-form-urlencoded"
    else:
        body, media_type = as_multipart(pairs), "multipart/form-data; boundary=x"
    return client.generic("POST", form.url(), data=body, content_type=content_type(media_type, charset))


def check(client: Client, name: str, pairs: list[tuple[str, object]], shape: str, charset: str | None) -> None:
    form = FORMS[name]
    before = row_counts()
    state = form.gateway_state() if form.gateway_state else None
    response = submit(client, form, pairs, shape, charset)
    assert response.status_code < 500, (name, response.status_code, shape, charset, pairs)
    changed = changes(before, row_counts())
    allowed = [NOTHING] if response.status_code >= 400 else form.writes
    assert writes_one_of(changed, *allowed), (name, response.status_code, changed, pairs)
    if form.gateway_state is not None and response.status_code != 302:
        assert form.gateway_state() == state, (name, response.status_code, pairs)


def fuzz(client: Client, name: str, examples: int) -> None:
    @settings(FUZZ, max_examples=examples)
    @given(batch=st.lists(submissions(FORMS[name]), min_size=3, max_size=3))
    def cases(batch: list[tuple[list[tuple[str, object]], str, str]]) -> None:
        from django_huyi_sms.models import OtpThrottle

        OtpThrottle.objects.all().delete()
        signed_in(client)
        for pairs, shape, charset in batch:
            check(client, name, pairs, shape, charset)

    cases()


def test_the_fuzz_has_something_to_show(client):
    assert BulkSend.objects.exists() and SmsLog.objects.filter(bulk__isnull=False).count() == 2
    assert len(get_gateway().templates) == 1


@pytest.mark.parametrize("name", FORMS)
def test_forms(client, name):
    # 11 forms × 10 examples × 3 submissions = 330 cases.
    fuzz(client, name, 10)


@pytest.mark.slow
@pytest.mark.parametrize("name", FORMS)
def test_forms_at_length(client, name):
    # 11 forms × 100 examples × 3 submissions = 3,300 cases (a quarter in CI: at_length).
    fuzz(client, name, at_length(100))


# What the fuzz found: the admin's and the sandbox's forms read request.POST with no check, and a
# charset that is no text encoding (or that cannot decode with errors="replace") was a 500 there.
@pytest.mark.parametrize("name", [name for name, form in FORMS.items() if form.method == "POST"])
@pytest.mark.parametrize("charset", ["undefined", "rot13", "idna"])
def test_a_form_in_a_charset_no_form_can_be_read_in_is_400_saying_so(client, name, charset):
    signed_in(client)
    form = FORMS[name]
    fields = list(form.good().items())
    before = row_counts()
    response = submit(client, form, fields, "multipart", charset)
    assert response.status_code == 400, (response.status_code, response.content[:200])
    assert charset.upper() in response.content.decode()
    assert row_counts() == before
