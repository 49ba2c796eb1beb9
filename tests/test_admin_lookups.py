"""The admin's URLs filter a list only as its own filters do: a masked number cannot be read back through them.

Django's admin applies any ``?field__lookup=value`` of a list's URL for anyone who
may view the list. A view-only user could then read a masked number back a digit
at a time (``?mobile__startswith=1362``), a one-time code's salt
(``?pk=7&salt__startswith=a``), or make the database scan every message
(``?content__icontains=``).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from django_huyi_sms.admin import base
from django_huyi_sms.admin.pushes import StatusReceiptAdmin
from django_huyi_sms.admin.sends import SmsLogAdmin
from django_huyi_sms.models import OptOut, OtpRecord, SmsLog, SmsTemplate, StatusReceipt, UpstreamReply

from .test_admin_sends import make_staff

pytestmark = pytest.mark.django_db

MOBILE = "13623453719"

# Every list of the app (the delivery dashboard's entry in the index is a proxy with no list: admin/dashboard.py).
APP_ADMINS = [
    model_admin
    for model, model_admin in admin.site._registry.items()
    if model._meta.app_label == "huyi_sms" and not model._meta.proxy
]


def changelist(model) -> str:
    return reverse(f"admin:huyi_sms_{model._meta.model_name}_changelist")


@pytest.fixture
def rows() -> dict[type, object]:
    """One row in every list of the app, about the same number."""
    now = timezone.now()
    log = SmsLog.objects.create(
        mobile=MOBILE, content="【测试】您的订单已发货。", status=SmsLog.Status.DELIVERED, smsid="880001",
        purpose="notice", submitted_at=now, delivered_at=now + timedelta(seconds=3),
    )
    receipt = StatusReceipt.objects.create(smsid="880001", mobile=MOBILE, code="2", report_time=now, log=log)
    reply = UpstreamReply.objects.create(mobile=MOBILE, content="TD", smsid="880001", reply_time=now, log=log,
                                         is_opt_out=True, fingerprint="f1")
    optout = OptOut.objects.create(mobile=MOBILE, reason=OptOut.Reason.REPLIED, reply=reply)
    record = OtpRecord.objects.create(mobile=MOBILE, purpose="login", code_hash="ab" * 32, salt="c0ffee" * 4,
                                      expires_at=now + timedelta(minutes=5), sms_log=log)
    template = SmsTemplate.objects.create(content="您的验证码是：【变量】。", templateid=4242)
    return {SmsLog: log, StatusReceipt: receipt, UpstreamReply: reply, OptOut: optout, OtpRecord: record,
            SmsTemplate: template}


@pytest.fixture
def viewer(client):
    """A staff user who may view every list of the app, but not whole numbers."""
    client.force_login(make_staff())
    return client


NUMBER_LISTS = [SmsLog, StatusReceipt, UpstreamReply, OptOut, OtpRecord]


@pytest.mark.parametrize("model", NUMBER_LISTS, ids=lambda model: model.__name__)
@pytest.mark.parametrize(
    "params",
    [
        {"mobile__startswith": MOBILE[:4], "mobile__endswith": MOBILE[-4:]},  # the masked digits, one by one
        {"mobile__regex": "^1362"},
        {"mobile": MOBILE},  # confirming a guess
        {"mobile__exact": MOBILE},
    ],
    ids=["prefix-and-suffix", "regex", "exact", "exact-lookup"],
)
def test_a_masked_number_cannot_be_probed_through_the_url(viewer, rows, model, params):
    response = viewer.get(changelist(model), params)
    # As Django answers a lookup a list does not allow (DisallowedModelAdminLookup): 400, no rows.
    assert response.status_code == 400
    assert MOBILE[:4].encode() not in response.content


def test_a_code_s_salt_and_hash_cannot_be_probed_even_by_a_superuser(admin_client, rows):
    record = rows[OtpRecord]
    for params in (
        {"pk": record.pk, "salt__startswith": "c0"},
        {"pk": record.pk, "code_hash__startswith": "ab"},
        {"salt": record.salt},
    ):
        assert admin_client.get(changelist(OtpRecord), params).status_code == 400, params


@pytest.mark.parametrize(
    ("model", "params"),
    [
        (SmsLog, {"content__icontains": "订单"}),  # a scan of every message
        (UpstreamReply, {"content__icontains": "TD"}),
        (SmsTemplate, {"content__icontains": "验证码"}),
        (SmsLog, {"status__regex": "deliv"}),  # a filtered field, with a lookup no filter makes
        (SmsLog, {"pk__gt": "0"}),
        (StatusReceipt, {"smsid": "880001"}),  # the search box finds an smsid: ?q=880001
        (StatusReceipt, {"log__mobile__startswith": "1362"}),  # through a relation
    ],
    ids=lambda value: getattr(value, "__name__", None) or next(iter(value)),
)
def test_lookups_that_no_filter_makes_are_refused(viewer, rows, model, params):
    assert viewer.get(changelist(model), params).status_code == 400


def test_every_admin_of_the_app_filters_by_its_own_filters_only():
    assert {model_admin.model for model_admin in APP_ADMINS} >= {*NUMBER_LISTS, SmsTemplate}
    for model_admin in APP_ADMINS:
        assert isinstance(model_admin, base.OwnFiltersOnlyMixin), type(model_admin).__name__


@pytest.mark.parametrize("model_admin", APP_ADMINS, ids=lambda model_admin: model_admin.model.__name__)
def test_every_link_a_list_draws_still_answers(viewer, rows, model_admin):
    url = changelist(model_admin.model)
    response = viewer.get(url)
    assert response.status_code == 200
    cl = response.context["cl"]
    links = {choice["query_string"] for spec in cl.filter_specs for choice in spec.choices(cl)}
    links |= {"?o=1", "?p=1", "?e=1"}  # a sorted column, a page, the admin's own "invalid filter" flag
    assert len(links) > 4  # the filters did draw their links
    for link in sorted(links):
        assert viewer.get(url + link).status_code == 200, link
    # The links of a filtered list carry the filter already chosen.
    chosen = viewer.get(url + max(links, key=len))
    assert chosen.status_code == 200
    for spec in chosen.context["cl"].filter_specs:
        for choice in spec.choices(chosen.context["cl"]):
            assert viewer.get(url + choice["query_string"]).status_code == 200, choice["query_string"]


def test_the_filters_still_filter(viewer, rows):
    log = rows[SmsLog]
    SmsLog.objects.create(mobile="13900139000", content="【测试】通知", status=SmsLog.Status.FAILED, product="marketing")

    def shown(model, **params):
        response = viewer.get(changelist(model), params)
        assert response.status_code == 200
        return list(response.context["cl"].result_list)

    now = timezone.localtime()
    assert shown(SmsLog, status__exact="delivered", product__exact="sms", purpose="notice",
                 created_at__gte=(now - timedelta(days=7)).isoformat(),
                 created_at__lt=(now + timedelta(days=1)).isoformat()) == [log]
    assert shown(StatusReceipt, duplicate__exact="0") == [rows[StatusReceipt]]
    assert shown(UpstreamReply, is_opt_out__exact="1") == [rows[UpstreamReply]]
    assert shown(OptOut, reason__exact="replied") == [rows[OptOut]]
    assert shown(OtpRecord, status__exact="active") == [rows[OtpRecord]]
    assert shown(SmsTemplate, status__exact="pending", product__exact="sms") == [rows[SmsTemplate]]


@pytest.mark.parametrize("model", NUMBER_LISTS, ids=lambda model: model.__name__)
def test_the_search_finds_a_whole_number_and_nothing_from_part_of_one(viewer, rows, model):
    def found(term: str) -> list:
        response = viewer.get(changelist(model), {"q": term})
        assert response.status_code == 200
        return list(response.context["cl"].result_list)

    assert found(MOBILE) == [rows[model]]  # someone who knows the number may find it
    for part in (MOBILE[:4], MOBILE[:10], MOBILE[-4:], "136****3719", "1362%"):
        assert found(part) == [], part


class DeliveredOnly(admin.SimpleListFilter):
    title = "delivered"
    parameter_name = "delivered"

    def lookups(self, request, model_admin):
        return [("yes", "yes")]

    def queryset(self, request, queryset):
        return queryset


def test_filters_of_every_kind_and_the_date_hierarchy_bring_their_parameters():
    class Dated(SmsLogAdmin):
        date_hierarchy = "created_at"
        list_filter = ("status", DeliveredOnly)

    class ByLog(StatusReceiptAdmin):
        list_filter = ("log",)

    request = RequestFactory().get("/")
    dated = Dated(SmsLog, admin.site)
    for lookup in ("created_at__year", "created_at__month", "created_at__day", "status__exact", "delivered"):
        assert dated.lookup_allowed(lookup, "1", request), lookup
    for lookup in ("created_at__hour", "created_at__gte", "product__exact"):
        assert not dated.lookup_allowed(lookup, "1", request), lookup
    by_log = ByLog(StatusReceipt, admin.site)
    assert by_log.lookup_allowed("log__id__exact", "1", request)
    assert by_log.lookup_allowed("log__isnull", "True", request)
    assert not by_log.lookup_allowed("log__mobile__exact", MOBILE, request)


def test_a_raw_id_popup_keeps_its_limit_choices_to(monkeypatch):
    # What a ForeignKey(SmsLog, limit_choices_to=lambda: {"purpose__in": [...]}) of a site's own model registers.
    monkeypatch.setattr(SmsLog._meta, "related_fkey_lookups", [lambda: {"purpose__in": ["promo", "news"]}])
    model_admin = admin.site._registry[SmsLog]
    request = RequestFactory().get("/")
    assert model_admin.lookup_allowed("purpose__in", "promo,news", request)
    assert not model_admin.lookup_allowed("purpose__in", "login", request)
