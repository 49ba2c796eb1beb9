"""International SMS: numbers parsed and checked with phonenumbers, sent as "CC number", matched by receipts."""

from __future__ import annotations

import pytest
from django.test import override_settings

import django_huyi_sms
from django_huyi_sms.exceptions import HuyiRecipientError
from django_huyi_sms.models import SmsLog, StatusReceipt
from django_huyi_sms.provider import dynamic_password, mask_mobile
from django_huyi_sms.validation import normalize_any_mobile, normalize_international

from .push_helpers import post_form, receipt_fields

TEXT = "Your code is 4821【Huyi】"


@pytest.mark.parametrize(
    ("written", "wire"),
    [
        ("+44 7400 123456", "44 7400123456"),
        ("0044 7400 123456", "44 7400123456"),
        ("44 7400123456", "44 7400123456"),  # the provider's own form
        ("447400123456", "44 7400123456"),
        ("+1 (416) 567-4636", "1 4165674636"),
        ("+852 9123-4567", "852 91234567"),
        ("+39 06 1234 5678", "39 0612345678"),  # Italy's leading zero is part of the number
        ("+86 138 0013 8000", "86 13800138000"),  # China, through the international product
        ("＋４４ ７４００ １２３４５６", "44 7400123456"),  # typed with a Chinese input method
    ],
)
def test_a_number_becomes_country_code_space_number(written: str, wire: str) -> None:
    assert normalize_international(written) == wire


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("+44 7400 12345", "not a valid number of +44 (GB)"),  # a digit short
        ("+44 7700 900123", "not a valid number of +44 (GB)"),  # a range no operator has
        ("+1 416 555 01", "not a valid number of +1"),
        ("+999 1234567", "no country has this country code"),
        ("13800138000", "not a valid number of +1"),  # no country code: read as +1 380…
        ("+44 7400 123456 ext. 5", "a country code and digits"),
        ("call me", "a country code and digits"),
    ],
)
def test_a_number_no_country_has_is_406_saying_why(written: str, reason: str) -> None:
    with pytest.raises(HuyiRecipientError) as caught:
        normalize_international(written)
    assert caught.value.code == 406
    assert reason in str(caught.value)
    assert written not in str(caught.value)  # the number itself stays out of logs


@pytest.mark.django_db
def test_an_invalid_international_number_writes_and_sends_nothing() -> None:
    with pytest.raises(HuyiRecipientError) as caught:
        django_huyi_sms.send_sms("+44 7400 12345", TEXT, product="international")
    assert caught.value.code == 406
    assert not SmsLog.objects.exists()
    assert django_huyi_sms.outbox == []


def test_numbers_that_come_back_are_read_the_way_they_were_written() -> None:
    # The international product's form is read as international first: a Canadian number is not
    # the mainland number with the same digits, nor a number sent to China through it a mainland one.
    assert normalize_any_mobile("1 4165674636") == "1 4165674636"
    assert normalize_any_mobile("14165674636") == "14165674636"
    assert normalize_any_mobile("86 13800138000") == "86 13800138000"
    assert normalize_any_mobile("+86 138-0013-8000") == "13800138000"
    assert normalize_any_mobile("+44 7400 123456") == "44 7400123456"


def test_an_international_number_is_masked_to_its_country_code_and_last_four_digits() -> None:
    assert mask_mobile("44 7400123456") == "44 ****3456"
    assert mask_mobile("1 4165674636") == "1 ****4636"
    assert mask_mobile("13800138000") == "138****8000"


@pytest.mark.django_db
def test_an_international_message_goes_to_its_endpoint_with_its_credentials_in_the_wire_form(
    settings, fake_provider
) -> None:
    base = fake_provider.url.rsplit("/webservice/", 1)[0]
    huyi = {
        **settings.HUYI_SMS,
        "BACKEND": "django_huyi_sms.backends.ihuyi.IhuyiBackend",
        "API_URL": fake_provider.url,
        "PRODUCTS": {
            "international": {"ACCOUNT": "I55501", "API_KEY": "isms-key", "API_URL": f"{base}/webservice/isms.php"}
        },
    }
    with override_settings(HUYI_SMS=huyi):
        log = django_huyi_sms.send_sms("+44 7400 123456", TEXT, product="international")
    [request] = fake_provider.requests
    assert (request.path, request.query["method"]) == ("/webservice/isms.php", "Submit")
    form = request.form
    assert (form["account"], form["mobile"], form["content"]) == ("I55501", "44 7400123456", TEXT)
    # Signed over the exact string sent, space included, with the international product's own key.
    assert form["password"] == dynamic_password("I55501", "isms-key", "44 7400123456", TEXT, form["time"])
    log.refresh_from_db()
    assert (log.product, log.mobile, log.status) == ("international", "44 7400123456", "submitted")
    assert log.masked_mobile == "44 ****3456" and "7400123456" not in repr(log)


@pytest.mark.django_db
def test_a_receipt_naming_the_number_as_sent_delivers_the_international_message(client) -> None:
    canadian = django_huyi_sms.send_sms("+1 416 567 4636", TEXT, product="international")
    # A mainland number with the same digits, and a receipt with the same smsid for it: neither is confused.
    mainland = django_huyi_sms.send_sms("14165674636", "您的验证码是：4821。")
    assert canadian.mobile == "1 4165674636"
    response = post_form(client, "receipt_push", receipt_fields(canadian.smsid, mobile="1 4165674636"))
    assert response.content == b"success"
    canadian.refresh_from_db()
    mainland.refresh_from_db()
    assert canadian.status == "delivered" and mainland.status == "submitted"
    assert StatusReceipt.objects.get().log == canadian


@pytest.mark.django_db
@pytest.mark.parametrize("term", ["1 4165674636", "+1 416 567 4636", "001 416-567-4636"])
def test_the_admin_finds_an_international_message_however_its_number_is_written(admin_client, term) -> None:
    from django.urls import reverse

    canadian = django_huyi_sms.send_sms("+1 416 567 4636", TEXT, product="international")
    django_huyi_sms.send_sms("14165674636", "您的验证码是：4821。")  # the mainland number with its digits
    found = admin_client.get(reverse("admin:huyi_sms_smslog_changelist"), {"q": term}).context["cl"].result_list
    assert list(found) == [canadian]
