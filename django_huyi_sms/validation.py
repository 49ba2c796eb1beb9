"""The provider's rules on numbers and text, checked locally.

Each check raises the exception the provider's own result code maps to (see
``exceptions.RESULT_CODES``), so a message that would be refused is refused
before any HTTP call and before anything is written, with the same error a
caller would have got from ihuyi. The sandbox gateway runs the same checks, so
it refuses exactly what this module refuses.

Pure Python; no Django.
"""

from __future__ import annotations

import re

import emoji
import phonenumbers

from . import purposes
from .exceptions import HuyiContentError, HuyiRecipientError, ResultCode, error_for_code
from .provider import VOICE_PRODUCTS

__all__ = [
    "MAX_CONTENT_LENGTH",
    "SINGLE_PART_LENGTH",
    "MULTI_PART_LENGTH",
    "DEFAULT_SIGNATURE",
    "normalize_mobile",
    "normalize_international",
    "normalize_any_mobile",
    "validate_mobile",
    "validate_mobiles",
    "prepare_mobile",
    "validate_content",
    "validate_spoken_code",
    "validate_purpose",
    "excerpt",
    "validate_template",
    "count_parts",
    "find_signatures",
    "find_emoji",
    "printable",
]

#: Submit takes at most this many characters of content.
MAX_CONTENT_LENGTH = 300
#: A message of up to this many characters (content + signature) is billed as one part…
SINGLE_PART_LENGTH = 70
#: …a longer one is billed per this many characters.
MULTI_PART_LENGTH = 67
#: A voice code's content is this many digits (the verification templates' variable: 4 to 8, 40722 past 8).
SPOKEN_CODE_LENGTH = (4, 8)
#: The signature the provider adds to content that carries none, as far as billing goes: the
#: default signature every trial account must use (ihuyi-api.md, "Rules"). An account with a
#: registered default signature of another length is billed by that one instead.
DEFAULT_SIGNATURE = "【互亿无线】"

# Mainland numbers: 11 digits beginning with 1 (ihuyi-api.md, "Rules"). ASCII digits only:
# \d would also match Arabic-Indic, Devanagari… digits, which no provider takes.
_MAINLAND_MOBILE = re.compile(r"1[0-9]{10}")
# What is left of an international number once punctuation is gone: "+", then its digits.
_INTERNATIONAL_DIGITS = re.compile(r"\+[0-9]{2,20}")
# A number as the international product writes it: country code, one space, the number.
_INTERNATIONAL_WIRE_FORM = re.compile(r"[0-9]{1,3} [0-9]{4,17}")
# Things people type into a number that carry no digit: spaces, dashes, dots, brackets.
_NUMBER_PUNCTUATION = re.compile(r"[\s\-().\u00a0\u3000]")
# Characters no message can carry: C0 controls other than tab, line feed and carriage return,
# DEL, and lone surrogates (not characters at all: they cannot be encoded as UTF-8). PostgreSQL
# refuses NUL in text; the rest would reach the phone as garbage, if the provider took them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# A 【…】 group: content that has one carries its own signature (find_signatures checks its form).
_SIGNATURE_GROUP = re.compile(r"【[^【】]+】")
# A signature's text: 2–30 letters, digits or CJK characters, no symbols.
_SIGNATURE_TEXT = re.compile(r"[0-9A-Za-z\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{2,30}")


def normalize_mobile(mobile: str, *, international: bool = False) -> str:
    """Return ``mobile`` in the form the provider expects, or raise.

    Mainland numbers may be written with spaces or dashes and with a ``+86`` /
    ``0086`` / ``86`` prefix; the result is the bare 11 digits. International
    numbers (``international=True``): see :func:`normalize_international`.
    Full-width characters, which a Chinese input method types
    (``１３８００１３８０００``, ``＋８６``), are read as their ASCII forms, so they
    give the same number; any other non-ASCII digit is malformed.

    Raises ``HuyiRecipientError`` with code 403 (empty) or 406 (malformed).
    """
    if international:
        return normalize_international(mobile)
    if mobile is None or not str(mobile).strip():
        raise error_for_code(ResultCode.MOBILE_EMPTY)
    digits = _NUMBER_PUNCTUATION.sub("", _ascii_forms(str(mobile)))
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix) :]
            break
    else:
        if len(digits) == 13 and digits.startswith("86"):
            digits = digits[2:]
    if not _MAINLAND_MOBILE.fullmatch(digits):
        raise error_for_code(ResultCode.MOBILE_INVALID)
    return digits


