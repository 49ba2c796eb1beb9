"""The sends list's "Send from a template" page: one message from an approved template, by ``sending.send_sms``."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from .. import sending, template_variables, validation
from ..exceptions import HuyiError
from ..models import PRODUCT_LABELS, SmsLog, SmsTemplate

if TYPE_CHECKING:  # pragma: no cover
    from .sends import SmsLogAdmin

#: Characters of a template's text shown in the list to pick from.
LABEL_LENGTH = 120
# A sent form's token is remembered this long: a second submission of it sends nothing.
_SENT_FORM_SECONDS = 24 * 3600


def template_choices() -> list[tuple[str, str]]:
    """The templates a message may be sent from: template 1, then the approved ones by product and id."""
    choices = [
        _choice(
            template_variables.DEFAULT_TEMPLATE_PRODUCT,
            template_variables.DEFAULT_TEMPLATE_ID,
            template_variables.DEFAULT_TEMPLATE,
        )
    ]
    approved = SmsTemplate.objects.filter(status=SmsTemplate.Status.APPROVED, templateid__isnull=False)
    for template in approved.order_by("product", "templateid").only("product", "templateid", "content"):
        templateid = template.templateid
        if templateid is not None and not template_variables.is_default_template(templateid, template.product):
            choices.append(_choice(template.product, templateid, template.content))
    return choices


def _choice(product: str, templateid: int, text: str) -> tuple[str, str]:
    count = template_variables.count_variables(text)
    variables = ngettext("%(count)d variable", "%(count)d variables", count) % {"count": count}
    label = f"#{templateid} · {PRODUCT_LABELS.get(product, product)} · {validation.excerpt(text, LABEL_LENGTH)}"
    return f"{product}:{templateid}", f"{label} ({variables})"


class SendFromTemplateForm(forms.Form):
    template = forms.ChoiceField(label=_("template"), choices=template_choices)
    mobile = forms.CharField(label=_("mobile"), max_length=64)
    variables = forms.CharField(
        label=_("variables"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 40}),
        help_text=_("One per line, in the order of the template's 【变量】 places."),
    )
    # One token per filled-in form: a double click sends one message, not two.
    once = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["once"].initial = secrets.token_urlsafe(16)

    def clean_template(self) -> tuple[str, int]:
        product, templateid = self.cleaned_data["template"].split(":")
        return product, int(templateid)

    def clean_variables(self) -> list[str]:
        return self.cleaned_data["variables"].splitlines()


def send_from_template(model_admin: SmsLogAdmin, request: HttpRequest) -> HttpResponse:
    """The page: pick an approved template, a number and the variables; send with ``send_sms``.

    Needs the right to add SMS logs. What the provider would refuse is shown on
    the form, and nothing is written; a send that fails is recorded on its row,
    which the page then opens.
    """
    if not model_admin.has_resend_permission(request):
        raise PermissionDenied
    form = SendFromTemplateForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        log = _send(request, form)
        if log is not None:
            _report(model_admin, request, log)
            return HttpResponseRedirect(reverse(f"{model_admin.admin_site.name}:huyi_sms_smslog_change", args=[log.pk]))
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": gettext("Send from a template"),
        "subtitle": None,
        "form": form,
        "has_view_permission": model_admin.has_view_permission(request),
    }
    return TemplateResponse(request, "admin/huyi_sms/smslog/send_template.html", context)


def _send(request: HttpRequest, form: SendFromTemplateForm) -> SmsLog | None:
    """Send what ``form`` says once; ``None``, with the reason on the form, when nothing was sent."""
    data = form.cleaned_data
    key = f"huyi_sms:admin-template-send:{data['once']}"
    if not cache.add(key, True, _SENT_FORM_SECONDS):
        form.add_error(None, gettext("This form has been sent already. Fill it in again to send another message."))
        return None
    product, templateid = data["template"]
    try:
        return sending.send_sms(
            data["mobile"], template=templateid, variables=data["variables"], product=product, fail_silently=True
        )
    except HuyiError as error:  # refused before anything was written or sent: the form may be sent again
        cache.delete(key)
        form.add_error(None, gettext("Not sent: %(error)s") % {"error": error})
        return None


def _report(model_admin: SmsLogAdmin, request: HttpRequest, log: SmsLog) -> None:
    if log.status in (SmsLog.Status.FAILED, SmsLog.Status.UNKNOWN):
        code = log.provider_code if log.provider_code is not None else ""
        text = gettext("Message #%(pk)s did not go through (%(status)s): %(code)s %(msg)s")
        values = {"pk": log.pk, "status": log.get_status_display(), "code": code, "msg": log.provider_msg}
        model_admin.message_user(request, text % values, messages.WARNING)
    else:
        text = gettext("Message #%(pk)s sent from template #%(templateid)s.")
        model_admin.message_user(request, text % {"pk": log.pk, "templateid": log.templateid}, messages.SUCCESS)
