"""Turn a push's fields into the event objects ``receipts.py`` applies, or say what is wrong.

The fields are checked strictly: a push we cannot understand is refused with a
400 and a short reason (the provider will retry it; nothing is written), rather
than half-stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from ..exceptions import HuyiApiError, ReviewCode
from ..parsers import is_text
from ..provider import CHINA, TIME_FORMAT
from ..receipts import ReceiptEvent, ReplyEvent, TemplateEvent
from ..validation import normalize_any_mobile

# Pushes are about messages sent with this account: nothing before the provider existed,
# nothing from the future beyond a day of clock skew.
_EARLIEST = datetime(2010, 1, 1, tzinfo=CHINA)
_FUTURE_SLACK = timedelta(days=1)

_SMSID = re.compile(r"[0-9A-Za-z_-]{1,64}")
_CODE = re.compile(r"-?[0-9]{1,9}")
_TEMPLATE_ID = re.compile(r"[0-9]{1,18}")
_TEMPLATE_CODES = {str(ReviewCode.APPROVED.value): True, str(ReviewCode.REJECTED.value): False}
MAX_MSG_LENGTH = 255
MAX_REPLY_LENGTH = 1000


class PushInvalid(Exception):
    """A push's fields are missing or malformed; ``reason`` is short and safe to answer."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _text(fields: Mapping[str, Any], name: str, *, required: bool = True, max_length: int = MAX_MSG_LENGTH) -> str:
    value = fields.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise PushInvalid(f"{name} is missing")
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise PushInvalid(f"{name} must be text")
    value = str(value).strip()
    _check_characters(value, name)
    if "\ufffd" in value:
        # What Django's form decoding leaves of bytes that were not UTF-8 (%FF and the like).
        raise PushInvalid(f"{name} is not valid UTF-8")
    if len(value) > max_length:
        raise PushInvalid(f"{name} is longer than {max_length} characters")
    return value


def _mobile(fields: Mapping[str, Any]) -> str:
    """The number as the send's ``SmsLog`` holds it: mainland, or the international product's ``44 7400123456``.

    ihuyi does not say how a receipt writes an international number; we take it
    to be the string that was sent (``validation.normalize_any_mobile``).
    """
    raw = _text(fields, "mobilephone", max_length=32)
    try:
        return normalize_any_mobile(raw)
    except HuyiApiError:
        raise PushInvalid("mobilephone is not a phone number") from None


def _smsid(fields: Mapping[str, Any], *, required: bool = True) -> str:
    value = _text(fields, "smsid", required=required, max_length=64)
    if value and not _SMSID.fullmatch(value):
        raise PushInvalid("smsid is malformed")
    return value


def _time(fields: Mapping[str, Any], name: str) -> datetime:
    raw = _text(fields, name, max_length=32)
    try:
        moment = datetime.strptime(raw, TIME_FORMAT).replace(tzinfo=CHINA)
    except ValueError:
        raise PushInvalid(f"{name} is not a time like 2017-08-02 14:31:51") from None
    if not _EARLIEST <= moment <= timezone.now() + _FUTURE_SLACK:
        raise PushInvalid(f"{name} is out of range")
    return moment


def _check_characters(text: str, name: str) -> None:
    """Refuse text the database cannot store: NUL (PostgreSQL refuses it in text and jsonb) and lone surrogates.

    Refused here, as a 400, rather than by the database as an error the
    provider would retry three times for nothing.
    """
    if "\x00" in text:
        raise PushInvalid(f"{name} holds a NUL character")
    if not is_text(text):
        raise PushInvalid(f"{name} is not valid UTF-8")


def _raw(fields: Mapping[str, Any]) -> dict[str, str]:
    """Every field as given (names and values cut to size), kept beside the parsed event.

    Fields we do not read are kept too, so they are checked like the others:
    a NUL in any name or value makes the whole push garbage.
    """
    raw: dict[str, str] = {}
    for key, value in fields.items():
        name, text = str(key), str(value)
        _check_characters(name, "a field name")
        _check_characters(text, name[:64])
        raw[name[:64]] = text[:MAX_REPLY_LENGTH]
    return raw


def parse_receipt(fields: Mapping[str, Any]) -> ReceiptEvent:
    """A delivery receipt: ``code``, ``msg``, ``mobilephone``, ``smsid``, ``report_time``."""
    code = _text(fields, "code", max_length=10)
    if not _CODE.fullmatch(code):
        raise PushInvalid("code is not a number")
    return ReceiptEvent(
        smsid=_smsid(fields),
        mobile=_mobile(fields),
        code=str(int(code)),
        msg=_text(fields, "msg", required=False),
        report_time=_time(fields, "report_time"),
        raw=_raw(fields),
    )


def parse_reply(fields: Mapping[str, Any]) -> ReplyEvent:
    """An upstream reply: ``mobilephone``, ``content``, ``smsid`` (may be empty), ``reply_time``."""
    return ReplyEvent(
        mobile=_mobile(fields),
        content=_text(fields, "content", max_length=MAX_REPLY_LENGTH),
        smsid=_smsid(fields, required=False),
        reply_time=_time(fields, "reply_time"),
        raw=_raw(fields),
    )


def parse_template(fields: Mapping[str, Any], product: str | None = None) -> TemplateEvent:
    """A template review: ``code`` (2 approved, 0 rejected), ``msg``, ``templateid``."""
    code = _text(fields, "code", max_length=10)
    if code not in _TEMPLATE_CODES:
        approved, rejected = ReviewCode.APPROVED.value, ReviewCode.REJECTED.value
        raise PushInvalid(f"code must be {approved} (approved) or {rejected} (rejected)")
    templateid = _text(fields, "templateid", max_length=18)
    if not _TEMPLATE_ID.fullmatch(templateid) or int(templateid) <= 0:
        raise PushInvalid("templateid is not a positive number")
    return TemplateEvent(
        templateid=int(templateid),
        approved=_TEMPLATE_CODES[code],
        msg=_text(fields, "msg", required=False),
        product=product,
        raw=_raw(fields),
    )
