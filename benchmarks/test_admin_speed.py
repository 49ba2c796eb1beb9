"""The sends list against Django's stock change list of the same model (``make bench``).

Three pages of the same 100 sends (of 1,000), in the same order, for the same operator (a
staff user who may view the sends, not see whole numbers):

* **ours**: the app's ``SmsLogAdmin`` — the five columns with badges, short product labels and
  the outcome line, masked numbers, its filters and search, the balance box;
* **stock**: a plain ``admin.ModelAdmin`` of ``SmsLog`` on an ``AdminSite`` of its own: the same
  fields as plain columns (created, status, product, mobile, content), Django's own filters on
  the same fields, search by mobile or smsid, one action (so that it draws the row checkboxes,
  as ours does);
* **bare**: the same stock columns with no filter, no search: the least a change list costs.

Each side is measured unfiltered, then filtered by status (``?status__exact=failed``: the
filter is carried by every row's link). The pages are asked for as a browser asks (Django's
WSGI handler, a session cookie), not through the test client, which copies the template
context on every template rendered and so charges the stock page, with its two widget
templates a row, for what production never pays. Django's cached template loader is on, as in production
(``DEBUG`` is off and no ``loaders`` are set).

The sides are alternated round by round (ours, stock, bare; stock, bare, ours; …); a round is
``PAGES`` pages. Printed, and written to ``test-artifacts/bench-admin-speed.json``: the median
time a page with the lowest and highest round, in wall-clock time and in this process's CPU
time (the machine is shared: CPU time is what the code costs, wall-clock what a user waits),
the median ratio ours / stock with its range, and whether it is within the target; the
unfiltered list's figures go on docs/benchmarks.md (``report_admin_stock``). Nothing is
asserted about time: whether the target holds is said, not asserted.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from django.template.base import Template
from django.test import Client, RequestFactory
from django.test.utils import _TestState, override_settings
from django.urls import include, path, reverse
from django.utils import timezone

from benchmarks import report
from benchmarks.harness import ARTIFACTS, Rounds, machine
from benchmarks.report_admin_stock import report_admin_stock
from django_huyi_sms import balances
from django_huyi_sms.models import Product, SmsLog

ROWS, PAGE = 1_000, 100
PAGES = report.sized(10, 2)  # a round
ROUNDS = report.sized(15, 3)
TARGET = 1.5  # ours / stock, page time


@admin.action(description="Export")
def export(model_admin: admin.ModelAdmin, request: Any, queryset: Any) -> None:
    """An action any viewer may run, as ours' export is: the stock list then draws its checkboxes."""


class StockSmsLogAdmin(admin.ModelAdmin):
    list_display = ("created_at", "status", "product", "mobile", "content")
    list_filter = ("status", "product", "purpose", "created_at", "bulk")
    search_fields = ("=mobile", "=smsid")
    actions = (export,)
    list_per_page = PAGE


class BareSmsLogAdmin(admin.ModelAdmin):
    list_display = StockSmsLogAdmin.list_display
    actions = (export,)
    list_per_page = PAGE


stock_site = admin.AdminSite(name="stock")
stock_site.register(SmsLog, StockSmsLogAdmin)
bare_site = admin.AdminSite(name="bare")
bare_site.register(SmsLog, BareSmsLogAdmin)

# This module is the URLconf while it runs: the app's admin and URLs as the tests have them, and the two stock sites.
urlpatterns = [
    path("admin/", admin.site.urls),
    path("stock/", stock_site.urls),
    path("bare/", bare_site.urls),
    path("sms/", include("django_huyi_sms.urls")),
]

#: The pages compared: the list, and the list filtered by status (a filter carried by every row's link).
SCENARIOS: dict[str, dict[str, str]] = {"the list": {}, "filtered by status": {"status__exact": "failed"}}

SIDES = {
    "ours": "admin:huyi_sms_smslog_changelist",
    "stock": "stock:huyi_sms_smslog_changelist",
    "bare": "bare:huyi_sms_smslog_changelist",
}


def fill(count: int) -> None:
    """``count`` sends of every status and product, one every five seconds back in time."""
    now = timezone.now()
    statuses = ["delivered", "delivered", "delivered", "undelivered", "failed", "submitted", "unknown", "queued"]
    products = [Product.SMS, Product.SMS, Product.SMS, Product.MARKETING, Product.VOICE, Product.INTERNATIONAL]
    SmsLog.objects.bulk_create(
        SmsLog(
            product=products[g % len(products)],
            mobile=f"138{g * 7919 % 1000003:08d}",
            content=f"【测试】您的订单 {g} 已发货，请留意查收。",
            status=statuses[g % len(statuses)],
            smsid=str(17000000000000 + g),
            provider_code=2 if statuses[g % len(statuses)] != "failed" else 4085,
            provider_msg="提交成功" if statuses[g % len(statuses)] != "failed" else "同一手机号验证码短信发送超出5条",
            receipt_code="DELIVRD" if statuses[g % len(statuses)] != "undelivered" else "UNDELIV",
            receipt_msg="用户已成功收到短信",
            purpose=["", "order", "login", "promo"][g % 4],
            created_at=now - g * timedelta(seconds=5),
            submitted_at=now - g * timedelta(seconds=5) + timedelta(seconds=1),
            delivered_at=now - g * timedelta(seconds=5) + timedelta(seconds=4),
        )
        for g in range(count)
    )