def normalize_international(mobile: str) -> str:
    """An international number in the international product's form: country code, a space, the number.

    ``+44 7400 123456``, ``0044 7400123456``, ``44 7400123456`` and
    ``447400123456`` all give ``44 7400123456`` (ihuyi-api.md: "country code,
    a space, the number"); ``+1 (416) 567-4636`` gives ``1 4165674636``. The
    country code comes first, with or without ``+`` or ``00``. The number is
    parsed and checked against the numbering plan of its country by
    ``phonenumbers`` (Google's libphonenumber data), so a number with a digit
    too many or too few, or in a range no country has assigned, is refused
    here rather than billed and lost. The result is the exact string sent and
    signed, and the one a delivery receipt carries back.

    Raises ``HuyiRecipientError`` with code 403 (empty) or 406 (malformed or
    not a valid number), the detail saying which, without the number.
    """
    if mobile is None or not str(mobile).strip():
        raise error_for_code(ResultCode.MOBILE_EMPTY)
    written = _NUMBER_PUNCTUATION.sub("", _ascii_forms(str(mobile)))
    if written.startswith("00"):
        written = "+" + written[2:]
    elif not written.startswith("+"):
        written = "+" + written  # the provider's own form: the country code, without "+"
    if not _INTERNATIONAL_DIGITS.fullmatch(written):
        raise error_for_code(ResultCode.MOBILE_INVALID, detail="an international number is a country code and digits")
    try:
        number = phonenumbers.parse(written, None)
    except phonenumbers.NumberParseException:
        raise error_for_code(ResultCode.MOBILE_INVALID, detail="no country has this country code") from None
    country_code = number.country_code or 0  # always set once a "+…" number parsed
    if not phonenumbers.is_valid_number(number):
        country = f"+{country_code} ({phonenumbers.region_code_for_country_code(country_code)})"
        raise error_for_code(ResultCode.MOBILE_INVALID, detail=f"not a valid number of {country}")
    return f"{country_code} {phonenumbers.national_significant_number(number)}"


def normalize_any_mobile(mobile: str) -> str:
    """``mobile`` as this package stores it, mainland or international, whichever way it is written.

    For numbers that come back from the provider (a push's ``mobilephone``) or
    that a person writes to look one up. A number in the international
    product's own form (``44 7400123456``: country code, one space, number) is
    read as international first, so that ``1 4165674636`` (a Canadian number)
    is not taken for the mainland number ``14165674636``, nor ``86 13800138000``
    (sent through the international product) for ``13800138000``. Any other
    is read as mainland first (``+86 138-0013-8000`` → ``13800138000``), then
    as international (``+44 7400 123456``). Raises ``HuyiRecipientError``
    (403, 406) when it is neither.
    """
    first_international = bool(_INTERNATIONAL_WIRE_FORM.fullmatch(_ascii_forms(str(mobile or "")).strip()))
    try:
        return normalize_mobile(mobile, international=first_international)
    except HuyiRecipientError as error:
        if error.code == ResultCode.MOBILE_EMPTY:
            raise
    return normalize_mobile(mobile, international=not first_international)


def _ascii_forms(text: str) -> str:
    """``text`` with full-width forms (``１``, ``＋``, ``－``, ``，`` …) and the ideographic space in ASCII.

    Only those: NFKC would also turn ``①``, ``¹`` or ``𝟏`` into ``1``, which nobody types
    as a phone number, so those stay malformed.
    """
    return text.translate(_FULL_WIDTH_TO_ASCII)


# U+FF01..U+FF5E are the full-width forms of ASCII 0x21..0x7E; U+3000 is the ideographic space.
_FULL_WIDTH_TO_ASCII = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def validate_mobile(mobile: str, *, international: bool = False) -> str:
    """Alias of :func:`normalize_mobile`, for call sites that read better as a check."""
    return normalize_mobile(mobile, international=international)


def validate_mobiles(mobiles: str | list[str] | tuple[str, ...]) -> list[str]:
    """Normalise several mainland numbers (the marketing product's comma-separated list).

    Duplicates are dropped, order kept. Raises code 403 when the list is empty
    and 406 naming the first malformed number.
    """
    if isinstance(mobiles, str):
        mobiles = _ascii_forms(mobiles).split(",")  # a full-width "，" separates numbers too
    cleaned: list[str] = []
    seen: set[str] = set()
    for mobile in mobiles:
        if not str(mobile).strip():
            continue
        number = normalize_mobile(mobile)
        if number not in seen:
            seen.add(number)
            cleaned.append(number)
    if not cleaned:
        raise error_for_code(ResultCode.MOBILE_EMPTY)
    return cleaned


def prepare_mobile(mobile: str | list[str] | tuple[str, ...], product: str = "sms") -> str:
    """The Submit ``mobile`` field for ``product``, normalised and checked.

    The marketing product takes several numbers (a list, or a comma-separated
    string) and gets them comma-separated; every other product takes exactly
    one; the international product takes international numbers.
    Raises ``HuyiRecipientError`` (403 empty, 406 malformed or more than one).
    """
    if product == "marketing":
        return ",".join(validate_mobiles(mobile))
    if isinstance(mobile, (list, tuple)):
        if len(mobile) != 1:
            raise error_for_code(
                ResultCode.MOBILE_INVALID, detail=f"the {product} product takes exactly one number per request"
            )
        mobile = mobile[0]
    return normalize_mobile(mobile, international=product == "international")


