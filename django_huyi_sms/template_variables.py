"""The provider's template-variable mode: a template's variables, checked and filled in as ihuyi does.

A template is written with ``【变量】`` (or ``【变量1】``, ``【变量2】`` …) where a value
goes. A send in template-variable mode names an approved template
(``templateid``) and carries only the values, ``|``-separated in the order their
places appear in the template; the provider renders the message
(ihuyi-api.md, "Two ways to send"). This module knows those rules, so that
``sending.py`` refuses before any call what the provider would refuse, and
renders the text the phone gets for the log, the admin and the billing count;
the sandbox answers from the same rules, so it refuses exactly that too.

What the provider says and this module does:

* a wrong number of values is 4072 (the content matches no approved template);
  so is a value holding ``|``, which the provider would read as two values;
* a verification template's value (the code) is at most 8 characters: 40722.
  The provider does not say how it tells a verification template from another;
  this package takes one to be a template whose text speaks of a code (``验证码``
  or ``code``), as template 1 does (:func:`is_verification_template`); the
  vendor's own multi-variable example sends an 11-digit order number, so other
  templates' values are not capped;
* ihuyi-api.md says a verification value is 4–8 characters, but documents no
  code for a short one: that is left to the provider rather than guessed;
* an empty value has no documented code either, and would leave a hole in the
  message: it is refused as ``HuyiContentError`` with code ``None`` and a
  detail naming it, like a control character (``validation.py``).

Pure Python; no Django.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from .exceptions import HuyiContentError, ResultCode, error_for_code

__all__ = [
    "DEFAULT_TEMPLATE_ID",
    "DEFAULT_TEMPLATE",
    "DEFAULT_TEMPLATE_PRODUCT",
    "SEPARATOR",
    "MAX_VERIFICATION_VARIABLE_LENGTH",
    "VARIABLE",
    "is_default_template",
    "count_variables",
    "speaks_of_a_code",
    "is_verification_template",
    "check_templateid",
    "check_values",
    "render",
    "join",
    "split",
]

#: Every account's default verification template, known without being added (ihuyi-api.md).
DEFAULT_TEMPLATE_ID = 1
DEFAULT_TEMPLATE = "您的验证码是：【变量】。请不要把验证码泄露给其他人。"
#: The product whose accounts have it: the verification / notification SMS.
DEFAULT_TEMPLATE_PRODUCT = "sms"

#: What separates the values in a template send's ``content``.
SEPARATOR = "|"
#: A verification template's value (the code) takes at most this many characters (40722 past it).
MAX_VERIFICATION_VARIABLE_LENGTH = 8

#: A variable's place in a template: 【变量】, or numbered 【变量1】, 【变量2】 … when there are several.
VARIABLE = re.compile(r"【变量[0-9]*】")

# The largest templateid the log's column (a 64-bit integer) holds.
_MAX_TEMPLATEID = 2**63 - 1


def is_default_template(templateid: int, product: str) -> bool:
    """Whether ``templateid`` names the default verification template on ``product``'s account."""
    return templateid == DEFAULT_TEMPLATE_ID and product == DEFAULT_TEMPLATE_PRODUCT


def count_variables(template: str) -> int:
    """How many values ``template`` takes: one per ``【变量】`` place, in the order they appear."""
    return len(VARIABLE.findall(template))


def speaks_of_a_code(text: str) -> bool:
    """Whether ``text`` says it carries a verification code (``验证码``, or ``code`` in any case)."""
    return "验证码" in text or "code" in text.lower()


def is_verification_template(template: str) -> bool:
    """Whether ``template`` is a verification template, whose values are capped at 8 characters.

    One whose text speaks of a code (:func:`speaks_of_a_code`), like template 1.
    The provider does not publish how it tells; the sandbox uses this same rule.
    """
    return speaks_of_a_code(template)


def check_templateid(templateid: object) -> int:
    """``templateid`` if it is a whole number from 1 that fits the log; raises ``TypeError`` / ``ValueError``.

    A templateid is given by the program, not the provider: a wrong one is a
    programming error. ``True`` is not a templateid, though Python counts it as 1.
    """
    if isinstance(templateid, bool) or not isinstance(templateid, int):
        raise TypeError(f"a templateid is an int, not {type(templateid).__name__}")
    if not 1 <= templateid <= _MAX_TEMPLATEID:
        raise ValueError(f"a templateid is a whole number from 1, not {templateid}")
    return templateid


def check_values(template: str, values: Iterable[str | int], *, templateid: int | None = None) -> tuple[str, ...]:
    """``values`` as the strings the provider will fill ``template`` with, checked as the provider checks them.

    Each value is a string or an int. Raises ``TypeError`` for anything else
    (a bare string too: it would be read one character a value), and
    ``HuyiContentError`` with the provider's code: 4072 for a value holding
    ``|`` or a wrong number of values, 40722 for a verification template's
    value longer than 8 characters; with code ``None`` for an empty value.
    ``templateid`` only names the template in the errors.
    """
    if isinstance(values, (str, bytes)):
        raise TypeError("variables is a list or tuple of values, not a string: write variables=[value]")
    checked = tuple(_value(value) for value in values)
    name = f"template #{templateid}" if templateid is not None else "the template"
    for position, value in enumerate(checked, 1):
        if SEPARATOR in value:
            raise error_for_code(
                ResultCode.TEMPLATE_MISMATCH,
                detail=f"variable {position} holds {SEPARATOR!r}, which separates variables: "
                "the provider would read one value more",
            )
        if not value.strip():
            raise HuyiContentError(None, detail=f"variable {position} is empty")
    expected = count_variables(template)
    if len(checked) != expected:
        raise error_for_code(
            ResultCode.TEMPLATE_MISMATCH,
            detail=f"{name} takes {expected} variable{'s' if expected != 1 else ''}, {len(checked)} given",
        )
    if is_verification_template(template):
        for position, value in enumerate(checked, 1):
            if len(value) > MAX_VERIFICATION_VARIABLE_LENGTH:
                raise error_for_code(
                    ResultCode.VARIABLE_TOO_LONG,
                    detail=f"variable {position} of {name}, a verification template, is {len(value)} characters; "
                    f"at most {MAX_VERIFICATION_VARIABLE_LENGTH}",
                )
    return checked


def render(template: str, values: Sequence[str]) -> str:
    """``template`` with its places filled by ``values`` in order: the text the phone gets.

    Call :func:`check_values` first; raises ``ValueError`` when the number of
    values is not the number of places.
    """
    if len(values) != count_variables(template):
        raise ValueError(f"the template takes {count_variables(template)} values, not {len(values)}")
    filling = iter(values)
    return VARIABLE.sub(lambda _place: next(filling), template)


def join(values: Sequence[str]) -> str:
    """The ``content`` field of a template send: the values, ``|``-separated."""
    return SEPARATOR.join(values)


def split(content: str) -> tuple[str, ...]:
    """A template send's ``content`` as the provider reads it: the values between the ``|``."""
    return tuple(content.split(SEPARATOR))


def _value(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"a template variable is a string or an int, not {type(value).__name__}")
