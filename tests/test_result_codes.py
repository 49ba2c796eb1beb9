"""Every documented result code maps to one typed exception, through the real client."""

from __future__ import annotations

import pytest

from django_huyi_sms import exceptions
from django_huyi_sms.client import IhuyiClient
from django_huyi_sms.exceptions import (
    RESULT_CODES,
    HuyiAccountError,
    HuyiApiError,
    HuyiConfigurationError,
    HuyiContentError,
    HuyiProviderError,
    HuyiRateLimitError,
    HuyiRecipientError,
    error_for_code,
)

# The class of failure for each code, as ihuyi-api.md's table says it.
EXPECTED_CLASS = {
    0: HuyiProviderError,
    400: HuyiConfigurationError,
    401: HuyiConfigurationError,
    402: HuyiConfigurationError,
    403: HuyiRecipientError,
    4030: HuyiRecipientError,
    404: HuyiContentError,
    405: HuyiConfigurationError,
    4050: HuyiAccountError,
    4053: HuyiConfigurationError,
    40501: HuyiConfigurationError,
    40502: HuyiConfigurationError,
    4051: HuyiAccountError,
    4052: HuyiConfigurationError,
    406: HuyiRecipientError,
    407: HuyiContentError,
    4070: HuyiContentError,
    4071: HuyiContentError,
    4072: HuyiContentError,
    40722: HuyiContentError,
    4073: HuyiContentError,
    4074: HuyiContentError,
    4075: HuyiContentError,
    408: HuyiRateLimitError,
    4080: HuyiRateLimitError,
    4082: HuyiRateLimitError,
    4085: HuyiRateLimitError,
}


def test_the_table_lists_every_documented_code():
    assert set(RESULT_CODES) == set(EXPECTED_CLASS) | {2}
    assert RESULT_CODES[2].error is None
    for code, entry in RESULT_CODES.items():
        assert entry.zh and entry.en, code


@pytest.mark.parametrize("code", sorted(EXPECTED_CLASS))
def test_error_for_code_builds_the_class_with_the_providers_text(code):
    error = error_for_code(code)
    assert type(error) is EXPECTED_CLASS[code]
    assert isinstance(error, HuyiApiError)
    assert error.code == code
    assert error.msg == RESULT_CODES[code].zh
    assert str(code) in str(error) and RESULT_CODES[code].en in str(error)


@pytest.mark.parametrize("code", sorted(EXPECTED_CLASS))
@pytest.mark.parametrize("reply_format", ["json", "xml"])
def test_client_raises_the_class_for_each_code_the_provider_answers(fake_provider, code, reply_format):
    msg = RESULT_CODES[code].zh + "（服务器原文）"
    if reply_format == "json":
        fake_provider.answer_json(code=code, msg=msg, smsid="0")
    else:
        fake_provider.answer_xml("SubmitResult", code=code, msg=msg, smsid="0")
    client = IhuyiClient("C1", "key", fake_provider.url, response_format=reply_format)
    with pytest.raises(EXPECTED_CLASS[code]) as caught:
        client.submit("13800138000", "您的验证码是：1234。")
    assert caught.value.code == code
    assert caught.value.msg == msg
    assert len(fake_provider.requests) == 1


def test_an_undocumented_code_is_a_provider_error_that_keeps_the_number(fake_provider):
    fake_provider.answer_json(code=99999, msg="新错误", smsid="0")
    client = IhuyiClient("C1", "key", fake_provider.url)
    with pytest.raises(HuyiProviderError) as caught:
        client.submit("13800138000", "hello")
    assert caught.value.code == 99999
    assert caught.value.msg == "新错误"


def test_success_is_not_an_error():
    with pytest.raises(ValueError):
        error_for_code(exceptions.ResultCode.ACCEPTED)


def test_repr_and_str_carry_code_and_message():
    error = error_for_code(4051)
    assert repr(error) == "HuyiAccountError(code=4051, msg='剩余条数不足')"
    assert str(error).startswith("[4051] 剩余条数不足")
