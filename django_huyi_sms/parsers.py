"""The request bodies the app's views take (the pushes and the JSON API): JSON and form fields, read strictly.

Every one of those views parses its body with these REST framework parsers, so
that odd input is one 400 with a short reason (DRF's ``ParseError``), never a
500, and whatever a view then reads is text that any database can store and
any answer can echo:

- the charset named in ``Content-Type`` must be a text encoding that Django's
  form parsing can use, and the body, percent-escapes and all, must decode in
  it strictly (no U+FFFD in place of ``%FF``): ``rot13`` or ``zlib``
  name codecs that are no text encoding at all; ``idna`` and ``undefined``
  cannot decode with ``errors="replace"``, and they and ``punycode`` fail with
  a bare ``UnicodeError`` that the usual ``except UnicodeDecodeError`` lets through;
- JSON may nest at most :data:`MAX_DEPTH` deep (neither a push nor a request
  nests at all; thousands deep, Python's JSON parser, or whatever prints the
  value later, runs out of recursion);
- no name is given twice, in JSON as in a form: which of two values counts
  would be up to the parser (JSON keeps the last, silently);
- no name or value holds a lone surrogate (JSON's ``"\\ud800"``, or what
  ``charset=unicode_escape`` makes of the six characters ``\\ud800``): it is no
  character, cannot be encoded as UTF-8, and PostgreSQL refuses it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

from django.http import HttpRequest, QueryDict
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils import json as drf_json

if TYPE_CHECKING:
    from django.http.request import _ImmutableQueryDict

__all__ = ["MAX_DEPTH", "is_text", "form_problem", "StrictJSONParser", "StrictFormParser", "StrictMultiPartParser"]

#: How deep JSON may nest (a push or a request is one flat object: depth 1).
MAX_DEPTH = 32

_SURROGATE = re.compile("[\ud800-\udfff]")


def is_text(value: str) -> bool:
    """Whether ``value`` can be encoded as UTF-8: it holds no lone surrogate."""
    return not _SURROGATE.search(value)


def _encoding(parser_context: Mapping[str, Any] | None) -> str:
    """The body's charset, if the parsers can use it; raise ``ParseError`` if not."""
    encoding = (parser_context or {}).get("encoding") or "utf-8"
    try:
        # str.encode() refuses every codec that is no text encoding (bytes.decode() would not for
        # an empty body); Django decodes percent-escapes and multipart fields with errors="replace".
        "".encode(encoding)
        b"-".decode(encoding, "replace")
    except (LookupError, UnicodeError):
        raise ParseError(gettext("charset %(charset)s is not supported") % {"charset": encoding[:40].upper()}) from None
    return encoding


def _not_valid(encoding: str) -> ParseError:
    return ParseError(gettext("body is not valid %(charset)s") % {"charset": encoding[:40].upper()})


def _decode(body: bytes, encoding: str) -> str:
    try:
        return body.decode(encoding)
    except UnicodeError:  # UnicodeDecodeError, and the bare UnicodeError of idna, punycode, "undefined"
        raise _not_valid(encoding) from None


def _too_deep() -> ParseError:
    return ParseError(gettext("JSON nested more than %(depth)d deep") % {"depth": MAX_DEPTH})


def _lone_surrogate() -> ParseError:
    return ParseError(gettext("a name or value holds a lone surrogate (such as \\ud800)"))


def _check_names(names: Iterable[str]) -> None:
    """Refuse a name given more than once (``names``: every name of one JSON object or form)."""
    for name, count in Counter(names).items():
        if count > 1:
            # Shown escaped: the name may hold a lone surrogate, which no answer can carry.
            shown = name[:64].encode("utf-8", "backslashreplace").decode()
            raise ParseError(gettext("%(name)s is given %(count)d times") % {"name": shown, "count": count})


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads``'s ``object_pairs_hook``: an object, unless a name is given twice."""
    _check_names(name for name, _value in pairs)
    return dict(pairs)


def _check_json(data: Any) -> None:
    """Refuse JSON nested deeper than :data:`MAX_DEPTH`, or holding a lone surrogate (walked without recursion)."""
    pending = [(data, 0)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            if not is_text(value):
                raise _lone_surrogate()
        elif isinstance(value, (dict, list)):
            if depth >= MAX_DEPTH:
                raise _too_deep()
            children = [*value, *value.values()] if isinstance(value, dict) else value
            pending.extend((child, depth + 1) for child in children)


def _check_text(data: QueryDict) -> None:
    """Refuse form fields holding a lone surrogate."""
    for name, values in data.lists():
        if not is_text(name) or not all(is_text(value) for value in values):
            raise _lone_surrogate()


def _check_fields(data: QueryDict) -> None:
    """Refuse form fields holding a lone surrogate, or given twice."""
    _check_text(data)
    _check_names(name for name, values in data.lists() for _value in values)


def form_problem(request: HttpRequest) -> str | None:
    """Why the form in ``request``'s body cannot be read, or ``None`` when it can.

    For the app's HTML pages, which read ``request.POST`` through Django's
    forms: the body's charset must be a text encoding, the body must decode in
    it, and no field may hold a lone surrogate (a page that echoes it could not
    be encoded). Laxer than the parsers, as a browser's form needs: a name
    given twice or a stray ``%FF`` is the form's to judge.
    """
    try:
        encoding = _encoding({"encoding": request.encoding})
        try:
            fields = request.POST
        except (UnicodeError, MultiPartParserError):
            raise _not_valid(encoding) from None
        _check_text(fields)
    except ParseError as error:
        return str(error.detail)
    return None


class StrictJSONParser(parsers.JSONParser):
    """JSON, checked as the module docstring says."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        text = _decode(stream.read(), _encoding(parser_context))
        parse_constant = drf_json.strict_constant if self.strict else None
        try:
            data = json.loads(text, object_pairs_hook=_object, parse_constant=parse_constant)
        except RecursionError:
            raise _too_deep() from None
        except ValueError as error:  # its message names a position or a constant, never the input
            raise ParseError(gettext("JSON parse error - %(detail)s") % {"detail": error}) from None
        _check_json(data)
        return data


class StrictFormParser(parsers.FormParser):
    """``application/x-www-form-urlencoded``, checked as the module docstring says."""

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> _ImmutableQueryDict:
        encoding = _encoding(parser_context)
        body = stream.read()
        # Percent-escapes too must be text in the charset (%FF is no UTF-8): QueryDict would quietly
        # make U+FFFD of them, and a push's raw copy would not be what was sent.
        _decode(unquote_to_bytes(body), encoding)
        data = QueryDict(body, encoding=encoding)
        _check_fields(data)
        return data


class StrictMultiPartParser(parsers.MultiPartParser):
    """``multipart/form-data`` (a form with that ``enctype``, DRF's test client), checked likewise."""

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> parsers.DataAndFiles:
        encoding = _encoding(parser_context)
        try:
            result = super().parse(stream, media_type, parser_context)
        except UnicodeError:
            # Even with errors="replace": punycode, for one, reads its input as strict ASCII first.
            raise _not_valid(encoding) from None
        _check_fields(result.data)
        return result