def find_signatures(content: str) -> list[str]:
    """The texts of the ``【…】`` groups in ``content``.

    Raises ``HuyiContentError`` (4070) when the brackets do not pair up or a
    group is not a valid signature (2–30 letters, digits or Chinese
    characters, no symbols).
    """
    signatures: list[str] = []
    depth_open: int | None = None
    for index, char in enumerate(content):
        if char == "【":
            if depth_open is not None:
                raise error_for_code(ResultCode.SIGNATURE_INVALID, detail="nested 【")
            depth_open = index
        elif char == "】":
            if depth_open is None:
                raise error_for_code(ResultCode.SIGNATURE_INVALID, detail="】 without 【")
            text = content[depth_open + 1 : index]
            if not _SIGNATURE_TEXT.fullmatch(text):
                raise error_for_code(
                    ResultCode.SIGNATURE_INVALID,
                    detail="a signature is 2-30 letters, digits or Chinese characters, without symbols",
                )
            signatures.append(text)
            depth_open = None
    if depth_open is not None:
        raise error_for_code(ResultCode.SIGNATURE_INVALID, detail="【 without 】")
    return signatures


def validate_content(content: str, *, product: str = "sms") -> str:
    """Check ``content`` as ``product``'s Submit would; return it unchanged.

    Raises ``HuyiContentError`` with the provider's code: 404 (empty), 4073
    (over :data:`MAX_CONTENT_LENGTH` characters), 4074 (emoji), 4070 (a
    malformed ``【signature】``); and with code ``None`` for a control character
    (see :func:`_check_characters`). The ``voice`` product's content is a code
    to speak: see :func:`validate_spoken_code`.
    """
    if content is None or not str(content).strip():
        raise error_for_code(ResultCode.CONTENT_EMPTY)
    content = str(content)
    if product == "voice":
        return validate_spoken_code(content)
    _check_characters(content)
    if len(content) > MAX_CONTENT_LENGTH:
        raise error_for_code(
            ResultCode.CONTENT_TOO_LONG, detail=f"{len(content)} characters, at most {MAX_CONTENT_LENGTH}"
        )
    found = find_emoji(content)
    if found:
        raise error_for_code(ResultCode.CONTENT_HAS_EMOJI, detail=f"{found[0]} at position {found[1] + 1}")
    find_signatures(content)
    return content


def validate_spoken_code(content: str) -> str:
    """Check the ``voice`` product's content, the digits a call speaks (ihuyi-api.md); return it unchanged.

    It is 4 to 8 ASCII digits, as a verification template's variable: the
    voice product has no text around them. Raises ``HuyiContentError``: 404
    (empty), 40722 (more than 8 digits, the provider's code for a code too
    long), and with code ``None`` (ihuyi documents none; the sandbox answers
    0) for anything else, such as a whole sentence meant for ``voice_notice``.
    """
    if content is None or not str(content).strip():
        raise error_for_code(ResultCode.CONTENT_EMPTY)
    content = str(content)
    shortest, longest = SPOKEN_CODE_LENGTH
    if not (content.isascii() and content.isdigit()):
        raise HuyiContentError(
            None, detail="the voice product speaks a code: its content is the digits alone (a text is a voice_notice)"
        )
    if len(content) > longest:
        raise error_for_code(ResultCode.VARIABLE_TOO_LONG, detail=f"{len(content)} digits, at most {longest}")
    if len(content) < shortest:
        raise HuyiContentError(None, detail=f"a voice code of {len(content)} digits; at least {shortest}")
    return content


_UNQUALIFIED = emoji.STATUS["unqualified"]
_TEXT_PRESENTATION = "\ufe0e"


def _emoji_start_pattern() -> re.Pattern[str]:
    """A character class of every character an emoji sequence can begin with, from the emoji data.

    Keycaps begin with an ASCII digit, ``#`` or ``*`` and are only emoji with the
    U+20E3 / U+FE0F that follow, so those marks stand in for them.
    """
    starts = {sequence[0] for sequence in emoji.EMOJI_DATA} - set("0123456789#*") | {"\u20e3", "\ufe0f"}
    return re.compile("[" + "".join(re.escape(char) for char in sorted(starts)) + "]")


_EMOJI_START = _emoji_start_pattern()


