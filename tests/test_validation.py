"""Local validation refuses, before any HTTP call, what the provider would refuse, with its code."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from django_huyi_sms.client import IhuyiClient
from django_huyi_sms.exceptions import HuyiContentError, HuyiRecipientError
from django_huyi_sms.validation import (
    count_parts,
    normalize_mobile,
    prepare_mobile,
    validate_content,
    validate_mobiles,
    validate_purpose,
)


@pytest.mark.parametrize(
    "given_mobile, expected",
    [
        ("13800138000", "13800138000"),
        (" 138 0013 8000 ", "13800138000"),
        ("138-0013-8000", "13800138000"),
        ("+86 138 0013 8000", "13800138000"),
        ("008613800138000", "13800138000"),
        ("8613800138000", "13800138000"),
        # Full-width, as a Chinese input method types them: the same number.
        ("１３８００１３８０００", "13800138000"),
        ("1３８００１３８０００", "13800138000"),
        ("＋８６\u3000１３８－００１３－８０００", "13800138000"),
    ],
)
def test_mainland_numbers_are_normalised(given_mobile, expected):
    assert normalize_mobile(given_mobile) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "1380013800",
        "138001380001",
        "23800138000",
        "1380013800a",
        "+1 415 555 0100",
        "1٣٨٠٠١٣٨٠٠٠",  # Arabic-Indic digits: \d matches them, the provider does not
        "1३८००१३८०००",  # Devanagari digits
    ],
)
def test_malformed_numbers_are_406(bad):
    with pytest.raises(HuyiRecipientError) as caught:
        normalize_mobile(bad)
    assert caught.value.code == 406


@pytest.mark.parametrize("empty", ["", "   ", None])
def test_empty_number_is_403(empty):
    with pytest.raises(HuyiRecipientError) as caught:
        normalize_mobile(empty)
    assert caught.value.code == 403


def test_international_numbers():
    # The international product's form: country code, a space, the national number.
    assert normalize_mobile("+63 917 123 4567", international=True) == "63 9171234567"
    with pytest.raises(HuyiRecipientError):
        normalize_mobile("+0 12", international=True)


def test_marketing_takes_several_numbers_and_drops_duplicates():
    assert validate_mobiles("13800138000, 13900139000,13800138000") == ["13800138000", "13900139000"]
    assert prepare_mobile(["13800138000", "13900139000"], "marketing") == "13800138000,13900139000"
    with pytest.raises(HuyiRecipientError) as caught:
        validate_mobiles(" , ")
    assert caught.value.code == 403


def test_the_verification_product_takes_exactly_one_number():
    with pytest.raises(HuyiRecipientError) as caught:
        prepare_mobile(["13800138000", "13900139000"], "sms")
    assert caught.value.code == 406


@pytest.mark.parametrize(
    "content, code",
    [
        ("", 404),
        ("   ", 404),
        ("x" * 301, 4073),
        ("您的验证码是1234😀", 4074),
        ("【互亿无线 您的验证码是1234", 4070),
        ("您的验证码是1234】", 4070),
        ("【A】您的验证码是1234", 4070),  # one character
        ("【" + "签" * 31 + "】您的验证码", 4070),  # 31 characters
        ("【互亿-无线】您的验证码是1234", 4070),  # a symbol
        ("【【互亿无线】】验证码", 4070),  # nested
    ],
)
def test_content_refused_with_the_providers_code(content, code):
    with pytest.raises(HuyiContentError) as caught:
        validate_content(content)
    assert caught.value.code == code


@pytest.mark.parametrize(
    "content",
    [
        "您的验证码是：1234。请不要把验证码泄露给其他人。",
        "【互亿无线】您的验证码是：1234。",
        "您的验证码是：1234。【Acme2026】",
        "x" * 300,
    ],
)
def test_valid_content_passes(content):
    assert validate_content(content) == content


SIGNATURE = "【互亿无线】"


@pytest.mark.parametrize(
    "length, parts",
    [(7, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4), (300, 5)],
)
@pytest.mark.parametrize("filler", ["验", "a"])
def test_billing_parts_follow_the_70_67_rule_for_content_and_signature(length, parts, filler):
    """Content that carries its signature (first or last) is counted as it is, signature included."""
    text = filler * (length - len(SIGNATURE))
    assert count_parts(SIGNATURE + text) == parts
    assert count_parts(text + SIGNATURE) == parts


@pytest.mark.parametrize("length, parts", [(1, 1), (64, 1), (65, 2), (128, 2), (129, 3), (195, 3), (196, 4), (300, 5)])
def test_unsigned_content_is_billed_with_the_default_signature_the_provider_adds(length, parts):
    """ihuyi adds the account's default signature (a trial account's 【互亿无线】, 6 characters)."""
    assert count_parts("验" * length) == parts
    assert count_parts("验" * (64 + 1), default_signature="") == 1  # an account that adds nothing
    assert count_parts("验" * 61, default_signature="【某某科技有限公司】") == 2  # 61 + 10 = 71


@given(st.integers(min_value=65, max_value=1000))
def test_parts_cover_the_text_and_its_signature_and_no_more(length):
    parts = count_parts("x" * length)
    assert (parts - 1) * 67 < length + len(SIGNATURE) <= parts * 67


@pytest.mark.parametrize("text", ["Acme® 新品上市", "品牌™", "版权所有 © 2026", "注意‼", "I ♥ 上海", "完成✔", "☺", "⌚\ufe0e"])
def test_text_presentation_symbols_are_not_emoji(text):
    assert validate_content(text) == text


@pytest.mark.parametrize("text", ["😀", "©\ufe0f", "‼\ufe0f", "⌚", "1\ufe0f\u20e3", "🇨🇳", "👍🏽", "👨\u200d👩\u200d👧", "⭐", "Acme® 🎉"])
def test_emoji_presentation_characters_and_sequences_are_4074(text):
    with pytest.raises(HuyiContentError) as caught:
        validate_content(f"您好{text}")
    assert caught.value.code == 4074


def test_the_client_refuses_before_any_http_call(fake_provider):
    client = IhuyiClient("C1", "key", fake_provider.url)
    for mobile, content in [("123", "hello"), ("13800138000", ""), ("13800138000", "😀")]:
        with pytest.raises((HuyiRecipientError, HuyiContentError)):
            client.submit(mobile, content)
    assert fake_provider.requests == []


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\ud800"])
def test_control_characters_are_refused_as_content_errors(char):
    with pytest.raises(HuyiContentError) as caught:
        validate_content(f"您的验证码是{char}1234")
    # No provider code means "control character": None, and a detail that names it.
    assert caught.value.code is None
    assert f"U+{ord(char):04X}" in str(caught.value) and "position 7" in str(caught.value)


def test_tabs_and_line_breaks_are_ordinary_text():
    text = "您的验证码是：1234。\r\n请不要\t泄露。"
    assert validate_content(text) == text


@pytest.mark.parametrize("purpose", ["", None, "login", "p" * 32])
def test_a_purpose_that_fits_the_log_passes(purpose):
    assert validate_purpose(purpose, max_length=32) == (purpose or "")


@pytest.mark.parametrize("purpose, complaint", [("p" * 33, "33 characters"), ("log\x00in", "control"), ("a\nb", "control")])
def test_a_purpose_that_does_not_fit_is_a_value_error(purpose, complaint):
    with pytest.raises(ValueError, match=complaint):
        validate_purpose(purpose, max_length=32)


def test_full_width_numbers_and_commas_in_a_marketing_list():
    assert validate_mobiles("１３８００１３８０００，13900139000, 13800138000") == ["13800138000", "13900139000"]
    assert normalize_mobile("＋６３ ９１７ １２３ ４５６７", international=True) == "63 9171234567"
    with pytest.raises(HuyiRecipientError):
        normalize_mobile("+٦٣٩١٧١٢٣٤٥٦٧", international=True)


@pytest.mark.parametrize("typed", ["１３８００１３８０００", "＋８６　１３８００１３８０００", "138－0013－8000"])
def test_full_width_input_is_the_same_number(typed):
    assert normalize_mobile(typed) == "13800138000"


@pytest.mark.parametrize("odd", ["①③⑧⓪⓪①③⑧⓪⓪⓪", "¹³⁸⁰⁰¹³⁸⁰⁰⁰", "𝟏𝟑𝟖𝟎𝟎𝟏𝟑𝟖𝟎𝟎𝟎"])
def test_other_non_ascii_digits_are_malformed(odd):
    with pytest.raises(HuyiRecipientError) as caught:
        normalize_mobile(odd)
    assert caught.value.code == 406
