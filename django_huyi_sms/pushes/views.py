"""The push endpoints (DRF): authenticate → parse → hand to ``receipts.py`` → answer ``success``.

The provider retries any push not answered with the body ``success`` (at most
three times), so ``success`` is sent only after the write is committed, and any
refusal is a short plain-text 4xx that writes nothing. A database outage
answers 503, so the provider tries again later instead of the push being lost.

A project's REST framework defaults are meant for its own API, not for the
provider: the push views ignore the caller's ``Accept`` header (the provider's
is undocumented, and a 406 would lose the push) and opt out of the project's
throttling and versioning (a throttled receipt is a lost receipt: the provider
gives up after three tries).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import Error as DatabaseFailure
from django.db import transaction
from django.http import HttpResponse
from django.utils.decorators import method_decorator
from rest_framework import exceptions as drf_exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import receipts
from ..parsers import StrictFormParser, StrictJSONParser
from ..provider import check_product
from .auth import PushRefused, authenticate_push
from .parsing import PushInvalid, parse_receipt, parse_reply, parse_template

logger = logging.getLogger("django_huyi_sms.pushes")

#: A push is a handful of short fields; anything bigger is not from the provider.
MAX_BODY_BYTES = 16 * 1024


def _plain(text: str, status: int) -> Response:
    return Response(text, status=status, content_type="text/plain; charset=utf-8")


class PlainTextRenderer(BaseRenderer):
    """What every push answer is: a word of plain text (the views build the response themselves)."""

    media_type = "text/plain"
    format = "txt"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return str(data if data is not None else "").encode(self.charset)


class IgnoreAcceptNegotiation(DefaultContentNegotiation):
    """Pick the body's parser by ``Content-Type`` as usual, but never refuse for ``Accept``.

    The provider's ``Accept`` header is not documented; whatever it sends, the
    answer is ``success`` in plain text. (``?format=`` is ignored the same way.)
    """

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


@method_decorator(transaction.non_atomic_requests, name="dispatch")
class PushView(APIView):
    """Base class: subclasses implement :meth:`handle_fields`.

    Every REST framework hook that a project's ``DEFAULT_*`` settings could turn
    against the provider is set here (see the module docstring).
    """

    # The provider only POSTs. OPTIONS would answer DRF's metadata: the view's docstring and more.
    http_method_names = ["post"]
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []
    versioning_class = None
    parser_classes = [StrictFormParser, StrictJSONParser]
    renderer_classes = [PlainTextRenderer]
    content_negotiation_class = IgnoreAcceptNegotiation
    kind = "push"

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        try:
            authenticate_push(request._request)
        except PushRefused as refused:
            logger.warning("refused %s push from %s: %s", self.kind, refused.caller or "?", refused.reason)
            raise drf_exceptions.PermissionDenied(refused.reason) from None
        self._check_body(request)

    def _check_body(self, request: Request) -> None:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise PushInvalid("bad Content-Length") from None
        if length > MAX_BODY_BYTES:
            raise PushInvalid(f"body larger than {MAX_BODY_BYTES} bytes")
        body = request._request.body
        if len(body) > MAX_BODY_BYTES:
            raise PushInvalid(f"body larger than {MAX_BODY_BYTES} bytes")

    def post(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        data = request.data
        if not isinstance(data, Mapping):
            raise PushInvalid("body must be form fields or a JSON object")
        fields = {key: _single(data, key) for key in data}
        self.handle_fields(fields, request)
        # A plain Django response, which DRF passes through as it is: no template response to render
        # (a tenth of what the view itself costs, measured; the refusals keep DRF's own).
        return HttpResponse("success", content_type="text/plain; charset=utf-8")

    def handle_fields(self, fields: dict[str, Any], request: Request) -> None:
        raise NotImplementedError

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, PushInvalid):
            logger.info("rejected %s push: %s", self.kind, exc.reason)
            return _plain(f"invalid: {exc.reason}", 400)
        if isinstance(exc, drf_exceptions.ParseError):
            # The body's charset, nesting, a name given twice (parsers.py): malformed like any other.
            logger.info("rejected %s push: %s", self.kind, exc.detail)
            return _plain(f"invalid: {exc.detail}", 400)
        if isinstance(exc, drf_exceptions.APIException):
            detail = exc.detail if isinstance(exc.detail, str) else "bad request"
            return _plain(str(detail), exc.status_code)
        # Error, not DatabaseError: a connection that went away is an InterfaceError, which
        # the DB-API does not count among DatabaseErrors; it too is a push the provider must retry.
        if isinstance(exc, DatabaseFailure):
            logger.exception("%s push not stored; answering 503 so the provider retries", self.kind)
            return _plain("temporarily unavailable", 503)
        raise exc


def _single(data: Any, key: str) -> Any:
    """One value per field: a form field sent twice, or a JSON list or object, is not a push."""
    if hasattr(data, "getlist"):
        values = data.getlist(key)
        if len(values) != 1:
            raise PushInvalid(f"{key} is given {len(values)} times")
        return values[0]
    value = data[key]
    if isinstance(value, (list, dict)):
        raise PushInvalid(f"{key} must be a single value")
    return value


class ReceiptPushView(PushView):
    """发送回执推送: a delivery receipt. ``receipts.apply_receipt`` stores and applies it."""

    kind = "receipt"

    def handle_fields(self, fields: dict[str, Any], request: Request) -> None:
        receipts.apply_receipt(parse_receipt(fields))


class ReplyPushView(PushView):
    """上行回复推送: somebody texted back. Opt-out words add the number to ``OptOut``."""

    kind = "reply"

    def handle_fields(self, fields: dict[str, Any], request: Request) -> None:
        receipts.record_reply(parse_reply(fields))


class TemplatePushView(PushView):
    """模板审核状态推送: a template was approved or rejected. ``?product=`` narrows the match."""

    kind = "template"

    def handle_fields(self, fields: dict[str, Any], request: Request) -> None:
        product = request.query_params.get("product") or None
        if product is not None:
            try:
                check_product(product)
            except ValueError:
                raise PushInvalid("unknown product") from None
        receipts.apply_template_review(parse_template(fields, product))
