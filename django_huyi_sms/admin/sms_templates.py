"""Message templates: their review status, and a page that submits a new one to the provider (AddTemplate)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .. import sending
from ..exceptions import HuyiError
from ..models import Product, SmsTemplate
from .base import OwnFiltersOnlyMixin, ReadableFormsMixin, ReadOnlyAdminMixin, ScaleAdminMixin
from .display import status_badge


class SubmitTemplateForm(forms.Form):
    product = forms.ChoiceField(label=_("product"), choices=Product.choices, initial=Product.SMS)
    content = forms.CharField(
        label=_("content"),
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text=_("Write each variable as 【变量】, e.g. 您的验证码是：【变量】。"),
    )


@admin.register(SmsTemplate)
class SmsTemplateAdmin(ReadableFormsMixin, OwnFiltersOnlyMixin, ScaleAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Templates are written by ``sending.add_template`` and by review pushes; "add" submits one for review."""

    list_display = ("templateid", "product", "content", "status_badge", "review_msg", "created_at", "reviewed_at")
    list_filter = ("status", "product")
    exact_search_fields = ("templateid",)
    search_help_text = _("A template id.")
    sortable_by = ("created_at",)
    fields = ("templateid", "product", "content", "status_badge", "review_msg", "created_at", "reviewed_at")
    readonly_fields = fields

    @admin.display(description=_("review status"), ordering="status")
    def status_badge(self, obj: SmsTemplate) -> str:
        return status_badge(obj)

    def get_search_results(self, request: HttpRequest, queryset: Any, search_term: str) -> tuple[Any, bool]:
        # templateid is a number: a search for anything else finds nothing instead of erroring.
        term = (search_term or "").strip()
        if not term:
            return queryset, False
        if not term.isdigit():
            return queryset.none(), False
        return queryset.filter(templateid=int(term)), False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.add_{opts.model_name}")

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Submit a template to the provider; a refusal or an unreachable provider is shown on the form."""
        if not self.has_add_permission(request):
            return super().add_view(request, form_url, extra_context)  # answers 403 as the admin does
        form = SubmitTemplateForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                template = sending.add_template(form.cleaned_data["content"], product=form.cleaned_data["product"])
            except HuyiError as error:
                form.add_error(None, gettext("The provider did not accept the template: %(error)s") % {"error": error})
            else:
                self.message_user(
                    request,
                    gettext("Template submitted for review as #%(templateid)s.") % {"templateid": template.templateid},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse(f"{self.admin_site.name}:huyi_sms_smstemplate_changelist"))
        context = {
            **self.admin_site.each_context(request),
            **(extra_context or {}),
            "opts": self.opts,
            "title": _("Submit a template for review"),
            "subtitle": None,
            "form": form,
            "has_view_permission": self.has_view_permission(request),
        }
        return TemplateResponse(request, "admin/huyi_sms/smstemplate/submit.html", context)