class Browser:
    """GETs through Django's WSGI handler with a session cookie, as a browser's request arrives.

    The database connection is kept from one request to the next, as ``CONN_MAX_AGE`` keeps it in
    production (and as the test client does): the test's own connection, in the test's transaction.
    """

    def __init__(self, client: Client) -> None:
        self.handler = WSGIHandler()
        cookies: SimpleCookie = client.cookies
        self.cookie = "; ".join(f"{name}={morsel.value}" for name, morsel in cookies.items())

    def get(self, url: str, params: dict[str, str] | None = None) -> bytes:
        environ = RequestFactory()._base_environ(
            PATH_INFO=url, QUERY_STRING=urlencode(params or {}), REQUEST_METHOD="GET", HTTP_COOKIE=self.cookie
        )
        status: list[str] = []
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            response = self.handler(environ, lambda line, headers, exc_info=None: status.append(line))
            body = b"".join(response)
            response.close()
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)
        assert status[0].startswith("200"), status
        return body


@contextmanager
def production_rendering() -> Iterator[None]:
    """Templates rendered as in production: without the test environment's signal on each render."""
    instrumented = Template._render
    Template._render = _TestState.saved_data.template_render  # type: ignore[attr-defined]
    try:
        yield
    finally:
        Template._render = instrumented  # type: ignore[method-assign]


def viewer() -> User:
    """A staff user who may view the sends and nothing more: numbers masked on our list."""
    user = User.objects.create_user("operator", password="bench-pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_smslog"))
    return user


def spread(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def measure(browser: Browser, urls: dict[str, str], params: dict[str, str]) -> dict[str, Any]:
    """Rounds of the sides' pages (``params`` their filter), alternated: times a page and ratios."""
    cpu: dict[str, list[float]] = {name: [] for name in urls}

    def side(url: str, times: list[float]) -> Callable[[int], None]:
        def pages(count: int) -> None:
            started = time.process_time()
            for _ in range(count):
                browser.get(url, params)
            times.append((time.process_time() - started) / count * 1000)

        return pages

    with production_rendering():
        for url in urls.values():  # warm: templates compiled and cached, the balance read, the database's buffers
            browser.get(url, params)
        rounds = Rounds({name: side(url, cpu[name]) for name, url in urls.items()}, PAGES, ROUNDS).run()
    for times in cpu.values():
        del times[: len(times) - ROUNDS]  # the warm-up round
    wall = {name: [1000 / rate for rate in rounds.results[name]] for name in urls}
    return {
        "params": params,
        "ms_a_page": {name: {"wall": spread(wall[name]), "cpu": spread(cpu[name])} for name in urls},
        "ratio": {
            clock: {
                against: spread([o / s for o, s in zip(values["ours"], values[against], strict=True)])
                for against in ("stock", "bare")
            }
            for clock, values in (("wall", wall), ("cpu", cpu))
        },
    }


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__)
def test_the_sends_list_against_djangos_stock_change_list(monkeypatch):
    # Ours shows 50 a page; here the same 100 as Django's default.
    monkeypatch.setattr(admin.site.get_model_admin(SmsLog), "list_per_page", PAGE)
    fill(ROWS)
    client = Client()
    client.force_login(viewer())
    balances.forget_balances()
    urls = {name: reverse(route) for name, route in SIDES.items()}
    for params in SCENARIOS.values():
        # The same 100 rows on every side, in the same order; ours masked, the stock lists whole.
        shown = {
            name: [log.pk for log in client.get(url, params).context["cl"].result_list] for name, url in urls.items()
        }
        assert len(shown["ours"]) == PAGE and shown["ours"] == shown["stock"] == shown["bare"], params
    ours_page = client.get(urls["ours"]).content.decode()
    assert "huyi-badge" in ours_page and "****" in ours_page and 'class="action-select"' in ours_page
    assert 'class="action-select"' in client.get(urls["stock"]).content.decode()

    browser = Browser(client)
    load_before = os.getloadavg()
    scenarios = {name: measure(browser, urls, params) for name, params in SCENARIOS.items()}
    results = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "database": connection.vendor,
        "load": {"before": load_before, "after": os.getloadavg()},
        "rows": ROWS,
        "page": PAGE,
        "pages_a_round": PAGES,
        "rounds": ROUNDS,
        "target": TARGET,
        # What the page quotes (report_admin_stock): the unfiltered list; every scenario beside it.
        "ms_a_page": scenarios["the list"]["ms_a_page"],
        "ratio": scenarios["the list"]["ratio"],
        "scenarios": scenarios,
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "bench-admin-speed.json").write_text(json.dumps(results, indent=2))
    print("\n" + "\n".join(summary_lines(results)))
    report_admin_stock(results)


def summary_lines(results: dict[str, Any]) -> Iterator[str]:
    load = results["load"]
    yield (
        f"The sends list against Django's stock change list: {results['page']} of {results['rows']:,} rows, "
        f"{results['database']}, ms a page, median (lowest-highest) of {results['rounds']} rounds of "
        f"{results['pages_a_round']} pages, sides alternated"
    )
    yield (
        f"load average before {load['before'][0]:.2f}, after {load['after'][0]:.2f} "
        f"on {results['machine']['cores']} cores"
    )
    for scenario, measured in results["scenarios"].items():
        yield f" {scenario}:"
        for name, clocks in measured["ms_a_page"].items():
            yield "  " + f"{name:<6}" + "".join(
                f"  {clock} {median:6.1f} ({low:.1f}-{high:.1f})" for clock, (median, low, high) in clocks.items()
            )
        for clock, ratios in measured["ratio"].items():
            median, low, high = ratios["stock"]
            verdict = "holds" if median <= results["target"] else "missed"
            bare = ratios["bare"]
            yield (
                f"  ours / stock ({clock}) {median:.2f}x ({low:.2f}-{high:.2f}), "
                f"target <= {results['target']}x: {verdict};  ours / bare {bare[0]:.2f}x ({bare[1]:.2f}-{bare[2]:.2f})"
            )
