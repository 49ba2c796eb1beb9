"""The example site as ``make demo`` runs it, without a browser: what its own settings must get right."""

from __future__ import annotations

import sqlite3
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest

from django_huyi_sms.conf import SANDBOX_CALLBACK_TOKEN

pytestmark = pytest.mark.browser

CHINA = timezone(timedelta(hours=8))


def test_a_receipt_pushed_while_another_request_writes_is_stored_at_the_first_push(example_site):
    """On SQLite a receipt push must wait for a concurrent writer, not fail with "database is locked".

    A failed push is retried by ihuyi (and the sandbox) only a minute later, so the demo's
    sends would sit ``submitted`` meanwhile. Here another connection holds the write lock
    while the push arrives and commits while the push waits: with SQLite's default deferred
    transactions the push answers 503; the example's settings make it wait its turn.
    """
    database = example_site.env["DATABASE_URL"].removeprefix("sqlite:///")
    writer = sqlite3.connect(database, timeout=20, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # what a login saving its session holds for a moment
    answer: dict[str, object] = {}

    def push() -> None:
        fields = {
            "code": "2",
            "msg": "DELIVRD",
            "mobilephone": "13900139017",
            "smsid": "987654321012345",
            "report_time": datetime.now(CHINA).strftime("%Y-%m-%d %H:%M:%S"),
        }
        request = urllib.request.Request(
            f"{example_site.url}/sms/push/receipt/?token={SANDBOX_CALLBACK_TOKEN}",
            data=urllib.parse.urlencode(fields).encode(),
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                answer.update(status=response.status, body=response.read().decode())
        except urllib.error.HTTPError as error:
            answer.update(status=error.code, body=error.read().decode())

    pusher = threading.Thread(target=push)
    pusher.start()
    time.sleep(1.0)  # the push has read and now waits to write
    writer.execute("COMMIT")
    writer.close()
    pusher.join(30)
    assert answer == {"status": 200, "body": "success"}, example_site.log_tail()
