"""The sandbox gateway inside a Django site: the provider's endpoints and the phone pages.

Thin: every answer comes from the shared gateway (``state.get_gateway``), every
page from ``pages.py``. The provider endpoints are CSRF-exempt, as the
provider's are; the reply form and the template review form are not.

The views serve two mounts: a site's own ``include("django_huyi_sms.sandbox.urls")``,
always on, and the app's ``sandbox/`` (``django_huyi_sms.urls``), which passes
``site_sandbox=True`` and answers 404 unless ``HUYI_SMS["SANDBOX_SITE"]`` is set,
read on each request so that ``override_settings`` turns it on and off.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ..conf import huyi_settings
from ..views import readable_form
from . import pages
from .inbox import phone_payload
from .pages import ReplyForm, TemplateReviewForm
from .paths import MOBILE, Links
from .state import get_gateway
from .wire import read_body

# The forms lived here before pages.py served both servers.
__all__ = ["ReplyForm", "TemplateReviewForm", "index", "phone", "phone_json", "provider", "review_template"]

View = Callable[..., HttpResponseBase]


def _served(view: View) -> View:
    """``view``, answering 404 on the app's mount while ``SANDBOX_SITE`` is empty."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, site_sandbox: bool = False, **kwargs: Any) -> HttpResponseBase:
        if site_sandbox and not huyi_settings.SANDBOX_SITE:
            raise Http404(_("The sandbox is off: HUYI_SMS['SANDBOX_SITE'] is empty."))
        return view(request, *args, **kwargs)

    return wrapper


def _links(request: HttpRequest) -> Links:
    """The links of the mount ``request`` came through, and the way back to this site."""
    match = request.resolver_match
    namespace = match.namespace if match is not None else "huyi_sandbox"
    home, login = pages.way_back()
    return Links(reverse(f"{namespace}:index"), home=home, login=login)


def _respond(request: HttpRequest, page: pages.Page) -> HttpResponse:
    if page.location:
        return redirect(page.location)
    return render(request, page.template, page.context, status=page.status)


@csrf_exempt
@_served
def provider(request: HttpRequest, product: str) -> HttpResponse:
    """One of the provider's endpoints (``?method=Submit`` / ``GetNum`` / ``AddTemplate``).

    The fields may be in the query string or the body, the body's winning; the
    body is read as the standalone server reads it (``wire.read_body``), not
    as Django's forms would: those skip a body with no or another content type.
    """
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    # The whole header: multipart's boundary is one of its parameters.
    form = read_body(request.META.get("CONTENT_TYPE", ""), request.body) if request.method == "POST" else {}
    params = {**request.GET.dict(), **form}
    method = request.GET.get("method") or params.get("method", "")
    content_type, body = get_gateway().handle(product, method, params, remote_addr=request.META.get("REMOTE_ADDR", ""))
    return HttpResponse(body, content_type=content_type)


@_served
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """Every number that received a message, the latest first, with counts; and the templates to review."""
    return _respond(request, pages.index_page(get_gateway(), _links(request), reviewed=request.GET.get("reviewed", "")))


@_served
@require_POST
@readable_form
def review_template(request: HttpRequest) -> HttpResponse:
    """Approve or reject a template, as the provider's reviewers would; pushed to TEMPLATE_URL."""
    return _respond(request, pages.review_template(get_gateway(), _links(request), request.POST))


@_served
@require_http_methods(["GET", "POST"])
@readable_form
def phone(request: HttpRequest, mobile: str) -> HttpResponse:
    """What ``mobile`` received, newest first, and a form to text back (pushed to REPLY_URL)."""
    data = request.POST if request.method == "POST" else None
    try:
        page = pages.phone_page(
            get_gateway(), _links(request), mobile, data=data, replied=request.GET.get("replied") == "1"
        )
    except pages.NotAPhone:
        raise Http404(_("Not a mobile number.")) from None
    return _respond(request, page)


@_served
@require_GET
def phone_json(request: HttpRequest, mobile: str) -> JsonResponse:
    """What ``mobile`` received, as JSON (the same as the standalone server's ``/phone/<mobile>.json``)."""
    if not MOBILE.fullmatch(mobile):
        raise Http404(_("Not a mobile number."))
    return JsonResponse(phone_payload(get_gateway(), mobile), json_dumps_params={"ensure_ascii": False})
