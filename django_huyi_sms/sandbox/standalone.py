"""The phone pages of ``manage.py huyi_sandbox``: ``pages.py`` rendered with the site's templates, over plain WSGI.

:func:`pages_app` is the ``pages`` a standalone server (``wsgi.make_app``)
hands every path that is not an endpoint or a phone's JSON: the index at ``/``,
``phone/<mobile>/`` and the template review form, at the paths ``paths.py``
gives the Django URLconf too. It needs Django's settings (templates,
translations) but no database, no middleware and no URLconf of its own.

No session, so no CSRF token: a form posted from a page of another origin
(its ``Origin`` header names another host) is refused with 403, which is what
a token would stop.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation.trans_real import parse_accept_lang_header

from . import pages
from .gateway import SandboxGateway
from .paths import PHONE, REVIEW_TEMPLATE, Links
from .wsgi import BodyTooLarge, WSGIApp, answer, not_allowed, read_form

__all__ = ["pages_app"]

_PHONE = re.compile(PHONE)
_HTML = "text/html; charset=utf-8"
_TEXT = "text/plain; charset=utf-8"


def pages_app(gateway: SandboxGateway, links: Links) -> WSGIApp:
    """A WSGI app serving ``gateway``'s HTML pages, which link with ``links`` (its ``root`` is ``/``)."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "").lstrip("/")
        method = environ.get("REQUEST_METHOD", "GET").upper()
        query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True, encoding="utf-8"))
        phone = _PHONE.fullmatch(path)
        allowed = ("GET",) if path == "" else ("POST",) if path == REVIEW_TEMPLATE else ("GET", "POST")
        if path not in ("", REVIEW_TEMPLATE) and phone is None:
            return answer(start_response, "404 Not Found", _TEXT, b"not found\n")
        if method not in allowed:
            return not_allowed(start_response, allowed)
        data = None
        if method == "POST":
            if not _same_origin(environ):
                return answer(start_response, "403 Forbidden", _TEXT, b"cross-origin form refused\n")
            try:
                data = read_form(environ)
            except BodyTooLarge:
                return answer(start_response, "413 Content Too Large", _TEXT, b"too large\n")
        with translation.override(_language(environ)):
            if path == "":
                page = pages.index_page(gateway, links, reviewed=query.get("reviewed", ""))
            elif path == REVIEW_TEMPLATE:
                page = pages.review_template(gateway, links, data)
            else:
                assert phone is not None
                try:
                    page = pages.phone_page(
                        gateway, links, phone.group("mobile"), data=data, replied=query.get("replied") == "1"
                    )
                except pages.NotAPhone:
                    return answer(start_response, "404 Not Found", _TEXT, b"not a mobile number\n")
            if page.location:
                return answer(start_response, "303 See Other", _TEXT, b"", [("Location", page.location)])
            body = render_to_string(page.template, page.context).encode("utf-8")
        return answer(start_response, f"{page.status} {'OK' if page.status == 200 else 'Bad Request'}", _HTML, body)

    return app


def _same_origin(environ: dict[str, Any]) -> bool:
    """Whether a form post came from this server's own pages (or from no browser page at all)."""
    origin = environ.get("HTTP_ORIGIN")
    if origin is None:
        return True  # not a browser's cross-site form post: browsers send Origin with every POST
    return urlsplit(origin).netloc == environ.get("HTTP_HOST", "")


def _language(environ: dict[str, Any]) -> str:
    """The first of the browser's languages the site has (Accept-Language), else the site's default."""
    for code, _quality in parse_accept_lang_header(environ.get("HTTP_ACCEPT_LANGUAGE", "")):
        if code == "*":
            break
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return translation.get_language() or "en"
