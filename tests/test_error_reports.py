"""Error reports never show a code or the full number it went to.

``AdminEmailHandler(include_html=True)`` and error trackers that record frame
locals print every variable of every frame. A bug while a code is being sent
must not put the code, its text or the full number into such a report.
"""

from __future__ import annotations

import logging

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.log import AdminEmailHandler
from django.views.debug import ExceptionReporter
from rest_framework.test import APIClient

from django_huyi_sms import otp, sending
from django_huyi_sms.backends import OutgoingSms
from django_huyi_sms.backends.base import OfflineBackend
from django_huyi_sms.client import IhuyiClient
from django_huyi_sms.models import SmsLog

from .flow_helpers import MOBILE, make_user
from .test_queue import run_queued_tasks

pytestmark = pytest.mark.django_db

CODE = "905173"
TEXT = "【示例】您的通知：905173，请查收。"


class BrokenBackend(OfflineBackend):
    """A backend with a bug: it raises something that is not a provider error."""

    def send(self, message: OutgoingSms) -> None:  # type: ignore[override]
        raise RuntimeError("bug in a backend")


class CapturingHandler(AdminEmailHandler):
    """The handler of the issue, keeping the HTML it would mail instead of mailing it."""

    def __init__(self) -> None:
        super().__init__(include_html=True)
        self.setLevel(logging.ERROR)
        self.reports: list[str] = []

    def send_mail(self, subject, message, *args, **kwargs):
        self.reports.append(kwargs["html_message"])


@pytest.fixture
def reports(settings):
    settings.HUYI_SMS = {**settings.HUYI_SMS, "BACKEND": f"{__name__}.BrokenBackend"}
    handler = CapturingHandler()
    loggers = [logging.getLogger(name) for name in ("django.request", "django_huyi_sms")]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler.reports
    for logger in loggers:
        logger.removeHandler(handler)


@pytest.fixture
def fixed_code(monkeypatch):
    monkeypatch.setattr(otp, "_new_code", lambda: CODE)


def assert_clean(report: str) -> None:
    assert "Local vars" in report or "Local Vars" in report  # it is a report with frame locals
    assert "_send" in report  # ... of frames that held the code
    assert CODE not in report
    assert MOBILE not in report


def report_of(caught: pytest.ExceptionInfo, *, skip_test_frame: bool = False) -> str:
    traceback = caught.tb.tb_next if skip_test_frame else caught.tb
    return ExceptionReporter(None, caught.type, caught.value, traceback, is_email=True).get_traceback_html()


def test_a_bug_while_an_api_code_is_sent(reports, fixed_code):
    make_user()
    api = APIClient(raise_request_exception=False)
    response = api.post(reverse("huyi_sms:otp_request"), {"mobile": MOBILE, "purpose": "login"}, format="json")
    assert response.status_code == 500
    assert len(reports) == 1
    assert_clean(reports[0])


def test_a_bug_while_a_form_code_is_sent(reports, fixed_code):
    make_user()
    client = Client(raise_request_exception=False)
    response = client.post(reverse("huyi_sms:login"), {"mobile": MOBILE, "send_code": "1"})
    assert response.status_code == 500
    assert len(reports) == 1
    assert_clean(reports[0])
    assert "mobile" in reports[0]  # the POST parameter is listed, its value starred out


def test_a_bug_while_a_code_is_sent_from_code(reports, fixed_code):
    with pytest.raises(RuntimeError) as caught:
        otp.request_code(MOBILE, purpose="verify_phone")
    assert_clean(report_of(caught))


def test_a_bug_while_a_text_is_sent(reports):
    with pytest.raises(RuntimeError) as caught:
        sending.send_sms(MOBILE, TEXT, redact=[CODE])
    report = report_of(caught)
    assert "send_sms" in report
    assert CODE not in report and MOBILE not in report and "请查收" not in report


def test_a_bug_in_a_worker_is_logged_without_the_text(reports, dummy_queue, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        sending.enqueue_sms(MOBILE, TEXT)
    run_queued_tasks(dummy_queue)
    assert SmsLog.objects.get().status == SmsLog.Status.UNKNOWN
    assert len(reports) == 1
    assert "send_queued" in reports[0]
    assert CODE not in reports[0] and MOBILE not in reports[0]


def test_a_bug_under_the_client_alone(monkeypatch, fake_provider):
    from django_huyi_sms import client as client_module

    def broken(*args, **kwargs):
        raise RuntimeError("bug in a parser")

    monkeypatch.setattr(client_module, "parse_reply", broken)
    client = IhuyiClient("C123", "secret-api-key", fake_provider.url)
    with pytest.raises(RuntimeError) as caught:
        client.submit(MOBILE, TEXT)
    report = report_of(caught, skip_test_frame=True)  # the test's own frame holds the fake's record
    assert "submit" in report
    assert CODE not in report and MOBILE not in report and "secret-api-key" not in report


def test_an_outgoing_message_repr_shows_neither_text_nor_number():
    message = OutgoingSms(product="sms", mobile=MOBILE, content=TEXT)
    assert CODE not in repr(message) and MOBILE not in repr(message)
    assert "138****8000" in repr(message)
    bulk = OutgoingSms(product="marketing", mobile=f"{MOBILE},13900139000", content=TEXT)
    assert MOBILE not in repr(bulk) and "13900139000" not in repr(bulk)
