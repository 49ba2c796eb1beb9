"""``send_sms()`` against (a) a bare ``requests.Session`` posting the same signed form and (b) a
hand-written crash-safe send doing the same durable work, on one database, rounds alternated.

    python -m benchmarks.send_bench sqlite-disk|sqlite-memory|postgres|postgres-async URL

Prints one JSON object: throughput medians and spreads, and the round-by-round ratios.
(b) is what a careful developer would write without this app: INSERT the row (committed, so
a crash mid-send leaves a trace), POST with the same Session, parse, UPDATE the row.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time

from benchmarks.harness import Rounds, drop_pg_database, setup_django
from benchmarks.report import sized

ACCOUNT, API_KEY = "C12345678", "bench-api-key-0123456789abcdef"
MOBILE = "13800138000"
CONTENT = "您的验证码是：123456。请不要把验证码泄露给其他人。"
PER_ROUND, ROUNDS = sized((200, 9), (50, 3))


def main() -> None:
    database, url = sys.argv[1], sys.argv[2]
    pg_name = setup_django(
        database,
        {
            "ACCOUNT": ACCOUNT,
            "API_KEY": API_KEY,
            "API_URL": url,
            "BACKEND": "django_huyi_sms.backends.ihuyi.IhuyiBackend",
            "CALLBACK_TOKEN": "bench",
        },
    )
    try:
        print(json.dumps(run(database, url)))
    finally:
        from django.db import connections

        connections.close_all()
        if pg_name:
            drop_pg_database(pg_name)


def signed_form(content: str) -> dict[str, str]:
    now = str(int(time.time()))
    password = hashlib.md5(f"{ACCOUNT}{API_KEY}{MOBILE}{content}{now}".encode()).hexdigest()
    return {"account": ACCOUNT, "password": password, "mobile": MOBILE, "content": content, "time": now, "format": "json"}


def submit_url_for(url: str) -> str:
    return f"{url}?method=Submit"


def bare_loop(url: str, count: int) -> float:
    """Messages a second for a bare requests.Session posting the signed form, one after another."""
    import requests

    session = requests.Session()
    started = time.perf_counter()
    for _ in range(count):
        reply = session.post(submit_url_for(url), data=signed_form(CONTENT), timeout=10)
        assert json.loads(reply.content)["code"] == 2
    return count / (time.perf_counter() - started)


def run(database: str, url: str) -> dict[str, object]:
    import requests
    from django.db import connection
    from django.utils import timezone

    import django_huyi_sms
    from django_huyi_sms.backends.ihuyi import shared_session

    submit_url = submit_url_for(url)
    session = requests.Session()  # the bare sides' own pooled session, as a developer would use
    table = "huyi_sms_smslog"
    returning = connection.vendor == "postgresql"
    insert_sql = (
        f"INSERT INTO {table} (product, mobile, content, parts, status, smsid, provider_msg, receipt_code, "
        f"receipt_msg, purpose, carries_code, variables, attempts, receipt_waiting, created_at, claimed_at, updated_at) "
        f"VALUES ('sms', %s, %s, 1, 'queued', '', '', '', '', '', false, '[]', 1, false, %s, %s, %s)"
        + (" RETURNING id" if returning else "")
    )
    update_sql = (
        f"UPDATE {table} SET status = 'submitted', smsid = %s, provider_code = %s, provider_msg = %s, "
        f"submitted_at = %s, updated_at = %s WHERE id = %s AND status = 'queued'"
    )

    def bare(count: int) -> None:
        for _ in range(count):
            reply = session.post(submit_url, data=signed_form(CONTENT), timeout=10)
            assert json.loads(reply.content)["code"] == 2

    def hand_written(count: int) -> None:
        with connection.cursor() as cursor:
            for _ in range(count):
                now = timezone.now()
                cursor.execute(insert_sql, [MOBILE, CONTENT, now, now, now])
                row_id = cursor.fetchone()[0] if returning else cursor.lastrowid
                reply = json.loads(session.post(submit_url, data=signed_form(CONTENT), timeout=10).content)
                now = timezone.now()
                cursor.execute(update_sql, [reply["smsid"], reply["code"], reply["msg"], now, now, row_id])

    def ours(count: int) -> None:
        for _ in range(count):
            django_huyi_sms.send_sms(MOBILE, CONTENT)

    shared_session()  # the app's pooled session, made once per process like a site's
    rounds = Rounds({"ours": ours, "bare": bare, "hand": hand_written}, per_round=PER_ROUND, rounds=ROUNDS).run()
    from django_huyi_sms.models import SmsLog

    assert not SmsLog.objects.exclude(status="submitted").exists()
    return {
        "database": database,
        "per_round": PER_ROUND,
        "rounds": ROUNDS,
        "throughput": {name: {"median": rounds.median(name), "spread": rounds.spread(name)} for name in rounds.sides},
        "ratio_bare": rounds.ratio("ours", "bare"),
        "ratio_hand": rounds.ratio("ours", "hand"),
    }


if __name__ == "__main__":
    main()
