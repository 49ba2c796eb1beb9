"""The bulk sends admin: a bulk send's progress and its recipients' results on one page, its filters."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.urls import reverse

import django_huyi_sms
from django_huyi_sms import optouts
from django_huyi_sms.models import BulkSend, OptOut

from .push_helpers import post_form, receipt_fields
from .test_admin_sends import make_staff
from .test_send_bulk import Known, Refusing, run_tasks

pytestmark = pytest.mark.django_db

TEXT = "【商城】周末全场五折，回T退订"


def a_bulk_send(dummy_queue, capture, client=None, *, count=5, batch_size=2, backend=Known):
    """A bulk send with every state on show: a delivery, an opt-out, a batch sent, a batch still queued."""
    optouts.opt_out("13800139999", OptOut.Reason.REPLIED)
    mobiles = [f"1380013{n:04d}" for n in range(count)] + ["13800139999"]
    settings = {"BACKEND": backend, "MARKETING": {"BATCH_SIZE": batch_size}, "CALLBACK_TOKEN": "test-callback-token"}
    with override_settings(HUYI_SMS=settings):
        with capture(execute=True):
            sent = django_huyi_sms.send_bulk(mobiles, TEXT)
        task = dummy_queue.results.pop(0)  # the first batch goes out; the others wait
        task.task.call(*task.args)
        if client is not None:
            post_form(client, "receipt_push", receipt_fields(Known.smsid, mobile=mobiles[0]))
    return sent


def change_url(sent):
    return reverse("admin:huyi_sms_bulksend_change", args=[sent.pk])


def test_the_list_shows_each_bulk_send_with_its_progress(admin_client, dummy_queue, django_capture_on_commit_callbacks):
    sent = a_bulk_send(dummy_queue, django_capture_on_commit_callbacks)
    response = admin_client.get(reverse("admin:huyi_sms_bulksend_changelist"))
    assert response.status_code == 200
    (row,) = response.context["cl"].result_list
    assert row == sent and (row.waiting, row.not_sent) == (3, 0)
    assert "2 of 5 left the queue" in response.content.decode()
    # Filtered by product (the channel) and by date.
    assert admin_client.get(reverse("admin:huyi_sms_bulksend_changelist"), {"product__exact": "sms"}).context[
        "cl"
    ].result_count == 0


def test_its_page_shows_the_progress_and_every_recipients_result(
    admin_client, client, dummy_queue, django_capture_on_commit_callbacks
):
    sent = a_bulk_send(dummy_queue, django_capture_on_commit_callbacks, client)
    response = admin_client.get(change_url(sent))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'class="huyi-progress"' in page
    assert "huyi-progress-delivered" in page and "huyi-progress-queued" in page and "huyi-progress-submitted" in page
    recipients = response.context["recipients"]
    assert [row["log"].mobile for row in recipients] == [f"1380013{n:04d}" for n in range(5)]
    assert [row["log"].status for row in recipients] == ["delivered", "submitted", "queued", "queued", "queued"]
    assert "DELIVRD" in page and Known.smsid in page and "13800130000" in page  # a superuser sees whole numbers
    assert {label: count for label, count, _url, _selected in response.context["status_links"]}["Queued"] == 3
    assert "回T退订" in page
    assert response.context["adminform"].form.instance.opted_out == 1


def test_its_recipients_filter_by_status_and_batch_and_page(admin_client, dummy_queue, django_capture_on_commit_callbacks):
    sent = a_bulk_send(dummy_queue, django_capture_on_commit_callbacks, count=5, batch_size=2)
    queued = admin_client.get(change_url(sent), {"status": "queued"}).context["recipients"]
    assert {row["log"].status for row in queued} == {"queued"} and len(queued) == 3
    batch = admin_client.get(change_url(sent), {"batch": "1"}).context["recipients"]
    assert [row["log"].batch for row in batch] == [1, 1]
    both = admin_client.get(change_url(sent), {"batch": "2", "status": "queued"}).context["recipients"]
    assert [row["log"].mobile for row in both] == ["13800130004"]


@pytest.mark.parametrize(
    "query",
    [{"status": "nonsense"}, {"batch": "x"}, {"batch": "-1"}, {"batch": "99"}, {"batch": "١"}, {"p": "0"},
     {"p": "abc"}, {"p": "99999999999999999999"}, {"batch": "9" * 40}],
)
def test_garbage_in_its_address_shows_the_whole_list(admin_client, dummy_queue, django_capture_on_commit_callbacks, query):
    sent = a_bulk_send(dummy_queue, django_capture_on_commit_callbacks)
    response = admin_client.get(change_url(sent), query)
    assert response.status_code == 200
    assert len(response.context["recipients"]) == 5  # one page holds them all


def test_staff_without_the_permission_see_masked_numbers(client, dummy_queue, django_capture_on_commit_callbacks):
    sent = a_bulk_send(dummy_queue, django_capture_on_commit_callbacks)
    client.force_login(make_staff())
    page = client.get(change_url(sent)).content.decode()
    assert "138****0000" in page and "13800130000" not in page


def test_the_sends_list_filters_by_bulk_send(admin_client, dummy_queue, django_capture_on_commit_callbacks):
    sent = a_bulk_send(dummy_queue, django_capture_on_commit_callbacks)
    alone = django_huyi_sms.send_sms("13900139000", "您的订单已发货。")
    url = reverse("admin:huyi_sms_smslog_changelist")
    of_bulk = admin_client.get(url, {"bulk": str(sent.pk)}).context["cl"].result_list
    assert sorted(log.mobile for log in of_bulk) == [f"1380013{n:04d}" for n in range(5)]
    assert list(admin_client.get(url, {"bulk": "none"}).context["cl"].result_list) == [alone]
    for garbage in ("abc", "99999999999999999999999", "-1"):
        response = admin_client.get(url, {"bulk": garbage})
        assert response.status_code == 200 and list(response.context["cl"].result_list) == []
    assert f"?bulk={sent.pk}" in admin_client.get(change_url(sent)).content.decode()
    detail = admin_client.get(reverse("admin:huyi_sms_smslog_change", args=[of_bulk[0].pk])).content.decode()
    assert change_url(sent) in detail  # the message's page links to its bulk send


def test_it_is_read_only_and_takes_only_its_own_filters(admin_client, dummy_queue, django_capture_on_commit_callbacks):
    sent = a_bulk_send(dummy_queue, django_capture_on_commit_callbacks, backend=Refusing)
    assert admin_client.post(reverse("admin:huyi_sms_bulksend_delete", args=[sent.pk])).status_code == 403
    assert admin_client.get(reverse("admin:huyi_sms_bulksend_add")).status_code == 403
    assert admin_client.post(change_url(sent), {"content": "changed"}).status_code == 403
    assert BulkSend.objects.get().content == TEXT
    assert admin_client.get(reverse("admin:huyi_sms_bulksend_changelist"), {"content__icontains": "x"}).status_code == 400


def test_a_finished_bulk_send_says_done_and_how_many_failed(admin_client, dummy_queue, django_capture_on_commit_callbacks):
    sent = a_bulk_send(dummy_queue, django_capture_on_commit_callbacks, backend=Refusing)
    with override_settings(HUYI_SMS={"BACKEND": Refusing}):
        run_tasks(dummy_queue)
    page = admin_client.get(reverse("admin:huyi_sms_bulksend_changelist")).content.decode()
    assert "done; 5 failed or undelivered" in page
    assert sent.progress()["failed"] == 5


def test_its_page_counts_its_recipients(admin_client, dummy_queue, django_capture_on_commit_callbacks):
    sent = a_bulk_send(dummy_queue, django_capture_on_commit_callbacks)
    assert "Page 1 of 1 (5 recipients)" in admin_client.get(change_url(sent)).content.decode()
    assert "(1 recipient)" in admin_client.get(change_url(sent), {"batch": "2"}).content.decode()