def find_emoji(content: str) -> tuple[str, int] | None:
    """The first emoji in ``content`` and its index, or ``None``.

    An emoji here is what a phone draws as a colour picture: a character whose
    default presentation is emoji (😀, ⌚), anything followed by the emoji
    presentation selector U+FE0F (©️), and every multi-character sequence
    (keycaps, flags, skin tones, ZWJ families). Symbols that are text by
    default — © ® ™ ‼ ☺ ♥ ✔, which ``emoji.emoji_count`` counts too — are
    ordinary brand and typographic text and are not emoji; nor is anything
    followed by the text presentation selector U+FE0E.
    """
    if not _EMOJI_START.search(content):
        return None  # the common case, a message of Chinese and ASCII: no need to tokenize
    for match in emoji.emoji_list(content):
        sequence, end = match["emoji"], match["match_end"]
        if content[end : end + 1] == _TEXT_PRESENTATION:
            continue
        # The emoji data marks a text-default character written without U+FE0F as "unqualified".
        if len(sequence) == 1 and emoji.EMOJI_DATA.get(sequence, {}).get("status") == _UNQUALIFIED:
            continue
        return sequence, match["match_start"]
    return None


def _check_characters(content: str) -> None:
    """Refuse control characters (NUL and the other C0 controls except tab, CR and LF, DEL) and lone surrogates.

    ihuyi documents no code for them, and none of its codes means this: 407
    is its list of sensitive words, 4073 length, 4074 emoji. Borrowing one
    would send a developer after the wrong problem, so this is a
    ``HuyiContentError`` (the class of failure is right: the text) with code
    ``None`` and a detail naming the character. The sandbox, which runs this
    check, answers it with the provider's catch-all code 0 (提交失败).
    """
    found = _CONTROL.search(content)
    if found:
        raise HuyiContentError(
            None,
            detail=f"content holds a control character (U+{ord(found.group()):04X}) at position {found.start() + 1}",
        )


def validate_template(content: str) -> str:
    """Check a template's text as AddTemplate would; return it unchanged.

    Raises ``HuyiContentError``: 404 (empty), or code ``None`` for a control
    character (see :func:`_check_characters`). Variables (``【变量】``) are not
    signatures, so the Submit checks on ``【…】`` do not apply.
    """
    if content is None or not str(content).strip():
        raise error_for_code(ResultCode.CONTENT_EMPTY)
    content = str(content)
    _check_characters(content)
    return content


def validate_purpose(purpose: str | None, *, max_length: int = purposes.MAX_LENGTH) -> str:
    """Check the label a send is logged with; return it (``""`` for ``None``).

    The purpose is ours, not the provider's, so a bad one is a programming
    error: raises ``ValueError`` when it is longer than ``max_length`` (the log
    column's size: PostgreSQL would refuse the row, SQLite would keep it
    whole) or holds a control character.
    """
    purpose = "" if purpose is None else str(purpose)
    if len(purpose) > max_length:
        raise ValueError(f"purpose is {len(purpose)} characters long; at most {max_length} fit the log")
    if _CONTROL.search(purpose) or any(char in purpose for char in "\t\n\r"):
        raise ValueError("purpose holds a control character")
    return purpose


def count_parts(content: str, *, product: str = "sms", default_signature: str = DEFAULT_SIGNATURE) -> int:
    """How many messages the provider bills ``content`` as (a call of a voice product: one).

    The provider counts content and signature together: up to 70 characters is
    one part; a longer message is billed per 67 characters (71–134 → 2,
    135–201 → 3, …). Every character counts as one, Chinese or not.

    Content that carries its own ``【signature】`` is counted as it is. Content
    without one gets the account's default signature from the provider, so
    ``default_signature`` (:data:`DEFAULT_SIGNATURE`, the trial accounts'
    【互亿无线】, 6 characters) is counted with it: 64 characters of unsigned
    text are one part, 65 are two. Pass the account's own default signature if
    it has another; counting none would undercount every message near a
    boundary, which is the error that costs money.

    The voice products make a phone call, whatever the length of what it
    says: ihuyi does not say how calls are billed, and one is counted as one.
    """
    if product in VOICE_PRODUCTS:
        return 1
    length = len(content)
    if not _SIGNATURE_GROUP.search(content):
        length += len(default_signature)
    if length <= SINGLE_PART_LENGTH:
        return 1
    return -(-length // MULTI_PART_LENGTH)


def printable(text: str) -> str:
    """``text`` with the characters no database column or message can carry replaced by U+FFFD.

    For text that comes from outside (a provider's reply): NUL, which
    PostgreSQL refuses, other C0 controls, DEL and lone surrogates (which
    cannot be encoded at all) would make a write fail after the fact.
    """
    return _CONTROL.sub("\ufffd", text)


def excerpt(text: str, length: int) -> str:
    """``text`` cut to ``length`` characters, the last one an ellipsis when anything was cut."""
    return text if len(text) <= length else text[: length - 1] + "…"
