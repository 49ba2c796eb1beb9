"""The sandbox gateway inside a Django site: the provider's endpoints and a "phone" to look at.

Thin: every answer comes from the shared gateway (``state.get_gateway``).
The provider endpoints are CSRF-exempt, as the provider's are; the reply form
and the template review form are not.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ..template_variables import DEFAULT_TEMPLATE, DEFAULT_TEMPLATE_ID
from .inbox import phone_payload
from .state import get_gateway
from .wire import read_body

# The numbers the sandbox stores: mainland (11 digits) or international (country code, a space, the
# number: "44 7400123456"), or the latter's digits run together.
_MOBILE = re.compile(r"[0-9]{5,20}|[0-9]{1,3} [0-9]{4,17}")


class ReplyForm(forms.Form):
    """What the person at the phone texts back."""

    content = forms.CharField(
        label=_("Reply"),
        max_length=300,  # the provider's content limit
        strip=True,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. TD to unsubscribe")}),
    )


class TemplateReviewForm(forms.Form):
    """The provider's review of a template submitted with AddTemplate: approve or reject, with a reason."""

    APPROVE = "approve"
    REJECT = "reject"

    templateid = forms.IntegerField(label=_("Template id"), min_value=1, widget=forms.HiddenInput)
    decision = forms.ChoiceField(label=_("Decision"), choices=[(APPROVE, _("Approve")), (REJECT, _("Reject"))])
    msg = forms.CharField(
        label=_("Reason"),
        max_length=255,  # what the template push's msg may hold
        required=False,
        strip=True,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. the signature is not registered")}),
    )

    def __init__(self, *args: Any, templateids: set[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.templateids = templateids

    def clean_templateid(self) -> int:
        templateid = self.cleaned_data["templateid"]
        if templateid not in self.templateids:
            raise forms.ValidationError(
                _("The sandbox has no template %(templateid)s."), params={"templateid": templateid}
            )
        return templateid


@csrf_exempt
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


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """Every number that received a message, the latest first, with counts; and the templates to review."""
    return _render_index(request, review_error=None, reviewed=request.GET.get("reviewed", ""))


def _render_index(request: HttpRequest, *, review_error: TemplateReviewForm | None, reviewed: str) -> HttpResponse:
    gateway = get_gateway()
    phones = [
        {"mobile": mobile, "count": len(received), "latest": received[0] if received else None}
        for mobile in gateway.phones()
        for received in [gateway.messages_for(mobile)]
    ]
    context = {
        "phones": phones,
        "templates": list(reversed(gateway.templates)),  # the latest submitted first
        "review_error": review_error,
        "reviewed": reviewed if reviewed.isdigit() else "",
        "template_url_set": bool(gateway.template_url),
        "default_template_id": DEFAULT_TEMPLATE_ID,
        "default_template": DEFAULT_TEMPLATE,
    }
    return render(request, "django_huyi_sms/sandbox/index.html", context, status=400 if review_error else 200)


@require_POST
def review_template(request: HttpRequest) -> HttpResponse:
    """Approve or reject a template, as the provider's reviewers would; pushed to TEMPLATE_URL."""
    gateway = get_gateway()
    form = TemplateReviewForm(request.POST, templateids={template.templateid for template in gateway.templates})
    if not form.is_valid():
        return _render_index(request, review_error=form, reviewed="")
    templateid = form.cleaned_data["templateid"]
    approved = form.cleaned_data["decision"] == TemplateReviewForm.APPROVE
    try:
        gateway.review_template(templateid, approved=approved, msg=form.cleaned_data["msg"])
    except KeyError:  # the gateway was rebuilt (its settings changed) since the form was checked
        form.add_error("templateid", _("The sandbox has no template %(templateid)s.") % {"templateid": templateid})
        return _render_index(request, review_error=form, reviewed="")
    return redirect(f"{reverse('huyi_sandbox:index')}?reviewed={templateid}")


@require_http_methods(["GET", "POST"])
def phone(request: HttpRequest, mobile: str) -> HttpResponse:
    """What ``mobile`` received, newest first, and a form to text back (pushed to REPLY_URL)."""
    if not _MOBILE.fullmatch(mobile):
        raise Http404(_("Not a mobile number."))
    gateway = get_gateway()
    status = 200
    if request.method == "POST":
        form = ReplyForm(request.POST)
        if form.is_valid():
            gateway.send_reply(mobile, form.cleaned_data["content"])
            return redirect(f"{request.path}?replied=1")
        status = 400
    else:
        form = ReplyForm()
    context = {
        "mobile": mobile,
        "sms_messages": gateway.messages_for(mobile),
        "replies": gateway.replies_for(mobile),
        "latest_code": gateway.latest_code(mobile),
        "form": form,
        "replied": request.GET.get("replied") == "1",
        "reply_url_set": bool(gateway.reply_url),
    }
    return render(request, "django_huyi_sms/sandbox/phone.html", context, status=status)


@require_GET
def phone_json(request: HttpRequest, mobile: str) -> JsonResponse:
    """What ``mobile`` received, as JSON (the same as the standalone server's ``/phone/<mobile>.json``)."""
    if not _MOBILE.fullmatch(mobile):
        raise Http404(_("Not a mobile number."))
    return JsonResponse(phone_payload(get_gateway(), mobile), json_dumps_params={"ensure_ascii": False})
